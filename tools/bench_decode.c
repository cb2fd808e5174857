/* bench_decode - prefill and decode speed of the decoder on a generated
 * model with E2B-sized layers (random weights; tests/unit/gen_model.h).
 *
 *   build/bench/bench_decode [f16|bf16|f32] [layers] [prompt tokens] [decode tokens]
 *
 * Prints tokens per second for one prefill call and for one-token decode
 * steps, with the thread count of g4_threads(). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../tests/unit/gen_model.h"
#include "err.h"
#include "forward.h"
#include "model.h"
#include "par.h"
#include "qtypes.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
	const char *ty = argc > 1 ? argv[1] : "f16";
	int layers = argc > 2 ? atoi(argv[2]) : 5, np = argc > 3 ? atoi(argv[3]) : 128,
	    nd = argc > 4 ? atoi(argv[4]) : 32;
	gen_cfg c = GEN_DEFAULTS;
	c.n_layer = layers;
	c.pattern = "SSSSFSSSSFSSSSFSSSSFSSSSFSSSSFSSSSF" + (35 - (layers > 35 ? 35 : layers));
	c.n_embd = 1536;
	c.n_head = 8;
	c.nkv_swa = c.nkv_full = 1;
	c.hd_swa = 256;
	c.hd_full = 512;
	c.ff = 6144;
	c.ple = 256;
	c.n_vocab = 16384;
	c.window = 512;
	c.wtype = g4_type_from_name(ty);
	if (c.wtype != G4_F16 && c.wtype != G4_BF16 && c.wtype != G4_F32) {
		fprintf(stderr, "bench_decode: weight type f16, bf16 or f32\n");
		return 2;
	}
	char path[] = "/tmp/g4bench_decode.gguf";
	if (gen_write(path, &c) < 0) {
		fprintf(stderr, "bench_decode: writing %s failed\n", path);
		return 1;
	}
	g4_model *m = g4_model_load(path);
	if (!m)
		g4_die("bench_decode");
	int32_t *ids = malloc((size_t)(np + nd) * sizeof *ids);
	for (int i = 0; i < np + nd; i++)
		ids[i] = (int32_t)((i * 7919u + 13u) % (unsigned)c.n_vocab);
	g4_seq *s = g4_seq_new(m, G4_F16);
	g4_batch b = { .n = np, .ids = ids };
	double t0 = now(), c0 = (double)clock() / CLOCKS_PER_SEC;
	if (g4_forward(s, &b, NULL) < 0)
		g4_die("bench_decode");
	double t1 = now(), c1 = (double)clock() / CLOCKS_PER_SEC;
	for (int i = 0; i < nd; i++) {
		g4_batch one = { .n = 1, .ids = ids + np + i };
		if (g4_forward(s, &one, NULL) < 0)
			g4_die("bench_decode");
	}
	double t2 = now(), c2 = (double)clock() / CLOCKS_PER_SEC;
	printf("bench_decode: %s weights, %d layers of E2B size (H 1536, FFN 6144, PLE 256), vocab %d, %d threads\n",
	       ty, layers, c.n_vocab, g4_threads());
	printf("  prefill %d tokens: %.1f tok/s (%.2f s wall, %.2f s cpu)\n", np, np / (t1 - t0), t1 - t0, c1 - c0);
	printf("  decode %d tokens: %.1f tok/s (%.2f s wall, %.2f s cpu)\n", nd, nd / (t2 - t1), t2 - t1, c2 - c1);
	g4_seq_free(s);
	g4_model_free(m);
	free(ids);
	remove(path);
	return 0;
}
