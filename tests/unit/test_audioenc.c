/* Tests of lib/audioenc.c (the conformer audio encoder) and
 * lib/kern_sgemm.c against the golden tiny audio models. */
#include "t.h"
#include "tutil.h"
#include <string.h>
#include "audio.h"
#include "audioenc.h"
#include "err.h"
#include "gguf.h"
#include "kern_sgemm.h"
#include "mel.h"
#include "par.h"

/* compares n floats with a golden file; prints the measured max |d| */
static void against(const char *what, const float *got, size_t n, const char *file, float tol)
{
	size_t nb = 0; float *ref = t_slurp(t_data(file), &nb);
	if (!ref) return;
	CHECK(nb == n * 4, "%s: golden has %zu floats, we have %zu", what, nb / 4, n);
	if (nb == n * 4) {
		size_t at = 0;
		float d = t_maxdiff(got, ref, n, &at);
		CHECK(d <= tol, "%s: max |d| %.3g at %zu (got %g want %g)", what, d, at, got[at], ref[at]);
		printf("  # %s: max |d| %.3g\n", what, d);
	}
	free(ref);
}

static g4_aenc *open_model(const char *name, g4_gguf **g)
{
	*g = g4_gguf_open(t_data(name));
	CHECK(*g != NULL, "%s: %s", name, g4_errmsg());
	if (!*g) return NULL;
	g4_aenc *e = g4_aenc_load(*g);
	CHECK(e != NULL, "%s: %s", name, g4_errmsg());
	return e;
}

static void test_sgemm(void)
{
	/* the dispatched kernel and the portable one agree bit for bit on
	 * every shape, including tails of k, m and n */
	int ks[] = { 1, 7, 8, 9, 31, 64, 100, 1152 };
	for (size_t q = 0; q < sizeof ks / sizeof *ks; q++) {
		int m = 7, n = 5, k = ks[q];
		float *x = malloc(sizeof(float) * m * k), *w = malloc(sizeof(float) * n * k);
		float a[35], b[35], c[35];
		unsigned s = 12345;
		for (int i = 0; i < m * k; i++) { s = s * 1103515245 + 12345; x[i] = (float)((s >> 8) % 2001) / 1000 - 1; }
		for (int i = 0; i < n * k; i++) { s = s * 1103515245 + 12345; w[i] = (float)((s >> 8) % 2001) / 1000 - 1; }
		g4_sgemm_nt_ref(m, n, k, x, k, w, k, b, n);
		int best = g4_sgemm_path(-1);
		for (int p = g4_sgemm_path(2); p >= 0; p--) {
			g4_sgemm_path(p);
			g4_sgemm_nt(m, n, k, x, k, w, k, a, n);
			g4_sgemm_nt_par(m, n, k, x, k, w, k, c, n);
			CHECK(!memcmp(a, b, sizeof a), "k=%d: path %d and portable differ", k, p);
			CHECK(!memcmp(a, c, sizeof a), "k=%d: path %d parallel differs", k, p);
		}
		g4_sgemm_path(best);
		double e = 0;
		for (int i = 0; i < m; i++) for (int j = 0; j < n; j++) {
			double r = 0;
			for (int l = 0; l < k; l++) r += (double)x[i * k + l] * w[j * k + l];
			if (fabs(r - a[i * n + j]) > e) e = fabs(r - a[i * n + j]);
		}
		CHECK(e < 1e-5 * k, "k=%d: error %g vs double", k, e);
		free(x); free(w);
	}
}

static void test_hparams(void)
{
	g4_gguf *g; g4_aenc *e = open_model("mmproj-tiny-audio.gguf", &g);
	if (e) {
		const g4_aenc_hp *hp = g4_aenc_hparams(e);
		CHECK(hp->hidden == 64 && hp->n_head == 4 && hp->head_dim == 16 && hp->n_layer == 2,
		      "H %d heads %d D %d layers %d", hp->hidden, hp->n_head, hp->head_dim, hp->n_layer);
		CHECK(hp->c0 == 128 && hp->c1 == 16 && hp->conv_k == 5 && hp->out_dim == 96 &&
		      hp->text_dim == 256 && hp->n_ff == 256, "c0 %d c1 %d k %d O %d Dt %d ff %d",
		      hp->c0, hp->c1, hp->conv_k, hp->out_dim, hp->text_dim, hp->n_ff);
	}
	CHECK(g4_aenc_tokens(0) == 0 && g4_aenc_tokens(1) == 1 && g4_aenc_tokens(4) == 1 &&
	      g4_aenc_tokens(5) == 2 && g4_aenc_tokens(129) == 33 && g4_aenc_tokens(2999) == 750, "tokens");
	g4_aenc_free(e); g4_gguf_close(g);
}

/* intermediates of aud1 from the golden log-mel */
static void test_intermediates(void)
{
	g4_gguf *g; g4_aenc *e = open_model("mmproj-tiny-audio.gguf", &g);
	size_t nb = 0; float *mel = t_slurp(t_data("audio/aud1.mel.f32"), &nb);
	if (e && mel) {
		size_t T = nb / (128 * 4), N = g4_aenc_tokens(T);
		CHECK(T == 129 && N == 33, "T %zu N %zu", T, N);
		float *s = malloc(N * 64 * 4), *l0 = malloc(N * 64 * 4), *tw = malloc(N * 96 * 4);
		float *out = malloc(N * 256 * 4);
		g4_aenc_trace tr = { .sscp = s, .layer = 0, .layer_out = l0, .tower = tw };
		CHECK(g4_aenc_encode(e, mel, T, out, &tr) == 0, "%s", g4_errmsg());
		against("aud1 sscp", s, N * 64, "audio/aud1.tiny-audio.sscp.f32", 1e-4);
		against("aud1 layer0_out", l0, N * 64, "audio/aud1.tiny-audio.layer0_out.f32", 1e-4);
		against("aud1 tower_out", tw, N * 96, "audio/aud1.tiny-audio.tower_out.f32", 1e-4);
		against("aud1 embd", out, N * 256, "audio/aud1.tiny-audio.embd.f32", 1e-4);
		free(s); free(l0); free(tw); free(out);
	}
	free(mel); g4_aenc_free(e); g4_gguf_close(g);
}

/* final embeddings of every clip and both models, from the golden log-mel */
static void test_embd_from_mel(void)
{
	const char *models[2] = { "mmproj-tiny-audio.gguf", "mmproj-tiny-audio-f16.gguf" };
	const char *tags[2] = { "tiny-audio", "tiny-audio-f16" };
	for (int m = 0; m < 2; m++) {
		g4_gguf *g; g4_aenc *e = open_model(models[m], &g);
		for (int c = 1; e && c <= 3; c++) {
			char mf[64], rf[64], what[64];
			snprintf(mf, sizeof mf, "audio/aud%d.mel.f32", c);
			snprintf(rf, sizeof rf, "audio/aud%d.%s.embd.f32", c, tags[m]);
			snprintf(what, sizeof what, "aud%d %s from mel", c, tags[m]);
			size_t nb = 0; float *mel = t_slurp(t_data(mf), &nb);
			if (!mel) continue;
			size_t T = nb / 512, N = g4_aenc_tokens(T);
			float *out = malloc(N * 256 * 4);
			CHECK(g4_aenc_encode(e, mel, T, out, NULL) == 0, "%s", g4_errmsg());
			against(what, out, N * 256, rf, 1e-4);
			free(out); free(mel);
		}
		g4_aenc_free(e); g4_gguf_close(g);
	}
}

/* end to end from the WAV files (aud2 from the golden 16 kHz waveform) */
static void test_embd_from_wave(void)
{
	g4_gguf *g; g4_aenc *e = open_model("mmproj-tiny-audio.gguf", &g);
	const char *wav[3] = { "audio/aud1-chirp-noise-16k-mono.wav", NULL, "audio/aud3-am-16k-stereo.wav" };
	for (int c = 0; e && c < 3; c++) {
		float *x = NULL, *rows, *mel; size_t n, nr, nf;
		if (wav[c]) {
			CHECK(g4_audio_load(t_data(wav[c]), G4_AUDIO_MAX_SAMPLES, &x, &n) == 0, "%s", g4_errmsg());
		} else {
			size_t nb = 0; x = t_slurp(t_data("audio/aud2.wave16k.f32"), &nb); n = nb / 4;
		}
		if (!x) continue;
		CHECK(g4_aenc_embed_wave(e, x, n, 0, &rows, &nr, &mel, &nf) == 0, "%s", g4_errmsg());
		char rf[64], what[64];
		snprintf(rf, sizeof rf, "audio/aud%d.tiny-audio.embd.f32", c + 1);
		snprintf(what, sizeof what, "aud%d end to end", c + 1);
		against(what, rows, nr * 256, rf, 1e-4);
		free(rows); free(mel); free(x);
	}
	g4_aenc_free(e); g4_gguf_close(g);
}

/* bitwise the same for 1 and 2 threads; split pieces encode independently */
static void test_threads_and_split(void)
{
	g4_gguf *g; g4_aenc *e = open_model("mmproj-tiny-audio-f16.gguf", &g);
	size_t nb = 0; float *mel = t_slurp(t_data("audio/aud1.mel.f32"), &nb);
	if (e && mel) {
		size_t T = nb / 512, N = g4_aenc_tokens(T);
		float *a = malloc(N * 256 * 4), *b = malloc(N * 256 * 4);
		g4_set_threads(1);
		g4_aenc_encode(e, mel, T, a, NULL);
		g4_set_threads(2);
		g4_aenc_encode(e, mel, T, b, NULL);
		g4_set_threads(0);
		CHECK(!memcmp(a, b, N * 256 * 4), "1 and 2 threads differ");
		/* and the same on a CPU without AVX: the portable kernel */
		int best = g4_sgemm_path(-1);
		g4_sgemm_path(0);
		g4_aenc_encode(e, mel, T, b, NULL);
		g4_sgemm_path(best);
		CHECK(!memcmp(a, b, N * 256 * 4), "portable kernel differs from path %d", best);
		/* a prefix of the mel gives the prefix of the rows (causal
		 * encoder), up to the last token that sees the cut */
		float *c = malloc(N * 256 * 4);
		CHECK(g4_aenc_encode(e, mel, 64, c, NULL) == 0, "%s", g4_errmsg());
		CHECK(t_maxdiff(a, c, 15 * 256, NULL) < 1e-5, "prefix is not causal: %g", t_maxdiff(a, c, 15 * 256, NULL));
		free(a); free(b); free(c);
	}
	free(mel);
	/* silence and a clip shorter than one frame */
	static float z[16000];
	float *rows, *melf; size_t nr, nf;
	if (e) {
		CHECK(g4_aenc_embed_wave(e, z, 160, 0, &rows, &nr, &melf, &nf) == 0, "%s", g4_errmsg());
		CHECK(nr == 0 && rows == NULL && nf == 0, "160 samples gave %zu rows", nr);
		CHECK(g4_aenc_embed_wave(e, z, 161, 0, &rows, &nr, &melf, &nf) == 0, "%s", g4_errmsg());
		CHECK(nr == 1 && nf == 1, "161 samples gave %zu rows %zu frames", nr, nf);
		free(rows); free(melf);
		CHECK(g4_aenc_embed_wave(e, z, 16000, 0, &rows, &nr, &melf, &nf) == 0, "%s", g4_errmsg());
		CHECK(nr == 25 && nf == 99, "1 s of silence: %zu rows", nr);
		int finite = 1;
		for (size_t i = 0; rows && i < nr * 256; i++) finite &= isfinite(rows[i]);
		CHECK(finite, "silence gives non-finite rows");
		for (size_t i = 0; melf && i < nf * 128; i++)
			if (melf[i] != melf[0]) { CHECK(0, "silence mel not constant"); break; }
		free(rows); free(melf);
	}
	g4_aenc_free(e); g4_gguf_close(g);
}

static void test_split(void)
{
	g4_gguf *g; g4_aenc *e = open_model("mmproj-tiny-audio.gguf", &g);
	if (!e) { g4_gguf_close(g); return; }
	/* 31 s of a quiet chirp: split gives 750 + 25 rows, the second
	 * piece equal to encoding its 1 s alone */
	size_t n = 31 * 16000;
	float *x = malloc(n * 4), *r1, *r3;
	size_t n1, n3;
	for (size_t i = 0; i < n; i++) x[i] = 0.1f * (float)sin(0.001 * i + 1e-7 * i * (double)i);
	CHECK(g4_aenc_embed_wave(e, x, n, 1, &r1, &n1, NULL, NULL) == 0, "%s", g4_errmsg());
	CHECK(g4_aenc_embed_wave(e, x + 480000, 16000, 0, &r3, &n3, NULL, NULL) == 0, "%s", g4_errmsg());
	CHECK(n1 == 775 && n3 == 25, "rows %zu %zu", n1, n3);
	if (n1 == 775 && n3 == 25)
		CHECK(!memcmp(r1 + 750 * 256, r3, 25 * 256 * 4), "second piece differs");
	free(x); free(r1); free(r3);
	g4_aenc_free(e); g4_gguf_close(g);
}

/* a damaged model is refused with a message naming what is wrong */
static void patch_and_load(const unsigned char *buf, size_t n, const char *from, const char *to,
			   const char *want)
{
	unsigned char *c = malloc(n);
	memcpy(c, buf, n);
	unsigned char *p = memmem(c, n, from, strlen(from));
	CHECK(p != NULL, "'%s' not in the file", from);
	if (p) memcpy(p, to, strlen(to));
	g4_gguf *g = g4_gguf_open_mem(c, n, "patched");
	if (g) {
		g4_aenc *e = g4_aenc_load(g);
		CHECK(e == NULL, "%s -> %s accepted", from, to);
		CHECK(strstr(g4_errmsg(), want) != NULL, "%s -> %s: message '%s'", from, to, g4_errmsg());
		g4_aenc_free(e);
		g4_gguf_close(g);
	}
	free(c);
}

static void test_bad_models(void)
{
	size_t n; unsigned char *b = t_slurp(t_data("mmproj-tiny-audio.gguf"), &n);
	if (!b) return;
	patch_and_load(b, n, "a.blk.1.ln2.weight", "a.blk.1.lnX.weight", "a.blk.1.ln2.weight");
	patch_and_load(b, n, "a.blk.0.conv_norm.weight", "a.blk.0.conv_norX.weight", "a.blk.0.conv_norm.weight");
	patch_and_load(b, n, "mm.a.input_projection", "mm.a.input_projectioX", "mm.a.input_projection");
	patch_and_load(b, n, "gemma4a", "gemma4v", "gemma4v");
	patch_and_load(b, n, "clip.audio.embedding_length", "clip.audio.embedding_lengtX", "embedding_length");
	/* the undamaged F16 file loads */
	g4_gguf *g = g4_gguf_open(t_data("mmproj-tiny-audio-f16.gguf"));
	if (g) {
		g4_aenc *e = g4_aenc_load(g);
		CHECK(e != NULL, "f16: %s", g4_errmsg());
		g4_aenc_free(e);
		g4_gguf_close(g);
	}
	free(b);
}

static void test_markers(void)
{
	g4_gguf *g = g4_gguf_open(t_data("micro-e2b-256-f32.gguf"));
	CHECK(g != NULL, "%s", g4_errmsg());
	int32_t b = 0, e = 0;
	if (g) {
		CHECK(g4_audio_marker_ids(g, &b, &e) == 0, "%s", g4_errmsg());
		CHECK(b == 383 && e == 387, "markers %d %d, want 383 387", b, e);
		g4_gguf_close(g);
	}
	g = g4_gguf_open(t_data("mmproj-tiny-audio.gguf"));
	if (g) {
		CHECK(g4_audio_marker_ids(g, &b, &e) == -1, "an mmproj has no vocabulary");
		g4_gguf_close(g);
	}
}

int main(void)
{
	RUN(test_sgemm);
	RUN(test_hparams);
	RUN(test_intermediates);
	RUN(test_embd_from_mel);
	RUN(test_embd_from_wave);
	RUN(test_threads_and_split);
	RUN(test_split);
	RUN(test_bad_models);
	RUN(test_markers);
	return t_done();
}
