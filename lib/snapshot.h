/* snapshot.h - the KV snapshot (byte format: man/g4-formats.5).
 *
 * One zstd frame (content checksum on) per snapshot, so snapshots
 * concatenate into a snapshot stream like token streams do.  Inside: a
 * versioned header, the fingerprint of the model (g4_gguf_fingerprint), the
 * token history, the K/V rows of every layer that owns KV (sliding layers:
 * only the live window), and the last logits.  K/V rows are kept in the KV
 * type (f32, f16, bf16 or q8_0) exactly as the decoder stores them, so a
 * snapshot read back gives bitwise the same attention.  Written and read as a
 * stream (a pipe is fine); never built whole in memory.
 */
#ifndef G4_SNAPSHOT_H
#define G4_SNAPSHOT_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct {
	uint32_t layer;		/* model layer index that owns this KV */
	uint32_t n_head_kv, head_dim;	/* row = n_head_kv*head_dim values */
	uint64_t pos0;		/* position of the first stored row */
	uint64_t n_rows;	/* rows stored (sliding layers: the live window) */
	void *k, *v;		/* n_rows rows of g4_row_bytes(kv_type, n_head_kv*head_dim) bytes */
} g4_snap_layer;

typedef struct {
	uint8_t fingerprint[32];	/* of the model (g4_gguf_fingerprint) */
	uint32_t kv_type;	/* G4_F32, G4_F16, G4_BF16 or G4_Q8_0 (qtypes.h) */
	uint64_t n_tokens;	/* history length = next position */
	int32_t *tokens;	/* n_tokens ids; an embedding row is stored as -1 - modality */
	uint32_t n_layers;	/* layers that own KV */
	g4_snap_layer *layers;
	uint32_t n_vocab;	/* 0 if no logits are stored */
	float *logits;		/* n_vocab: the logits after the last token */
} g4_snap;

/* Writes one snapshot as one zstd frame (level: fast); -1 on a write error. */
int g4_snap_write(FILE *f, const g4_snap *s, const char *name);

/* What a reader expects of a snapshot: the facts of the model it is for.
 * Every count and size the header declares is checked against them (and
 * against the format's limits, and the frame's declared content size, and
 * for a regular file what the bytes left in it can hold) before anything is
 * allocated; the arrays then grow as their data arrive, so a lying header
 * in a short input costs nothing. */
typedef struct {
	uint32_t layer;		/* model layer index */
	uint32_t n_head_kv, head_dim;
	uint64_t window;	/* rows kept: min(n_tokens, window); UINT64_MAX: all (global layer) */
} g4_snap_kv;

typedef struct {
	const uint8_t *fingerprint;	/* NULL: any model */
	uint64_t max_tokens;		/* longest history (the model's context); 0: the format's limit */
	uint32_t n_vocab;		/* 0: not checked; else history ids below it, logits 0 or n_vocab */
	uint32_t n_layers;		/* with layers: the KV-owning layers, in table order */
	const g4_snap_kv *layers;	/* NULL: not checked */
} g4_snap_want;

/* Reads the next snapshot of a stream into *s (allocating its arrays).
 * Returns 1 with a snapshot, 0 at a clean end of input, -1 on error: not a
 * snapshot, truncated, corrupt (checksum), inconsistent sizes, or not what
 * want describes (want NULL: the format's checks only).  name is for
 * messages. */
int g4_snap_read_want(FILE *f, g4_snap *s, const g4_snap_want *want, const char *name);

/* The same with only a fingerprint (NULL: any model). */
int g4_snap_read(FILE *f, g4_snap *s, const uint8_t *fingerprint, const char *name);

/* The same against a loaded model (model.h): its fingerprint, context
 * length, vocabulary, and for every KV-owning layer its index, KV heads,
 * head dimension and (sliding layers) window. */
struct g4_model;
int g4_snap_read_model(FILE *f, g4_snap *s, const struct g4_model *m, const char *name);

void g4_snap_free(g4_snap *s);

#endif
