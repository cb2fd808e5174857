/* bench_vision - milliseconds per image through the Gemma 4 vision encoder
 * at 280 soft tokens (a 768x1024 picture -> 672x912, 2394 patches), for the
 * E2B/E4B shapes (D 768, 16 layers) and the 26B/31B shapes (D 1152, 27
 * layers), random F32 weights.
 *   bench_vision [-t N] [--tokens S] [--family e|large|both] [--layers L] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "par.h"
#include "vision.h"

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static void run(const char *name, g4_vision_hp hp, int S, int layers)
{
	int Ht, Wt;
	if (g4_vision_target_size(S, 768, 1024, &Ht, &Wt)) {
		fprintf(stderr, "%s\n", g4_errmsg());
		exit(1);
	}
	int gh = Ht / 16, gw = Wt / 16, n = gh * gw;
	int L = hp.L;
	if (layers > 0 && layers < L)
		hp.L = layers;
	g4_vision *m = g4_vision_random(&hp, 42);
	if (!m) {
		fprintf(stderr, "%s\n", g4_errmsg());
		exit(1);
	}
	float *pix = malloc(sizeof(float) * (size_t)n * 768), *out = malloc(sizeof(float) * (size_t)n / 9 * hp.Dt);
	for (size_t i = 0; i < (size_t)n * 768; i++)
		pix[i] = (float)((i * 2654435761u) >> 24 & 255) / 255.0f;
	double t0 = now();
	if (g4_vision_encode(m, pix, gh, gw, out, NULL)) {
		fprintf(stderr, "%s\n", g4_errmsg());
		exit(1);
	}
	double ms = now() - t0;
	double full = ms * L / hp.L;	/* layers dominate; scaled when --layers cut them */
	printf("vision %-6s D=%d L=%d tokens=%d patches=%d threads=%d: %.0f ms per image%s\n", name, hp.D, L,
	       n / 9, n, g4_threads(), full, hp.L != L ? " (extrapolated from fewer layers)" : "");
	g4_vision_close(m);
	free(pix);
	free(out);
}

int main(int argc, char **argv)
{
	int S = 280, layers = 0;
	const char *fam = "both";
	g4_set_threads(0);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-t") && i + 1 < argc)
			g4_set_threads(atoi(argv[++i]));
		else if (!strcmp(argv[i], "--tokens") && i + 1 < argc)
			S = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--family") && i + 1 < argc)
			fam = argv[++i];
		else if (!strcmp(argv[i], "--layers") && i + 1 < argc)
			layers = atoi(argv[++i]);
		else {
			fprintf(stderr, "usage: bench_vision [-t N] [--tokens S] [--family e|large|both] [--layers L]\n");
			return 2;
		}
	}
	g4_vision_hp e = {.D = 768, .F = 3072, .L = 16, .NH = 12, .Dh = 64, .Dt = 1536, .P = 10240,
			  .clipped = 1, .eps = 1e-6f};
	g4_vision_hp l = {.D = 1152, .F = 4304, .L = 27, .NH = 16, .Dh = 72, .Dt = 5376, .P = 10240,
			  .standardize = 1, .eps = 1e-6f};
	if (strcmp(fam, "large"))
		run("E2B", e, S, layers);
	if (strcmp(fam, "e"))
		run("31B", l, S, layers);
	return 0;
}
