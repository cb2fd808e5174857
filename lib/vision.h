/* vision.h - the Gemma 4 image path: preprocessing and the vision encoder.
 *
 * Semantics: ../shared/spec/gemma4-vision.md (transformers is the reference).
 *
 *   image --g4_vision_pixels--> [n][768] patches in [0,1], (row, col, channel)
 *         --g4_vision_encode--> [N][Dt] soft-token rows, N = n/9
 *
 * Preprocessing: the soft-token budget S (70, 140, 280, 560, 1120) sets a
 * pixel budget S*9*16*16; the picture is scaled to fill it with each side
 * floored to a multiple of 48 (g4_vision_target_size), resized with Pillow's
 * antialiased bicubic (image.h), divided by 255 and cut into 16x16 patches in
 * row-major order.  The patch at grid column x, row y has position (x, y).
 *
 * The encoder reads an mmproj GGUF with llama.cpp's Gemma 4 names (v.*, mm.*):
 * E2B/E4B style (clamped linears) and 26B/31B style (std_bias/std_scale) are
 * told apart by the tensors present.  F32 activations; weights of any type
 * g4_dequant_row reads (dequantised row by row as they are used).  Results
 * do not depend on the thread count.
 */
#ifndef G4_VISION_H
#define G4_VISION_H
#include <stdint.h>

#include "image.h"

#define G4_VISION_PATCH 16
#define G4_VISION_POOL 3
#define G4_VISION_PATCH_DIM (3 * 16 * 16)

/* Gemma 4 token ids around an image (begin, soft-token placeholder, end). */
#define G4_TOK_BOI 255999
#define G4_TOK_IMAGE 258880
#define G4_TOK_EOI 258882

#define G4_VISION_DEFAULT_TOKENS 280
#define G4_VIDEO_DEFAULT_TOKENS 70
#define G4_VIDEO_FRAMES 32

/* 1 if S is one of 70, 140, 280, 560, 1120. */
int g4_vision_budget_ok(int S);

/* transformers' get_aspect_ratio_preserving_size, in doubles: patch size p,
 * max_patches patches of p*p pixels, pooling k; H x W -> Ht x Wt.  -1 with a
 * message when both sides round to zero or an argument is out of range. */
int g4_vision_target_size_ex(int p, int max_patches, int k, int H, int W, int *Ht, int *Wt);
/* The production rule: p = 16, k = 3, max_patches = S*9. */
int g4_vision_target_size(int S, int H, int W, int *Ht, int *Wt);

/* Resizes im for budget S and cuts it into patches: *pix = malloc'd
 * [gh*gw][768] floats u8/255 in (row, col, channel) order, patch grid gh
 * rows x gw columns (multiples of 3). */
int g4_vision_pixels(const g4_image *im, int S, float **pix, int *gh, int *gw);
/* The same for an image already at its target size (sides multiple of 48). */
int g4_vision_patchify(const g4_image *im, float *pix);

typedef struct g4_vision g4_vision;

typedef struct {
	int D, F, L, NH, Dh;	/* width, MLP width, layers, heads, head dim */
	int Dt;			/* projector output = text width */
	int P;			/* position-table length per axis */
	int clipped;		/* E2B/E4B: clamped linears */
	int standardize;	/* 26B/31B: std_bias / std_scale */
	float eps;
} g4_vision_hp;

/* Opens an mmproj GGUF and checks every tensor the encoder needs (name,
 * shape, type).  The file stays mapped until g4_vision_close. */
g4_vision *g4_vision_open(const char *path);
void g4_vision_close(g4_vision *m);
const g4_vision_hp *g4_vision_hparams(const g4_vision *m);

/* Benchmarks: a model of these shapes with random F32 weights (all layers
 * share one layer's weights). */
g4_vision *g4_vision_random(const g4_vision_hp *hp, uint64_t seed);

/* Optional intermediates for tests: any pointer may be NULL.
 * layer_in [n][D]: patch + position embedding; pooled [N][D]: 3x3 mean x
 * sqrt(D); standardized [N][D]: (pooled - std_bias) * std_scale (26B/31B). */
typedef struct {
	float *layer_in, *pooled, *standardized;
} g4_vision_trace;

/* Encodes one image: pix [gh*gw][768] as from g4_vision_pixels, gh and gw
 * multiples of 3 below the position-table length; out [gh*gw/9][Dt]. */
int g4_vision_encode(const g4_vision *m, const float *pix, int gh, int gw, float *out,
		     g4_vision_trace *tr);

/* Video: the 32 frame indices floor(i*T/32) of T frames (T >= 32, else an
 * error) and the "MM:SS" label of frame index f at fps frames per second. */
int g4_video_sample(int T, int nf, int *idx);
void g4_video_label(int f, double fps, char out[16]);

#endif
