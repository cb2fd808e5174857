/* bench_audio - real-time factor of g4embed-audio's work for 30 s of audio.
 *
 * With G4_MMPROJ=/path/mmproj.gguf: that model, as is.  Otherwise a random
 * model of the real E2B audio dimensions (H 1024, 8 heads, FFN 4096, SSCP
 * 128/32 channels, output 1536, text width 1536, F16 weights) is written to
 * a temporary file with 1 and with 2 conformer blocks, and the time of the
 * 12-block encoder is t1 + 11 (t2 - t1).  Prints one line per measurement. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "audio.h"
#include "audioenc.h"
#include "err.h"
#include "gguf.h"
#include "mel.h"
#include "par.h"
#include "qtypes.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double cpu(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double cpu_enc;	/* CPU seconds of the best encode */

static uint64_t rng = 88172645463325252ull;
static float urand(void)	/* uniform in [-1, 1) */
{
	rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
	return (float)((rng >> 11) * (1.0 / 9007199254740992.0)) * 2 - 1;
}

typedef struct { char name[96]; int nd; int64_t ne[4]; int type; float scale; float fill; } tdesc;

static int add(tdesc *t, int *n, const char *name, int type, float scale, float fill, int nd,
	       int64_t a, int64_t b, int64_t c, int64_t d)
{
	tdesc *x = &t[(*n)++];
	snprintf(x->name, sizeof x->name, "%s", name);
	x->nd = nd; x->ne[0] = a; x->ne[1] = b; x->ne[2] = c; x->ne[3] = d;
	x->type = type; x->scale = scale; x->fill = fill;
	return 0;
}

static int write_model(const char *path, int layers)
{
	const int H = 1024, FF = 4096, C0 = 128, C1 = 32, O = 1536, DT = 1536, D = 128;
	tdesc *t = calloc(4096, sizeof *t);
	int n = 0;
	char nm[96];
	add(t, &n, "a.conv1d.0.weight", G4_F32, 1.0f / 3, 0, 4, 3, 3, 1, C0);
	add(t, &n, "a.conv1d.0.norm.weight", G4_F32, 0, 1, 1, C0, 1, 1, 1);
	add(t, &n, "a.conv1d.1.weight", G4_F32, 1.0f / 34, 0, 4, 3, 3, C0, C1);
	add(t, &n, "a.conv1d.1.norm.weight", G4_F32, 0, 1, 1, C1, 1, 1, 1);
	add(t, &n, "a.input_projection.weight", G4_F32, 1.0f / 32, 0, 2, 32 * C1, H, 1, 1);
	const char *lins[] = { "ffn_up", "ffn_down", "attn_q", "attn_k", "attn_v", "attn_out",
			       "conv_pw1", "conv_pw2", "ffn_up_1", "ffn_down_1" };
	for (int L = 0; L < layers; L++) {
		const char *norms[] = { "ffn_norm", "ffn_post_norm", "attn_pre_norm", "attn_post_norm",
					"conv_norm", "norm_conv", "ffn_norm_1", "ffn_post_norm_1", "ln2" };
		for (int i = 0; i < 9; i++) {
			snprintf(nm, sizeof nm, "a.blk.%d.%s.weight", L, norms[i]);
			add(t, &n, nm, G4_F32, 0, 1, 1, H, 1, 1, 1);
		}
		for (int i = 0; i < 10; i++) {
			int64_t in = H, out = H;
			if (!strcmp(lins[i], "ffn_up") || !strcmp(lins[i], "ffn_up_1")) out = FF;
			if (!strcmp(lins[i], "ffn_down") || !strcmp(lins[i], "ffn_down_1")) in = FF;
			if (!strcmp(lins[i], "conv_pw1")) out = 2 * H;
			snprintf(nm, sizeof nm, "a.blk.%d.%s.weight", L, lins[i]);
			add(t, &n, nm, G4_F16, 1.0f / sqrtf((float)in), 0, 2, in, out, 1, 1);
			const char *sfx[4] = { "input_min", "input_max", "output_min", "output_max" };
			for (int s = 0; s < 4; s++) {
				snprintf(nm, sizeof nm, "a.blk.%d.%s.%s", L, lins[i], sfx[s]);
				add(t, &n, nm, G4_F32, 0, s % 2 ? 100.0f : -100.0f, 1, 1, 1, 1, 1);
			}
		}
		snprintf(nm, sizeof nm, "a.blk.%d.attn_k_rel.weight", L);
		add(t, &n, nm, G4_F16, 1.0f / 32, 0, 2, H, H, 1, 1);
		snprintf(nm, sizeof nm, "a.blk.%d.per_dim_scale.weight", L);
		add(t, &n, nm, G4_F32, 0, 0.6931472f, 1, D, 1, 1, 1);
		snprintf(nm, sizeof nm, "a.blk.%d.conv_dw.weight", L);
		add(t, &n, nm, G4_F32, 0.4f, 0, 2, 5, H, 1, 1);
	}
	add(t, &n, "a.pre_encode.out.weight", G4_F16, 1.0f / 32, 0, 2, H, O, 1, 1);
	add(t, &n, "a.pre_encode.out.bias", G4_F32, 0.1f, 0, 1, O, 1, 1, 1);
	add(t, &n, "mm.a.input_projection.weight", G4_F16, 1.0f / 39, 0, 2, O, DT, 1, 1);

	g4_ggufw *w = g4_ggufw_new();
	g4_ggufw_set_str(w, "general.architecture", "clip");
	g4_ggufw_set_str(w, "clip.audio.projector_type", "gemma4a");
	g4_ggufw_set_u32(w, "clip.audio.embedding_length", H);
	g4_ggufw_set_u32(w, "clip.audio.feed_forward_length", FF);
	g4_ggufw_set_u32(w, "clip.audio.block_count", layers);
	g4_ggufw_set_u32(w, "clip.audio.attention.head_count", 8);
	g4_ggufw_set_u32(w, "clip.audio.projection_dim", DT);
	g4_ggufw_set_u32(w, "clip.audio.num_mel_bins", 128);
	for (int i = 0; i < n; i++)
		if (g4_ggufw_add_tensor(w, t[i].name, t[i].type, t[i].nd, t[i].ne))
			return -1;
	FILE *f = fopen(path, "wb");
	if (!f || g4_ggufw_write_header(w, f))
		return -1;
	for (int i = 0; i < n; i++) {
		int64_t cnt = t[i].ne[0] * t[i].ne[1] * t[i].ne[2] * t[i].ne[3];
		size_t bytes = g4_row_bytes(t[i].type, cnt);
		void *buf = malloc(bytes);
		for (int64_t j = 0; j < cnt; j++) {
			float v = t[i].fill + t[i].scale * urand() * 1.7320508f;
			if (t[i].type == G4_F16) ((uint16_t *)buf)[j] = g4_f32_to_f16(v);
			else ((float *)buf)[j] = v;
		}
		if (g4_ggufw_write_data(w, f, buf, bytes))
			return -1;
		free(buf);
	}
	if (g4_ggufw_finish(w, f) || fclose(f))
		return -1;
	g4_ggufw_free(w);
	free(t);
	return 0;
}

/* seconds for encoding T frames with the model at path (best of reps) */
static double time_encode(const char *path, const float *mel, size_t T, int reps)
{
	g4_gguf *g = g4_gguf_open(path);
	g4_aenc *e = g ? g4_aenc_load(g) : NULL;
	if (!e) {
		fprintf(stderr, "bench_audio: %s\n", g4_errmsg());
		exit(1);
	}
	float *out = malloc(g4_aenc_tokens(T) * g4_aenc_hparams(e)->text_dim * sizeof *out);
	double best = 1e30;
	for (int r = 0; r < reps; r++) {
		double t0 = now(), c0 = cpu();
		if (g4_aenc_encode(e, mel, T, out, NULL)) {
			fprintf(stderr, "bench_audio: %s\n", g4_errmsg());
			exit(1);
		}
		double t = now() - t0;
		if (t < best) {
			best = t;
			cpu_enc = cpu() - c0;
		}
	}
	free(out);
	g4_aenc_free(e);
	g4_gguf_close(g);
	return best;
}

int main(void)
{
	g4_set_threads(0);
	size_t n = G4_AUDIO_MAX_SAMPLES;
	float *x = malloc(n * sizeof *x);
	for (size_t i = 0; i < n; i++)
		x[i] = 0.3f * (float)sin(2 * M_PI * (200 + 0.05 * i / 16.0) * i / 16000.0) + 0.01f * urand();
	size_t T = g4_mel_frames(n);
	float *mel = malloc(T * G4_MEL_BINS * sizeof *mel);
	double t0 = now();
	for (int r = 0; r < 5; r++)
		g4_mel(x, n, mel);
	double tmel = (now() - t0) / 5;
	printf("audio: log-mel of 30 s: %.1f ms (%d threads)\n", tmel * 1e3, g4_threads());

	const char *real = getenv("G4_MMPROJ");
	double tenc;
	if (real) {
		tenc = time_encode(real, mel, T, 2);
		printf("audio: encoder (%s), 30 s = %zu tokens: %.2f s\n", real, g4_aenc_tokens(T), tenc);
	} else {
		char p1[] = "/tmp/g4bench-audio1-XXXXXX", p2[] = "/tmp/g4bench-audio2-XXXXXX";
		int f1 = mkstemp(p1), f2 = mkstemp(p2);
		if (f1 < 0 || f2 < 0 || write_model(p1, 1) || write_model(p2, 2)) {
			fprintf(stderr, "bench_audio: cannot write the random models: %s\n", g4_errmsg());
			return 1;
		}
		close(f1); close(f2);
		double t1 = time_encode(p1, mel, T, 2), c1 = cpu_enc;
		double t2 = time_encode(p2, mel, T, 2), c2 = cpu_enc;
		unlink(p1); unlink(p2);
		tenc = t1 + 11 * (t2 - t1);
		printf("audio: E2B-size encoder, F16 weights, 30 s = %zu tokens: 1 block %.2f s, "
		       "2 blocks %.2f s -> 12 blocks %.2f s (CPU time %.2f s)\n", g4_aenc_tokens(T),
		       t1, t2, tenc, c1 + 11 * (c2 - c1));
	}
	printf("audio: real-time factor for 30 s (log-mel + encoder): %.3f\n", (tmel + tenc) / 30.0);
	free(x);
	free(mel);
	return 0;
}
