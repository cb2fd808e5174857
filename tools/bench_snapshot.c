/* bench_snapshot - throughput of g4_snap_write / g4_snap_read on an f16
 * snapshot of 128 MiB of K/V (values like a decoder's: normalised, f16). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "qtypes.h"
#include "sampler.h"
#include "snapshot.h"

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec * 1e-9;
}

/* f32 -> f16, round to nearest even (normal range only: enough here) */
static uint16_t to_f16(float f)
{
	union { float f; uint32_t u; } v = { f };
	uint32_t s = (v.u >> 16) & 0x8000, e = (v.u >> 23) & 0xff, m = v.u & 0x7fffff;
	if (e < 113)
		return (uint16_t)s;
	uint32_t h = ((e - 112) << 10) | (m >> 13), rest = m & 0x1fff;
	if (rest > 0x1000 || (rest == 0x1000 && (h & 1)))
		h++;
	return (uint16_t)(s | h);
}

int main(void)
{
	enum { LAYERS = 4, ROWS = 4096, ROW = 2048 };
	g4_snap s = { 0 };
	s.kv_type = G4_F16;
	s.n_tokens = ROWS;
	s.tokens = calloc(ROWS, 4);
	s.n_layers = LAYERS;
	s.layers = calloc(LAYERS, sizeof *s.layers);
	g4_rng r;
	g4_rng_seed(&r, 1);
	for (int i = 0; i < LAYERS; i++) {
		g4_snap_layer *l = &s.layers[i];
		l->layer = i;
		l->n_head_kv = 8;
		l->head_dim = ROW / 8;
		l->n_rows = ROWS;
		uint16_t *k = malloc((size_t)ROWS * ROW * 2), *v = malloc((size_t)ROWS * ROW * 2);
		for (size_t j = 0; j < (size_t)ROWS * ROW; j++) {
			double u1 = g4_rng_uniform(&r) + 1e-12, u2 = g4_rng_uniform(&r);
			float g = (float)(sqrt(-2 * log(u1)) * cos(6.283185307 * u2));
			k[j] = to_f16(g);
			v[j] = to_f16(g * 0.5f);
		}
		l->k = k;
		l->v = v;
	}
	s.n_vocab = 262144;
	s.logits = calloc(s.n_vocab, 4);
	double mib = LAYERS * 2.0 * ROWS * ROW * 2 / (1 << 20);
	FILE *f = tmpfile();
	double t0 = now();
	if (g4_snap_write(f, &s, "bench") < 0)
		return 1;
	double t1 = now();
	long sz = ftell(f);
	rewind(f);
	g4_snap b;
	if (g4_snap_read(f, &b, s.fingerprint, "bench") != 1)
		return 1;
	double t2 = now();
	printf("snapshot f16 %.0f MiB of K/V -> %.0f MiB zstd: write %.0f MiB/s, read %.0f MiB/s\n", mib,
	       sz / 1048576.0, mib / (t1 - t0), mib / (t2 - t1));
	g4_snap_free(&b);
	g4_snap_free(&s);
	fclose(f);
	return 0;
}
