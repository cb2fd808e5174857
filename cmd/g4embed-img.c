/* g4embed-img - Gemma 4 vision encoder: images in, token stream out.
 *
 *   g4embed-img -m mmproj.gguf [--tokens N] [--embeddings F] [--pixels F] IMAGE...
 *   g4embed-img -m mmproj.gguf --video --vocab MODEL.gguf FRAME...|DIR
 *
 * For each image: the <|image> token, one embedding block (N rows of the
 * text width, modality image), the <image|> token; video frames are each
 * preceded by their "MM:SS " time stamp.  See man/g4embed-img.1. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "err.h"
#include "fileio.h"
#include "image.h"
#include "par.h"
#include "stream.h"
#include "tokenizer.h"
#include "vision.h"


static const char *prog = "g4embed-img";

static void usage(FILE *f)
{
	fprintf(f,
		"usage: g4embed-img -m MMPROJ.gguf [--tokens N] [--embeddings FILE] [--pixels FILE]\n"
		"                   [--vocab MODEL.gguf] [-t THREADS] IMAGE...\n"
		"       g4embed-img -m MMPROJ.gguf --video --vocab MODEL.gguf [--frames N] [--fps F]\n"
		"                   [--tokens N] FRAME...|DIR\n"
		"Encodes PNG/JPEG images with the Gemma 4 vision encoder and writes a token\n"
		"stream (<|image>, one embedding block, <image|> per image) to stdout.\n"
		"  -m, --model FILE   mmproj GGUF (llama.cpp Gemma 4 vision names)\n"
		"  --tokens N         soft-token budget: 70, 140, 280 (default), 560, 1120\n"
		"  --embeddings FILE  also write the rows as float32 [rows][text width]\n"
		"  --pixels FILE      also write the preprocessed pixels, float32 [patches][768]\n"
		"  --vocab FILE       the text model's vocabulary (GGUF or tokenizer.json): ids of\n"
		"                     <|image> and <image|> (default: the Gemma 4 ids 255999 and\n"
		"                     258882) and the video time stamps\n"
		"  --no-exif          ignore the EXIF orientation\n"
		"  --video            the arguments are the frames of one video (a directory:\n"
		"                     its PNG/JPEG files by name); frames are sampled, labelled\n"
		"                     MM:SS and encoded with 70 tokens each unless --tokens\n"
		"  --frames N         frames to sample (default 32)\n"
		"  --fps F            frame rate for the time stamps (default 24)\n"
		"  -t N               threads (default: all cores)\n"
		"  -h, --help         this help;  --version  the version\n");
}

#define bad_usage(...) g4_usage_error(prog, usage, __VA_ARGS__)

static int has_image_ext(const char *n)
{
	const char *d = strrchr(n, '.');
	return d && (!strcasecmp(d, ".png") || !strcasecmp(d, ".jpg") || !strcasecmp(d, ".jpeg"));
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Video frames: files as given, a directory as its PNG/JPEG files by name. */
static char **frame_list(char **args, int nargs, int *n_out)
{
	char **v = NULL;
	size_t n = 0, cap = 0;
	for (int i = 0; i < nargs; i++) {
		struct stat st;
		size_t first = n;
		if (stat(args[i], &st) == 0 && S_ISDIR(st.st_mode)) {
			DIR *d = opendir(args[i]);
			if (!d) {
				g4_err_sys("cannot read directory %s", args[i]);
				return NULL;
			}
			struct dirent *e;
			while ((e = readdir(d))) {
				if (e->d_name[0] == '.' || !has_image_ext(e->d_name))
					continue;
				if (n == cap) {
					cap = cap ? 2 * cap : 64;
					v = realloc(v, cap * sizeof *v);
				}
				size_t l = strlen(args[i]) + strlen(e->d_name) + 2;
				if (!v || !(v[n] = malloc(l))) {
					closedir(d);
					g4_err("out of memory listing %s", args[i]);
					return NULL;
				}
				snprintf(v[n++], l, "%s/%s", args[i], e->d_name);
			}
			closedir(d);
			qsort(v + first, n - first, sizeof *v, cmp_str);
			if (n == first) {
				g4_err("%s: no PNG or JPEG files in the directory", args[i]);
				return NULL;
			}
		} else {
			if (n == cap) {
				cap = cap ? 2 * cap : 64;
				v = realloc(v, cap * sizeof *v);
			}
			if (!v || !(v[n++] = strdup(args[i]))) {
				g4_err("out of memory");
				return NULL;
			}
		}
	}
	*n_out = (int)n;
	return v;
}

int main(int argc, char **argv)
{
	const char *model = NULL, *embd_path = NULL, *pix_path = NULL, *vocab = NULL;
	int32_t boi = G4_TOK_BOI, eoi = G4_TOK_EOI;
	int S = 0, flags = 0, video = 0, n_frames = G4_VIDEO_FRAMES;
	double fps = 24.0;
	static char **files;	/* static: still reachable at any exit (LeakSanitizer) */
	files = calloc((size_t)argc, sizeof *files);
	static int *frame_idx;	/* static: reachable at exit (LeakSanitizer) */
	int nfiles = 0;
	g4_set_threads(0);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
#define ARG() (i + 1 < argc ? argv[++i] : (bad_usage("%s needs an argument", a), NULL))
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(a, "--version")) {
			g4_print_version(prog);
			return 0;
		} else if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
			model = ARG();
		} else if (!strcmp(a, "--tokens")) {
			const char *v = ARG();
			if (g4_parse_int(v, 0, 2147483647L, &S) || !g4_vision_budget_ok(S))
				bad_usage("--tokens %s: must be 70, 140, 280, 560 or 1120", v);
		} else if (!strcmp(a, "--embeddings")) {
			embd_path = ARG();
		} else if (!strcmp(a, "--pixels")) {
			pix_path = ARG();
		} else if (!strcmp(a, "--vocab")) {
			vocab = ARG();
		} else if (!strcmp(a, "--video")) {
			video = 1;
		} else if (!strcmp(a, "--frames")) {
			const char *v = ARG();
			if (g4_parse_int(v, 1, 100000, &n_frames))
				bad_usage("--frames %s: must be an integer from 1 to 100000", v);
		} else if (!strcmp(a, "--fps")) {
			const char *v = ARG();
			if (g4_parse_num(v, 0, 1e6, &fps))
				bad_usage("--fps %s: must be a positive number", v);
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
		bad_usage("-m MMPROJ.gguf is required");
	if (!nfiles)
		bad_usage("no image given");
	if (isatty(1))
		g4_fatal(prog, "refusing to write a binary token stream to a terminal (redirect or pipe it)");

	if (video && !vocab)
		bad_usage("--video needs --vocab MODEL.gguf to tokenize the time stamps");
	if (!S)
		S = video ? G4_VIDEO_DEFAULT_TOKENS : G4_VISION_DEFAULT_TOKENS;
	if (video) {
		flags |= G4_IMG_ALPHA_WHITE;
		int nf;
		static char **fr;	/* static: reachable at exit (LeakSanitizer) */
		fr = frame_list(files, nfiles, &nf);
		if (!fr)
			g4_die(prog);
		int *idx = malloc(sizeof(int) * (size_t)n_frames);
		if (!idx)
			g4_fatal(prog, "out of memory");
		if (g4_video_sample(nf, n_frames, idx))
			g4_die(prog);
		frame_idx = idx;
		free(files);	/* its entries are argv's */
		files = malloc(sizeof(char *) * (size_t)n_frames);
		if (!files)
			g4_fatal(prog, "out of memory");
		for (int i = 0; i < n_frames; i++)
			files[i] = fr[idx[i]];
		nfiles = n_frames;
	}
	g4_tokenizer *tok = NULL;
	if (vocab) {
		if (!(tok = g4_tok_load(vocab)))
			g4_die(prog);
		boi = g4_tok_id(tok, "<|image>", 8);
		eoi = g4_tok_id(tok, "<image|>", 8);
		if (boi < 0 || eoi < 0)
			g4_fatal(prog, "%s: the vocabulary has no %s token", vocab, boi < 0 ? "<|image>" : "<image|>");
	}
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
		int N = gh * gw / 9;
		if (isatty(2))
			fprintf(stderr, "%s: %d/%d %s: %dx%d -> %dx%d, %d tokens\n", prog, f + 1, nfiles,
				files[f], im.w, im.h, gw * 16, gh * 16, N);
		g4_image_free(&im);
		float *out = malloc(sizeof(float) * (size_t)N * hp->Dt);
		if (!out)
			g4_fatal(prog, "out of memory (%s)", files[f]);
		if (g4_vision_encode(m, pix, gh, gw, out, NULL)) {
			g4_err_ctx("%s: ", files[f]);
			g4_die(prog);
		}
		if (video) {
			/* "MM:SS <|image>...<image|>", frames joined by one space */
			char lab[24], txt[32];
			g4_video_label(frame_idx[f], fps, lab);
			snprintf(txt, sizeof txt, "%s%s ", f ? " " : "", lab);
			int32_t *ids = NULL;
			size_t ni = 0, cap = 0;
			if (g4_tok_encode(tok, txt, strlen(txt), 0, &ids, &ni, &cap) || g4_sw_tokens(w, ids, ni))
				g4_die(prog);
			free(ids);
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
	g4_tok_free(tok);
	return 0;
}
