/* bench_batch - batched decode and grouped prefill (tools/bench.sh,
 * section "batch").
 *
 *   build/bench/bench_batch MODEL.gguf [-t N] [-n STEPS] [-d DOCS] [-l LEN] [--act q8|f32]
 *
 * Decode: for batches of 1, 4 and 16 sequences (each after a 16-token
 * prompt), STEPS (default 32) steps of one token per sequence through
 * g4_forward_multi; prints the summed tokens/s of each and the ratio to
 * batch 1.  Prefill: DOCS (default 256) documents of LEN (default 50)
 * pseudo-random tokens, in groups as g4prefill makes them (up to 256
 * positions per pass) and one at a time; prints documents/s of both.
 * One line of key=value pairs:
 *   tg_b1 tg_b4 tg_b16 x4 x16 pf_docs_grouped pf_docs_single */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "forward.h"
#include "matmul.h"
#include "model.h"
#include "par.h"
#include "qtypes.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint32_t rnd(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

static void die(void)
{
	fprintf(stderr, "bench_batch: %s\n", g4_errmsg());
	exit(1);
}

/* total tokens/s of B sequences decoding `steps` tokens together */
static double decode_tps(const g4_model *m, int B, int steps)
{
	g4_seq *s[16];
	g4_batch b[16];
	int32_t prompt[16][16], tok[16];
	uint32_t x = 12345;
	for (int k = 0; k < B; k++) {
		if (!(s[k] = g4_seq_new(m, G4_F16)))
			die();
		for (int i = 0; i < 16; i++)
			prompt[k][i] = (int32_t)(rnd(&x) % (uint32_t)m->n_vocab);
		b[k] = (g4_batch){ .n = 16, .ids = prompt[k] };
	}
	if (g4_forward_multi(s, b, B, NULL) < 0)
		die();
	double t0 = now();
	for (int st = 0; st < steps; st++) {
		for (int k = 0; k < B; k++) {
			tok[k] = (int32_t)(rnd(&x) % (uint32_t)m->n_vocab);
			b[k] = (g4_batch){ .n = 1, .ids = &tok[k] };
		}
		if (g4_forward_multi(s, b, B, NULL) < 0)
			die();
	}
	double dt = now() - t0;
	for (int k = 0; k < B; k++)
		g4_seq_free(s[k]);
	return (double)B * steps / dt;
}

/* documents/s prefilling D documents of L tokens, grouped or alone */
static double prefill_dps(const g4_model *m, int D, int L, int grouped)
{
	int32_t *ids = malloc((size_t)D * L * sizeof *ids);
	g4_seq **s = calloc((size_t)D, sizeof *s);
	g4_batch *b = calloc((size_t)D, sizeof *b);
	if (!ids || !s || !b) {
		fprintf(stderr, "bench_batch: out of memory\n");
		exit(1);
	}
	uint32_t x = 777;
	for (int i = 0; i < D * L; i++)
		ids[i] = (int32_t)(rnd(&x) % (uint32_t)m->n_vocab);
	double t0 = now();
	const int per = grouped ? (256 + L - 1) / L : 1;
	for (int d = 0; d < D; d += per) {
		int n = D - d < per ? D - d : per;
		for (int k = 0; k < n; k++) {
			if (!(s[d + k] = g4_seq_new(m, G4_F16)))
				die();
			b[d + k] = (g4_batch){ .n = L, .ids = ids + (size_t)(d + k) * L };
		}
		if (g4_forward_multi(s + d, b + d, n, NULL) < 0)
			die();
		for (int k = 0; k < n; k++)
			g4_seq_free(s[d + k]);
	}
	double dt = now() - t0;
	free(ids);
	free(s);
	free(b);
	return D / dt;
}

int main(int argc, char **argv)
{
	const char *path = NULL;
	int steps = 32, docs = 256, len = 50, act = G4_ACT_Q8;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-t") && i + 1 < argc) {
			int t = g4_parse_threads(argv[++i]);
			if (t < 0)
				die();
			g4_set_threads(t);
		} else if (!strcmp(argv[i], "-n") && i + 1 < argc) {
			steps = atoi(argv[++i]);
		} else if (!strcmp(argv[i], "-d") && i + 1 < argc) {
			docs = atoi(argv[++i]);
		} else if (!strcmp(argv[i], "-l") && i + 1 < argc) {
			len = atoi(argv[++i]);
		} else if (!strcmp(argv[i], "--act") && i + 1 < argc) {
			act = strcmp(argv[++i], "f32") ? G4_ACT_Q8 : G4_ACT_F32;
		} else if (argv[i][0] != '-' && !path) {
			path = argv[i];
		} else {
			printf("usage: bench_batch MODEL.gguf [-t N] [-n STEPS] [-d DOCS] [-l LEN] [--act q8|f32]\n");
			return argv[i][0] == '-' && strcmp(argv[i], "-h") && strcmp(argv[i], "--help") ? 2 : 0;
		}
	}
	if (!path) {
		printf("usage: bench_batch MODEL.gguf [-t N] [-n STEPS] [-d DOCS] [-l LEN] [--act q8|f32]\n");
		return 0;	/* make bench's micro section runs every bench without arguments */
	}
	if (steps < 1 || docs < 1 || len < 1)
		return 2;
	g4_threads();
	g4_matmul_set_act(act);
	g4_model *m = g4_model_load(path);
	if (!m)
		die();
	g4_matmul_prepare(m);
	decode_tps(m, 1, 2);	/* warm the page cache */
	/* each figure as soon as it is measured (a slow machine shows progress) */
	const double t1 = decode_tps(m, 1, steps);
	printf("tg_b1=%.2f ", t1);
	fflush(stdout);
	const double t4 = decode_tps(m, 4, steps);
	printf("tg_b4=%.2f ", t4);
	fflush(stdout);
	const double t16 = decode_tps(m, 16, steps);
	printf("tg_b16=%.2f x4=%.2f x16=%.2f ", t16, t4 / t1, t16 / t1);
	fflush(stdout);
	const double pg = prefill_dps(m, docs, len, 1);
	printf("pf_docs_grouped=%.2f ", pg);
	fflush(stdout);
	const double ps = prefill_dps(m, docs, len, 0);
	printf("pf_docs_single=%.2f\n", ps);
	g4_model_free(m);
	return 0;
}
