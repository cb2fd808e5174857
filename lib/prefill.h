/* prefill.h - a stream of documents through the decoder (g4prefill's
 * engine).
 *
 * Every document of the token stream is its own sequence, from position 0
 * or continuing a prefix snapshot.  Short documents are prefilled together
 * (g4_forward_multi: one pass over the weights for the group); the results
 * are bitwise those of one at a time.  Outputs, all in input order and
 * written as documents finish (memory bounded by one group, not by the
 * stream): a snapshot stream, or one snapshot file per document (a name
 * pattern with one %d), the logits of every position or of the last one,
 * and score lines (score.h).
 *
 *   g4_pf_opts o = {0}; o.kv_type = G4_F16; o.snap_out = stdout; ...
 *   if (g4_pf_run(m, reader, &o) < 0) die(g4_errmsg());
 */
#ifndef G4_PREFILL_H
#define G4_PREFILL_H
#include <stdint.h>
#include <stdio.h>

#include "model.h"
#include "prompt.h"
#include "snapshot.h"
#include "stream.h"

typedef struct {
	uint32_t kv_type;
	const g4_snap *base;	/* prefix snapshot, or NULL */
	g4_media *md;		/* media for slots, or NULL */
	FILE *snap_out;		/* snapshot stream, or NULL */
	const char *snap_name;
	const char *pattern;	/* one snapshot file per document, or NULL */
	FILE *logits_out;	/* every position, or NULL */
	const char *logits_name;
	FILE *last_out;		/* the last position of each document, or NULL */
	const char *last_name;
	FILE *score_out;	/* --score lines, or NULL */
	int per_token;
	int group;		/* documents prefilled together at most (0: 64) */
	int64_t short_max;	/* positions of a document that may join a group (0: 64) */
	void (*progress)(void *ctx, int64_t done, int64_t total);
	void *progress_ctx;	/* gets the document number (long *) */
} g4_pf_opts;

/* 0 if pat has exactly one conversion %d (or %i, %u, with optional 0 flag
 * and width; %% is a literal %), else -1 with a message. */
int g4_pf_pattern_check(const char *pat);
/* The file name of document i (0-based) under a checked pattern. */
char *g4_pf_pattern_name(const char *pat, long i);

/* Runs every document of r; -1 with a message naming the document.  The
 * number of documents goes to *n_docs. */
int g4_pf_run(const g4_model *m, g4_sr *r, const g4_pf_opts *o, long *n_docs);

#endif
