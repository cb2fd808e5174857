/* sampler.h - choosing the next token from a row of logits.
 *
 * The filters run in llama.cpp's default order (common/sampling):
 *
 *   penalties -> top-k -> top-p -> min-p -> temperature -> draw
 *
 * with llama.cpp's semantics: the repetition penalty divides a positive
 * logit and multiplies a non-positive one, for each distinct token among
 * the last penalty_last_n of the history; then count*freq_penalty +
 * presence_penalty is subtracted.  top-p keeps the smallest prefix of the
 * tokens (by logit) whose softmax mass reaches top_p; min-p keeps the tokens
 * whose probability is at least min_p times the largest.  top-p and min-p
 * see the temperature-1 distribution (the temperature comes after them).
 * temp <= 0 is greedy: the largest penalised logit, ties to the lowest id.
 *
 * Draws come from the sampler's own generator (xoshiro256** seeded through
 * splitmix64), so a seed gives the same tokens on any machine and for any
 * thread count.  One uniform draw per non-greedy token.
 *
 *   g4_sampler_params p;
 *   g4_sampler_defaults(&p);  p.temp = 0.7f;  p.seed = 42;
 *   g4_sampler *s = g4_sampler_new(&p, n_vocab);
 *   int32_t id = g4_sampler_sample(s, logits, history, n_history);
 */
#ifndef G4_SAMPLER_H
#define G4_SAMPLER_H
#include <stddef.h>
#include <stdint.h>

typedef struct {
	float temp;		/* <= 0: greedy */
	int32_t top_k;		/* <= 0: off */
	float top_p;		/* >= 1: off */
	float min_p;		/* <= 0: off */
	float repeat_penalty;	/* 1: off */
	int32_t penalty_last_n;	/* history tokens the penalties look at; 0: off, -1: all */
	float freq_penalty;	/* 0: off */
	float presence_penalty;	/* 0: off */
	uint64_t seed;
} g4_sampler_params;

/* llama.cpp's defaults: temp 0.8, top_k 40, top_p 0.95, min_p 0.05,
 * repeat_penalty 1 (off), penalty_last_n 64, freq/presence 0, seed 0. */
void g4_sampler_defaults(g4_sampler_params *p);

typedef struct g4_sampler g4_sampler;

/* NULL (message set) for a parameter that is NaN or out of range. */
g4_sampler *g4_sampler_new(const g4_sampler_params *p, uint32_t n_vocab);
void g4_sampler_free(g4_sampler *s);

/* The next token for this row of n_vocab logits.  hist: the ids so far
 * (prompt and generated; negative entries, i.e. embedding rows, and ids
 * outside the vocabulary are ignored), used by the penalties.  Returns the
 * id, or -1 (message set) when no logit is finite.  The logits are not
 * modified; NaN counts as -inf. */
int32_t g4_sampler_sample(g4_sampler *s, const float *logits, const int32_t *hist, size_t n_hist);

/* The tokens the filters keep for this row and their probabilities at the
 * draw (after the temperature), most probable first (ties: lower id first).
 * ids and probs have room for n_vocab entries.  Returns how many; 0 when no
 * logit is finite.  Does not draw. */
size_t g4_sampler_candidates(g4_sampler *s, const float *logits, const int32_t *hist, size_t n_hist,
			     int32_t *ids, float *probs);

/* The generator, for anyone who needs reproducible draws. */
typedef struct {
	uint64_t s[4];
} g4_rng;
void g4_rng_seed(g4_rng *r, uint64_t seed);
uint64_t g4_rng_next(g4_rng *r);
double g4_rng_uniform(g4_rng *r);	/* in [0, 1), 53 random bits */

#endif
