/* vision.c - Gemma 4 image preprocessing and video frame sampling (see
 * vision.h); the encoder is in vision_model.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "vision.h"

/* ---- preprocessing ----------------------------------------------------- */

int g4_vision_budget_ok(int S)
{
	return S == 70 || S == 140 || S == 280 || S == 560 || S == 1120;
}

int g4_vision_target_size_ex(int p, int max_patches, int k, int H, int W, int *Ht, int *Wt)
{
	if (p <= 0 || k <= 0 || max_patches <= 0 || H <= 0 || W <= 0)
		return g4_err("image size %dx%d: bad resize arguments", W, H);
	double target = (double)max_patches * p * p;
	double f = sqrt(target / ((double)H * W));
	double m = (double)k * p;
	double ht = floor(f * H / m) * m;
	double wt = floor(f * W / m) * m;
	if (ht == 0 && wt == 0)
		return g4_err("image size %dx%d cannot be resized to fit the budget", W, H);
	double lmax = (double)(max_patches / (k * k)) * m;
	if (ht == 0) {
		ht = m;
		wt = floor((double)W / H) * m;
		if (wt > lmax)
			wt = lmax;
	} else if (wt == 0) {
		wt = m;
		ht = floor((double)H / W) * m;
		if (ht > lmax)
			ht = lmax;
	}
	if (ht * wt > target || ht > G4_IMAGE_MAX_SIDE || wt > G4_IMAGE_MAX_SIDE)
		return g4_err("image size %dx%d: target %gx%g exceeds the budget", W, H, wt, ht);
	*Ht = (int)ht;
	*Wt = (int)wt;
	return 0;
}

int g4_vision_target_size(int S, int H, int W, int *Ht, int *Wt)
{
	if (!g4_vision_budget_ok(S))
		return g4_err("soft-token budget %d: must be 70, 140, 280, 560 or 1120", S);
	return g4_vision_target_size_ex(G4_VISION_PATCH, S * G4_VISION_POOL * G4_VISION_POOL,
					G4_VISION_POOL, H, W, Ht, Wt);
}

int g4_vision_patchify(const g4_image *im, float *pix)
{
	const int p = G4_VISION_PATCH;
	if (im->w % (p * G4_VISION_POOL) || im->h % (p * G4_VISION_POOL))
		return g4_err("image %dx%d: sides must be multiples of 48", im->w, im->h);
	int gw = im->w / p, gh = im->h / p;
	for (int py = 0; py < gh; py++)
		for (int px = 0; px < gw; px++) {
			float *v = pix + ((size_t)py * gw + px) * G4_VISION_PATCH_DIM;
			for (int r = 0; r < p; r++) {
				const uint8_t *s = im->rgb + ((size_t)(py * p + r) * im->w + px * p) * 3;
				for (int c = 0; c < 3 * p; c++)
					v[r * 3 * p + c] = (float)s[c] / 255.0f;
			}
		}
	return 0;
}

int g4_vision_pixels(const g4_image *im, int S, float **pix, int *gh, int *gw)
{
	int Ht, Wt;
	*pix = NULL;
	if (g4_vision_target_size(S, im->h, im->w, &Ht, &Wt))
		return -1;
	g4_image r;
	if (g4_image_resize(im, Wt, Ht, &r))
		return -1;
	int n = (Ht / G4_VISION_PATCH) * (Wt / G4_VISION_PATCH);
	float *p = malloc(sizeof(float) * (size_t)n * G4_VISION_PATCH_DIM);
	if (!p) {
		g4_image_free(&r);
		return g4_err("out of memory for %d patches", n);
	}
	g4_vision_patchify(&r, p);
	g4_image_free(&r);
	*pix = p;
	*gh = Ht / G4_VISION_PATCH;
	*gw = Wt / G4_VISION_PATCH;
	return 0;
}

/* ---- video ------------------------------------------------------------- */

int g4_video_sample(int T, int nf, int *idx)
{
	if (nf <= 0 || T < nf)
		return g4_err("video of %d frames: at least %d frames needed", T, nf);
	for (int i = 0; i < nf; i++)
		idx[i] = (int)(((int64_t)i * T) / nf);
	return 0;
}

void g4_video_label(int f, double fps, char out[16])
{
	double t = fps > 0 ? f / fps : 0;
	long s = (long)t;
	snprintf(out, 16, "%02ld:%02ld", s / 60 % 1000000, s % 60);
}

