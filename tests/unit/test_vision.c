/* Tests of the vision encoder (lib/vision_model.c) against the golden set:
 * the three tiny mmproj models (E2B/E4B style F32 and F16 with clamped
 * linears, 26B/31B style with standardisation), intermediates and final
 * soft-token embeddings within 1e-4; thread-count independence; bad files. */
#include <stdint.h>

#include "t.h"
#include "err.h"
#include "image.h"
#include "par.h"
#include "vision.h"

static float *load_pixels(const char *png, int *gh, int *gw)
{
	g4_image im;
	float *pix = NULL;
	if (g4_image_load(t_data(png), 0, &im)) {
		CHECK(0, "%s", g4_errmsg());
		return NULL;
	}
	if (g4_vision_pixels(&im, 70, &pix, gh, gw))
		CHECK(0, "%s", g4_errmsg());
	g4_image_free(&im);
	return pix;
}

static double maxdiff(const float *a, const char *ref, size_t n)
{
	size_t nb;
	float *b = t_slurp(t_data(ref), &nb);
	if (!b)
		return INFINITY;
	CHECK(nb == n * sizeof(float), "%s: %zu bytes, expected %zu", ref, nb, n * sizeof(float));
	double mx = 0;
	for (size_t i = 0; i < n && i < nb / 4; i++) {
		double d = fabs((double)a[i] - b[i]);
		if (!(d <= mx))
			mx = d;
	}
	free(b);
	return mx;
}

static void golden(const char *model, const char *png, const char *stem, int with_trace)
{
	char path[256];
	snprintf(path, sizeof path, "mmproj-tiny-vision-%s.gguf", model);
	g4_vision *m = g4_vision_open(t_data(path));
	CHECK(m != NULL, "%s: %s", model, g4_errmsg());
	if (!m)
		return;
	const g4_vision_hp *hp = g4_vision_hparams(m);
	int gh, gw;
	float *pix = load_pixels(png, &gh, &gw);
	if (!pix) {
		g4_vision_close(m);
		return;
	}
	int n = gh * gw, N = n / 9;
	float *out = calloc((size_t)N * hp->Dt, sizeof(float));
	float *li = calloc((size_t)n * hp->D, sizeof(float));
	float *po = calloc((size_t)N * hp->D, sizeof(float));
	float *st = calloc((size_t)N * hp->D, sizeof(float));
	g4_vision_trace tr = {li, po, st};
	int rc = g4_vision_encode(m, pix, gh, gw, out, &tr);
	CHECK(rc == 0, "%s: %s", model, g4_errmsg());
	snprintf(path, sizeof path, "vision/%s.tiny-vision-%s.embd.f32", stem, model);
	double d = maxdiff(out, path, (size_t)N * hp->Dt);
	CHECK(d <= 1e-4, "%s %s: embeddings max |diff| %g", model, stem, d);
	if (with_trace) {
		snprintf(path, sizeof path, "vision/%s.tiny-vision-%s.pooled.f32", stem, model);
		d = maxdiff(po, path, (size_t)N * hp->D);
		CHECK(d <= 1e-4, "%s: pooled max |diff| %g", model, d);
		if (hp->standardize) {
			snprintf(path, sizeof path, "vision/%s.tiny-vision-%s.standardized.f32", stem, model);
			d = maxdiff(st, path, (size_t)N * hp->D);
			CHECK(d <= 1e-4, "%s: standardized max |diff| %g", model, d);
		} else {
			snprintf(path, sizeof path, "vision/%s.tiny-vision-%s.layer_in.f32", stem, model);
			d = maxdiff(li, path, (size_t)n * hp->D);
			CHECK(d <= 1e-4, "%s: layer input max |diff| %g", model, d);
		}
	}
	free(out); free(li); free(po); free(st); free(pix);
	g4_vision_close(m);
}

static void test_hparams(void)
{
	g4_vision *e = g4_vision_open(t_data("mmproj-tiny-vision-e.gguf"));
	g4_vision *l = g4_vision_open(t_data("mmproj-tiny-vision-large.gguf"));
	CHECK(e && l, "%s", g4_errmsg());
	if (e) {
		const g4_vision_hp *h = g4_vision_hparams(e);
		CHECK(h->D == 64 && h->F == 128 && h->L == 2 && h->NH == 4 && h->Dh == 16 && h->Dt == 256 &&
		      h->P == 128 && h->clipped && !h->standardize, "vision-e hparams");
	}
	if (l) {
		const g4_vision_hp *h = g4_vision_hparams(l);
		CHECK(h->D == 96 && h->F == 192 && h->L == 2 && h->NH == 4 && h->Dh == 24 && h->Dt == 256 &&
		      !h->clipped && h->standardize, "vision-large hparams");
	}
	g4_vision_close(e);
	g4_vision_close(l);
}

static void test_golden_e(void) { golden("e", "vision/img1-gradient-64x48.png", "img1", 1); }
static void test_golden_e_f16(void)
{
	golden("e-f16", "vision/img1-gradient-64x48.png", "img1", 0);
	golden("e-f16", "vision/img3-gray-alpha-500x340.png", "img3", 0);
}
static void test_golden_large(void)
{
	golden("large", "vision/img1-gradient-64x48.png", "img1", 1);
	golden("large", "vision/img2-palette-200x120.png", "img2", 0);
}

/* Bitwise the same result with 1 and 3 threads. */
static void test_threads(void)
{
	g4_vision *m = g4_vision_open(t_data("mmproj-tiny-vision-e-f16.gguf"));
	if (!m) { CHECK(0, "%s", g4_errmsg()); return; }
	int gh, gw;
	float *pix = load_pixels("vision/img2-palette-200x120.png", &gh, &gw);
	int N = gh * gw / 9, Dt = g4_vision_hparams(m)->Dt;
	float *a = malloc(sizeof(float) * N * Dt), *b = malloc(sizeof(float) * N * Dt);
	g4_set_threads(1);
	CHECK(pix && g4_vision_encode(m, pix, gh, gw, a, NULL) == 0, "%s", g4_errmsg());
	g4_set_threads(3);
	CHECK(pix && g4_vision_encode(m, pix, gh, gw, b, NULL) == 0, "%s", g4_errmsg());
	g4_set_threads(0);
	CHECK(!memcmp(a, b, sizeof(float) * N * Dt), "results depend on the thread count");
	free(a); free(b); free(pix);
	g4_vision_close(m);
}

static void test_bad(void)
{
	g4_vision *m = g4_vision_open(t_data("vision/img1-gradient-64x48.png"));
	CHECK(m == NULL && g4_errmsg()[0], "a PNG opened as a model");
	g4_vision_close(m);
	m = g4_vision_open(t_data("vision/nonexistent.gguf"));
	CHECK(m == NULL, "a missing file opened");
	m = g4_vision_open(t_data("mmproj-tiny-vision-e.gguf"));
	if (!m) { CHECK(0, "%s", g4_errmsg()); return; }
	float pix[9 * 768] = {0}, out[256];
	CHECK(g4_vision_encode(m, pix, 3, 3, out, NULL) == 0, "3x3 grid: %s", g4_errmsg());
	CHECK(g4_vision_encode(m, pix, 2, 3, out, NULL) == -1, "grid not a multiple of 3 accepted");
	CHECK(g4_vision_encode(m, pix, 3, 129, out, NULL) == -1, "grid past the position table accepted");
	g4_vision_close(m);
}

static void test_video(void)
{
	int idx[32];
	CHECK(g4_video_sample(100, 32, idx) == 0 && idx[0] == 0 && idx[1] == 3 && idx[31] == 96,
	      "sampling 100 frames: %d %d %d", idx[0], idx[1], idx[31]);
	CHECK(g4_video_sample(32, 32, idx) == 0 && idx[5] == 5, "32 frames");
	CHECK(g4_video_sample(31, 32, idx) == -1, "31 frames accepted");
	char lab[16];
	g4_video_label(0, 24, lab);
	CHECK(!strcmp(lab, "00:00"), "%s", lab);
	g4_video_label(1500, 24, lab);
	CHECK(!strcmp(lab, "01:02"), "%s", lab);
	g4_video_label(59, 2, lab);
	CHECK(!strcmp(lab, "00:29"), "%s", lab);
}

int main(void)
{
	RUN(test_hparams);
	RUN(test_golden_e);
	RUN(test_golden_e_f16);
	RUN(test_golden_large);
	RUN(test_threads);
	RUN(test_bad);
	RUN(test_video);
	return t_done();
}
