/* bench_sampler - time per token of g4_sampler_sample on a Gemma-sized
 * vocabulary (262144) for a few settings. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "sampler.h"

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(void)
{
	enum { V = 262144, ROWS = 8 };
	static float l[ROWS][V];
	int32_t hist[256];
	g4_rng r;
	g4_rng_seed(&r, 1);
	for (int k = 0; k < ROWS; k++)
		for (int i = 0; i < V; i++) {	/* a peaked, model-like row */
			double u = g4_rng_uniform(&r);
			l[k][i] = (float)(u * u * u * 30 - 12);
		}
	for (int i = 0; i < 256; i++)
		hist[i] = (int32_t)(g4_rng_next(&r) % V);
	struct { const char *name; float temp, top_p, min_p, rep; int top_k; } cfg[] = {
		{ "greedy", 0, 1, 0, 1, 0 },
		{ "defaults (k40 p.95 m.05)", 0.8f, 0.95f, 0.05f, 1, 40 },
		{ "defaults + repeat 1.1", 0.8f, 0.95f, 0.05f, 1.1f, 40 },
		{ "top-p .95 only", 0.8f, 0.95f, 0, 1, 0 },
		{ "min-p .05 only", 0.8f, 1, 0.05f, 1, 0 },
		{ "temperature only", 0.8f, 1, 0, 1, 0 },
	};
	for (size_t c = 0; c < sizeof cfg / sizeof *cfg; c++) {
		g4_sampler_params p;
		g4_sampler_defaults(&p);
		p.temp = cfg[c].temp;
		p.top_p = cfg[c].top_p;
		p.min_p = cfg[c].min_p;
		p.repeat_penalty = cfg[c].rep;
		p.top_k = cfg[c].top_k;
		g4_sampler *s = g4_sampler_new(&p, V);
		int n = 0;
		long sum = 0;
		double t0 = now();
		while (now() - t0 < 0.5)
			sum += g4_sampler_sample(s, l[n++ % ROWS], hist, 256);
		double dt = (now() - t0) / n;
		printf("sampler %-28s %8.3f ms/token (vocab %d)%s\n", cfg[c].name, dt * 1e3, V, sum < 0 ? " !" : "");
		g4_sampler_free(s);
	}
	return 0;
}
