/* score.h - log-probabilities of a document under the model (dataset
 * filtering: g4prefill --score).
 *
 * For a document of T positions with logits rows z[0..T-1] (row t: the
 * logits after position t), the score is L = sum over t = 1..T-1 of
 * log softmax(z[t-1])[id[t]] and the perplexity P = exp(-L / (T - 1)).
 * The log-softmax is computed in double.  Positions that are embedding rows
 * (id < 0) are not scored and do not count in T - 1.
 *
 *   g4_score sc; g4_score_init(&sc, per_token);
 *   for each chunk of rows: g4_score_rows(&sc, logits, V, ids, n, first);
 *   g4_score_json(&sc, doc, &buf); g4_score_free(&sc);
 */
#ifndef G4_SCORE_H
#define G4_SCORE_H
#include <stddef.h>
#include <stdint.h>

#include "json.h"

/* log softmax(z)[id] over n values, in double. */
double g4_logsoftmax_at(const float *z, int64_t n, int32_t id);

typedef struct {
	int per_token;
	int64_t n_pos;		/* positions seen (T) */
	int64_t n_scored;
	double logprob;
	double *tok;		/* per_token: n_scored values */
	size_t tok_cap;
	float *prev;		/* the last row of the previous chunk (V values) */
	int64_t V;
	int oom;
} g4_score;

void g4_score_init(g4_score *s, int per_token, int64_t n_vocab);
/* Rows logits[0..n) are those after the next n positions of the document,
 * whose ids are ids[0..n).  Call in order over the whole document. */
int g4_score_rows(g4_score *s, const float *logits, const int32_t *ids, int64_t n);
/* {"doc": i, "n_tokens": T, "logprob": L, "ppl": P[, "per_token": [...]]}\n
 * (ppl is null when nothing was scored). */
void g4_score_json(const g4_score *s, long doc, g4_buf *out);
void g4_score_free(g4_score *s);

#endif
