/* batch.h - batched generation over a snapshot stream (g4decode's engine).
 *
 * Reads snapshots one at a time from a stream, keeps up to max_batch
 * sequences in flight (each decoding step runs all of them through one
 * g4_forward_multi, so each weight is read once per step for all), and
 * writes every document's output in input order as soon as it and the
 * ones before it are done.  Memory is bounded by the batch, not by the
 * stream: at most a few batches of finished documents wait for an earlier
 * one.  Every output is bitwise that of decoding the document alone with
 * the same seed (sample j of a snapshot uses seed + j), for any batch size
 * and thread count.
 *
 *   g4_bd_opts o; g4_bd_defaults(&o); o.max_new = 64; o.format = G4_BD_JSONL;
 *   if (g4_bd_run(m, tok, &o, stdin, "<stdin>", stdout, NULL, NULL) < 0) die(...);
 */
#ifndef G4_BATCH_H
#define G4_BATCH_H
#include <stdint.h>
#include <stdio.h>

#include "model.h"
#include "sampler.h"
#include "tokenizer.h"

enum { G4_BD_TEXT = 0, G4_BD_IDS = 1, G4_BD_JSONL = 2 };

typedef struct {
	g4_sampler_params sp;
	long max_new;		/* tokens per document at most */
	int samples;		/* continuations per snapshot (seeds seed, seed+1, ...) */
	int max_batch;		/* sequences in flight; 0: as many as fit mem_budget */
	double mem_budget;	/* bytes for the sequences in flight (max_batch 0) */
	int format;		/* G4_BD_TEXT, G4_BD_IDS, G4_BD_JSONL */
	int raw;		/* text: no answer/thinking/tool-call split */
	int show_thinking;	/* text: print the thinking channel too */
	int nul;		/* text/ids: NUL after each document (no blank line) */
	const char *const *stops;	/* stop strings */
	int n_stops;
} g4_bd_opts;

void g4_bd_defaults(g4_bd_opts *o);

/* The batch size max_batch = 0 chooses for sequences like this snapshot's
 * (bytes of KV at n_tokens + max_new positions, logits, scratch). */
int g4_bd_auto_batch(const g4_model *m, uint32_t kv_type, uint64_t n_tokens, const g4_bd_opts *o);

/* Runs the whole stream `in`: output to out; with snap_out (may be NULL),
 * the snapshot of each sequence after generation, in the same order.
 * tok may be NULL only with format G4_BD_IDS and no stop strings.  -1 with
 * a message (output so far stays written). */
int g4_bd_run(const g4_model *m, const g4_tokenizer *tok, const g4_bd_opts *o, FILE *in,
	      const char *in_name, FILE *out, FILE *snap_out, const char *snap_name);

#endif
