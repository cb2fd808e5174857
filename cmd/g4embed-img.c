/* g4embed-img - Gemma 4 vision encoder: images in, token stream out.
 *
 *   g4embed-img -m mmproj.gguf [--tokens N] [--embeddings F] [--pixels F] IMAGE...
 *
 * For each image: the <|image> token, one embedding block (N rows of the
 * text width, modality image), the <image|> token.  See man/g4embed-img.1. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "fileio.h"
#include "image.h"
#include "par.h"
#include "stream.h"
#include "version.h"
#include "vision.h"


static const char *prog = "g4embed-img";

static void usage(FILE *f)
{
	fprintf(f,
		"usage: g4embed-img -m MMPROJ.gguf [--tokens N] [--embeddings FILE] [--pixels FILE]\n"
		"                   [-t THREADS] IMAGE...\n"
		"Encodes PNG/JPEG images with the Gemma 4 vision encoder and writes a token\n"
		"stream (<|image>, one embedding block, <image|> per image) to stdout.\n"
		"  -m FILE            mmproj GGUF (llama.cpp Gemma 4 vision names)\n"
		"  --tokens N         soft-token budget: 70, 140, 280 (default), 560, 1120\n"
		"  --embeddings FILE  also write the rows as float32 [rows][text width]\n"
		"  --pixels FILE      also write the preprocessed pixels, float32 [patches][768]\n"
		"  --vocab MODEL.gguf take the ids of <|image> and <image|> from this text model\n"
		"                     (default: the Gemma 4 ids 255999 and 258882)\n"
		"  --no-exif          ignore the EXIF orientation\n"
		"  -t N               threads (default: all cores)\n"
		"  --help, --version\n");
}

static void bad_usage(const char *fmt, const char *arg)
{
	fprintf(stderr, "%s: ", prog);
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n");
	usage(stderr);
	exit(2);
}

static int parse_int(const char *s, int *out)
{
	char *e;
	errno = 0;
	long v = strtol(s, &e, 10);
	if (errno || e == s || *e || v < -2147483647L || v > 2147483647L)
		return -1;
	*out = (int)v;
	return 0;
}

int main(int argc, char **argv)
{
	const char *model = NULL, *embd_path = NULL, *pix_path = NULL, *vocab = NULL;
	int32_t boi = G4_TOK_BOI, eoi = G4_TOK_EOI;
	int S = G4_VISION_DEFAULT_TOKENS, flags = 0;
	static char **files;	/* static: still reachable at any exit (LeakSanitizer) */
	files = calloc((size_t)argc, sizeof *files);
	int nfiles = 0;
	g4_set_threads(0);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
#define ARG() (i + 1 < argc ? argv[++i] : (bad_usage("%s needs an argument", a), NULL))
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(a, "--version")) {
			printf("%s (g4) %s\n", prog, G4_VERSION);
			return 0;
		} else if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
			model = ARG();
		} else if (!strcmp(a, "--tokens")) {
			const char *v = ARG();
			if (parse_int(v, &S) || !g4_vision_budget_ok(S))
				bad_usage("--tokens %s: must be 70, 140, 280, 560 or 1120", v);
		} else if (!strcmp(a, "--embeddings")) {
			embd_path = ARG();
		} else if (!strcmp(a, "--pixels")) {
			pix_path = ARG();
		} else if (!strcmp(a, "--vocab")) {
			vocab = ARG();
		} else if (!strcmp(a, "--no-exif")) {
			flags |= G4_IMG_NO_EXIF;
		} else if (!strcmp(a, "-t")) {
			const char *v = ARG();
			int t = g4_parse_threads(v);
			if (t < 0)
				bad_usage("-t %s: must be an integer from 1 to 1024", v);
			g4_set_threads(t);
		} else if (!strcmp(a, "--")) {
			while (++i < argc)
				files[nfiles++] = argv[i];
		} else if (a[0] == '-' && a[1]) {
			bad_usage("unknown option %s", a);
		} else {
			files[nfiles++] = argv[i];
		}
#undef ARG
	}
	if (!model)
		bad_usage("%s", "-m MMPROJ.gguf is required");
	if (!nfiles)
		bad_usage("%s", "no image given");
	if (isatty(1))
		g4_fatal(prog, "refusing to write a binary token stream to a terminal (redirect or pipe it)");

	if (vocab && g4_vision_marker_ids(vocab, &boi, &eoi))
		g4_die(prog);
	g4_vision *m = g4_vision_open(model);
	if (!m)
		g4_die(prog);
	const g4_vision_hp *hp = g4_vision_hparams(m);
	g4_out *eo = NULL, *po = NULL;
	if (embd_path && !(eo = g4_out_open(embd_path)))
		g4_die(prog);
	if (pix_path && !(po = g4_out_open(pix_path)))
		g4_die(prog);
	g4_sw *w = g4_sw_open(stdout);
	if (!w)
		g4_die(prog);
	for (int f = 0; f < nfiles; f++) {
		g4_image im;
		float *pix;
		int gh, gw;
		if (g4_image_load(files[f], flags, &im))
			g4_die(prog);
		if (g4_vision_pixels(&im, S, &pix, &gh, &gw)) {
			g4_err_ctx("%s: ", files[f]);
			g4_die(prog);
		}
		g4_image_free(&im);
		int N = gh * gw / 9;
		float *out = malloc(sizeof(float) * (size_t)N * hp->Dt);
		if (!out)
			g4_fatal(prog, "out of memory (%s)", files[f]);
		if (g4_vision_encode(m, pix, gh, gw, out, NULL)) {
			g4_err_ctx("%s: ", files[f]);
			g4_die(prog);
		}
		if (g4_sw_tokens(w, &boi, 1) ||
		    g4_sw_embd(w, G4_MOD_IMAGE, (uint32_t)N, (uint32_t)hp->Dt, G4_DT_F32, out) ||
		    g4_sw_tokens(w, &eoi, 1))
			g4_die(prog);
		if (eo && g4_write(g4_out_file(eo), out, sizeof(float) * (size_t)N * hp->Dt, g4_out_path(eo)))
			g4_die(prog);
		if (po && g4_write(g4_out_file(po), pix, sizeof(float) * (size_t)gh * gw * G4_VISION_PATCH_DIM,
				   g4_out_path(po)))
			g4_die(prog);
		free(out);
		free(pix);
	}
	if (g4_sw_close(w))
		g4_die(prog);
	if ((eo && g4_out_commit(eo)) || (po && g4_out_commit(po)))
		g4_die(prog);
	g4_vision_close(m);
	free(files);
	return 0;
}
