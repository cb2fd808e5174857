/* bench_quant - GGUF -> GGUF quantisation speed on an E2B-shaped model.
 *
 *   bench_quant [LAYERS [VOCAB]]     (defaults: 35 layers, vocab 262144 = E2B)
 *
 * Writes a BF16 GGUF with the tensor shapes of Gemma 4 E2B (hidden 1536,
 * 8 heads, KV 1, head dims 256/512, FFN 6144 / 12288 on the KV-shared
 * layers, PLE 256) filled with pseudo-random values to $TMPDIR, then
 * quantises it to Q8_0 and Q4_K_M with g4_threads() threads, output counted
 * and discarded, and prints input MB/s.  The full model is ~10 GB of BF16: pass
 * fewer layers and a smaller vocabulary on a small machine (the per-tensor
 * rate is what matters).  Not part of the test suite. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "gguf.h"
#include "par.h"
#include "qmix.h"
#include "qtypes.h"
#include "requant.h"

static ssize_t count_write(void *c, const char *buf, size_t n)
{
	(void)buf;
	*(uint64_t *)c += n;
	return (ssize_t)n;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

struct tdef {
	char name[64];
	int64_t ne[4];
};

static int ntd;
static struct tdef td[64 * 24];

static void add(const char *name, int64_t a, int64_t b)
{
	snprintf(td[ntd].name, sizeof td[ntd].name, "%s", name);
	td[ntd].ne[0] = a;
	td[ntd].ne[1] = b;
	td[ntd].ne[2] = td[ntd].ne[3] = 1;
	ntd++;
}

int main(int argc, char **argv)
{
	int L = argc > 1 ? atoi(argv[1]) : 35;
	int64_t V = argc > 2 ? atoll(argv[2]) : 262144;
	if (L < 1 || L > 64 || V < 1) {
		fprintf(stderr, "usage: bench_quant [LAYERS (1..64) [VOCAB]]\n");
		return 2;
	}
	const int64_t H = 1536, P = 256, nh = 8;
	int shared = L * 20 / 35;
	char b[64];
	add("token_embd.weight", H, V);
	add("per_layer_token_embd.weight", (int64_t)L * P, V);
	add("per_layer_model_proj.weight", H, (int64_t)L * P);
	add("output_norm.weight", H, 1);
	for (int l = 0; l < L; l++) {
		int full = l % 5 == 4;
		int64_t hd = full ? 512 : 256, ff = l >= L - shared ? 12288 : 6144;
#define A(n, x, y) (snprintf(b, sizeof b, "blk.%d." n, l), add(b, x, y))
		A("attn_norm.weight", H, 1);
		A("attn_q.weight", H, nh * hd);
		A("attn_k.weight", H, hd);
		A("attn_v.weight", H, hd);
		A("attn_output.weight", nh * hd, H);
		A("ffn_gate.weight", H, ff);
		A("ffn_up.weight", H, ff);
		A("ffn_down.weight", ff, H);
		A("inp_gate.weight", H, P);
		A("proj.weight", P, H);
#undef A
	}
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	char path[4096];
	snprintf(path, sizeof path, "%s/bench-quant-%d.gguf", tmp, (int)getpid());
	g4_ggufw *w = g4_ggufw_new();
	g4_ggufw_set_str(w, "general.architecture", "gemma4");
	g4_ggufw_set_u32(w, "gemma4.block_count", (uint32_t)L);
	g4_ggufw_set_u32(w, "gemma4.attention.head_count", (uint32_t)nh);
	g4_ggufw_set_u32(w, "gemma4.attention.head_count_kv", 1);
	for (int i = 0; i < ntd; i++)
		g4_ggufw_add_tensor(w, td[i].name, G4_BF16, td[i].ne[1] > 1 ? 2 : 1, td[i].ne);
	FILE *f = fopen(path, "wb");
	if (!f || g4_ggufw_write_header(w, f))
		g4_die("bench_quant");
	uint64_t total = 0;
	uint32_t s = 12345;
	uint16_t *row = malloc(16384 * sizeof *row);
	for (int i = 0; i < ntd; i++) {
		int64_t n = td[i].ne[0], rows = td[i].ne[1];
		uint64_t nb = (uint64_t)n * (uint64_t)rows * 2;
		for (int64_t r = 0; r < rows; r++) {
			for (int64_t j = 0; j < n; j++) {
				s = s * 1664525u + 1013904223u;
				float v = ((float)(int32_t)(s >> 8) - 8388608.0f) / 8388608.0f * 0.05f;
				row[j] = g4_f32_to_bf16(v);
			}
			if (g4_ggufw_write_data_part(w, f, row, (uint64_t)n * 2, r == rows - 1))
				g4_die("bench_quant");
		}
		total += nb;
	}
	if (g4_ggufw_finish(w, f) || fclose(f))
		g4_die("bench_quant");
	g4_ggufw_free(w);
	free(row);
	g4_gguf *g = g4_gguf_open(path);
	if (!g)
		g4_die("bench_quant");
	printf("bench_quant: E2B-shaped BF16 model, %d layers, vocab %lld: %.1f MB, %d threads\n", L,
	       (long long)V, total / 1e6, g4_threads());
	static const int fts[] = { G4_FT_Q8_0, G4_FT_Q4_K_M };
	for (int k = 0; k < 2; k++) {
		g4_requant_opts o;
		g4_requant_opts_init(&o, fts[k]);
		uint64_t sz = 0;
		cookie_io_functions_t io = { .write = count_write };
		FILE *out = fopencookie(&sz, "w", io);
		double t0 = now();
		if (g4_requant(g, out, &o))
			g4_die("bench_quant");
		double t = now() - t0;
		fclose(out);
		printf("  %-7s %8.2f s  %8.1f MB/s (input)  output %.1f MB\n", g4_ftype_name(fts[k]), t,
		       total / 1e6 / t, sz / 1e6);
	}
	g4_gguf_close(g);
	unlink(path);
	return 0;
}
