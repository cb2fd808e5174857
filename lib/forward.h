/* forward.h - the Gemma 4 text decoder over one sequence (spec gemma4-text.md §2).
 *
 * A g4_seq is the state of one sequence: its KV cache (rows stored in the KV
 * type: f32, f16, bf16 or q8_0), the token history and the logits after the
 * last position.  g4_forward runs a batch of new positions (token ids or
 * embedding rows) through the model against that cache and appends them.
 * Attention always reads the stored (rounded) K/V, also within one call, so
 * splitting a sequence over several calls, or feeding it one token at a
 * time, gives bitwise the same logits as one call.
 *
 *   g4_seq *s = g4_seq_new(m, G4_F16);
 *   g4_batch b = { .n = n, .ids = ids };
 *   if (g4_forward(s, &b, logits_or_NULL) < 0) die(g4_errmsg());
 *   s->logits: the logits after the last position
 *   g4_seq_free(s);
 *
 * Many sequences = many g4_seq over the same (read-only) model.
 */
#ifndef G4_FORWARD_H
#define G4_FORWARD_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "model.h"
#include "snapshot.h"

/* One KV-owning layer's cache.  Full layers: the row of position p is row p.
 * Sliding layers: a ring; the row of position p is row p % cap, and the rows
 * of positions [n_pos - min(n_pos, cap), n_pos) are valid. */
typedef struct {
	uint8_t *k, *v;
	int64_t cap;		/* rows allocated */
	size_t row_bytes;	/* bytes of one row in the KV type */
	int width;		/* values per row (nkv * hd) */
	int ring;
} g4_kvl;

typedef struct g4_seq {
	const g4_model *m;
	uint32_t kv_type;
	int64_t n_pos;		/* positions so far (= next position) */
	int32_t *hist;		/* n_pos ids; embedding rows as -1 - modality */
	int64_t hist_cap;
	g4_kvl *kv;		/* m->n_layer_kv */
	float *logits;		/* n_vocab: after the last position */
	int have_logits;
	float *ws;		/* scratch, grown as needed */
	size_t ws_cap;
	/* optional: called after each micro-batch of a g4_forward call */
	void (*progress)(void *ctx, int64_t done, int64_t total);
	void *progress_ctx;
} g4_seq;

/* A batch of new positions.  rows (optional): rows[i] != NULL makes position i
 * an embedding row of n_embd values (entered unscaled, PLE from the pad row);
 * ids[i] is then what the history records (-1 - modality).  block
 * (optional): block[i] > 0 marks position i as part of image block number
 * block[i] (consecutive positions); on models with the bidirectional vision
 * rule (no PLE) such rows see the whole block on sliding layers. */
typedef struct {
	int64_t n;
	const int32_t *ids;
	const float *const *rows;
	const int32_t *block;
} g4_batch;

/* Checks that a KV type can serve this model (f32, f16, bf16; q8_0 only
 * where every KV row is a multiple of 32 values). */
int g4_kv_type_check(const g4_model *m, uint32_t kv_type);

g4_seq *g4_seq_new(const g4_model *m, uint32_t kv_type);
void g4_seq_free(g4_seq *s);

/* Runs b through the model.  logits: NULL, or room for b->n rows of n_vocab
 * (the logits after each position, soft-capped).  s->logits always ends
 * with the last row.  -1 with a message on a bad id or out of memory (the
 * sequence is then unusable). */
int g4_forward(g4_seq *s, const g4_batch *b, float *logits);

/* Runs batch b[k] through sequence seqs[k] for k < n, all together: the
 * rows of every sequence share each matmul (each weight is read once per
 * micro-batch for all of them), attention is per sequence.  Every output
 * (logits, KV, history) is bitwise that of g4_forward on each sequence
 * alone.  logits: NULL, or per sequence NULL or room for b[k].n rows.  The
 * sequences must be distinct and of one model.  -1 with a message: the
 * sequences are then unusable. */
int g4_forward_multi(g4_seq *const *seqs, const g4_batch *b, int n, float *const *logits);

/* Attention work (multiply-adds) above which a call with fewer (query, KV
 * head) pairs than threads splits each pair over keys; default 2^20.  For
 * tests and benchmarks: the results are the same bits either way. */
void g4_attn_split_min(double work);

/* The state as a snapshot (fully malloc'd copies; free with g4_snap_free),
 * and back.  from_snap checks every size against the model. */
int g4_seq_to_snap(const g4_seq *s, g4_snap *out);
g4_seq *g4_seq_from_snap(const g4_model *m, const g4_snap *snap);
/* Writes the state as one snapshot (snapshot.h) without copying the KV of
 * full-attention layers; -1 on a write error. */
int g4_seq_write_snap(const g4_seq *s, FILE *f, const char *name);

#endif
