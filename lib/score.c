/* score.c - document log-probabilities (see score.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "score.h"

double g4_logsoftmax_at(const float *z, int64_t n, int32_t id)
{
	double mx = -INFINITY;
	for (int64_t i = 0; i < n; i++)
		if (z[i] > mx)
			mx = z[i];
	double sum = 0.0;
	for (int64_t i = 0; i < n; i++)
		sum += exp((double)z[i] - mx);
	return (double)z[id] - mx - log(sum);
}

void g4_score_init(g4_score *s, int per_token, int64_t n_vocab)
{
	memset(s, 0, sizeof *s);
	s->per_token = per_token;
	s->V = n_vocab;
}

static int score_one(g4_score *s, const float *row, int32_t id)
{
	if (id < 0 || id >= s->V)
		return 0;	/* an embedding row: not scored */
	const double lp = g4_logsoftmax_at(row, s->V, id);
	s->logprob += lp;
	if (s->per_token) {
		if ((size_t)s->n_scored == s->tok_cap) {
			size_t cap = s->tok_cap ? 2 * s->tok_cap : 64;
			double *p = realloc(s->tok, cap * sizeof *p);
			if (!p)
				return g4_err("out of memory");
			s->tok = p;
			s->tok_cap = cap;
		}
		s->tok[s->n_scored] = lp;
	}
	s->n_scored++;
	return 0;
}

int g4_score_rows(g4_score *s, const float *logits, const int32_t *ids, int64_t n)
{
	if (n <= 0)
		return 0;
	if (s->n_pos > 0 && score_one(s, s->prev, ids[0]) < 0)
		return -1;
	for (int64_t t = 1; t < n; t++)
		if (score_one(s, logits + (t - 1) * s->V, ids[t]) < 0)
			return -1;
	if (!s->prev && !(s->prev = malloc((size_t)s->V * sizeof *s->prev)))
		return g4_err("out of memory");
	memcpy(s->prev, logits + (n - 1) * s->V, (size_t)s->V * sizeof *s->prev);
	s->n_pos += n;
	return 0;
}

void g4_score_json(const g4_score *s, long doc, g4_buf *out)
{
	char num[128];
	snprintf(num, sizeof num, "{\"doc\": %ld, \"n_tokens\": %lld, \"logprob\": %.17g, \"ppl\": ", doc,
		 (long long)s->n_pos, s->logprob);
	g4_buf_puts(out, num);
	if (s->n_scored)
		snprintf(num, sizeof num, "%.17g", exp(-s->logprob / (double)s->n_scored));
	else
		snprintf(num, sizeof num, "null");
	g4_buf_puts(out, num);
	if (s->per_token) {
		g4_buf_puts(out, ", \"per_token\": [");
		for (int64_t i = 0; i < s->n_scored; i++) {
			snprintf(num, sizeof num, i ? ", %.9g" : "%.9g", s->tok[i]);
			g4_buf_puts(out, num);
		}
		g4_buf_putc(out, ']');
	}
	g4_buf_puts(out, "}\n");
}

void g4_score_free(g4_score *s)
{
	free(s->tok);
	free(s->prev);
	memset(s, 0, sizeof *s);
}
