/* g4embed-audio - audio files to a g4 token stream of Gemma 4 audio soft
 * tokens: <|audio>, one embedding block (modality audio), <audio|> per file.
 * See man/g4embed-audio.1. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audio.h"
#include "audioenc.h"
#include "cli.h"
#include "err.h"
#include "fileio.h"
#include "gguf.h"
#include "mel.h"
#include "par.h"
#include "stream.h"


static const char *prog = "g4embed-audio";

static void usage(FILE *f)
{
	fprintf(f,
		"usage: g4embed-audio -m MMPROJ.gguf [-t N] [-o FILE] [--split] [--vocab MODEL.gguf]\n"
		"                     [--mel FILE] [--embeddings FILE] AUDIO...\n"
		"Encodes audio files (WAV, FLAC, OGG, MP3, ...) with the Gemma 4 audio encoder and\n"
		"writes a token stream: <|audio>, one embedding block, <audio|> per file.\n"
		"  -m, --model FILE     mmproj GGUF with the audio tower (projector gemma4a)\n"
		"  -t, --threads N      threads (default: all cores)\n"
		"  -o, --output FILE    write the stream to FILE (default: stdout)\n"
		"      --split          encode audio longer than 30 s as 30 s pieces\n"
		"                       (default: keep the first 30 s, as transformers does)\n"
		"      --vocab FILE     take the <|audio> and <audio|> ids from this text\n"
		"                       model's vocabulary (default: Gemma 4's 256000, 258883)\n"
		"      --mel FILE       also write the log-mel features, float32 [frames][128]\n"
		"      --embeddings FILE  also write the embedding rows, float32 [rows][width]\n"
		"  -h, --help           this help;  --version  the version\n");
}

#define bad_usage(...) g4_usage_error(prog, usage, __VA_ARGS__)

int main(int argc, char **argv)
{
	const char *model = NULL, *out_path = NULL, *mel_path = NULL, *embd_path = NULL;
	const char *vocab = NULL;
	int split = 0;
	enum { O_SPLIT = 256, O_MEL, O_EMBD, O_VOCAB, O_VERSION };
	static const struct option opts[] = {
		{ "model", required_argument, 0, 'm' },
		{ "threads", required_argument, 0, 't' },
		{ "output", required_argument, 0, 'o' },
		{ "split", no_argument, 0, O_SPLIT },
		{ "mel", required_argument, 0, O_MEL },
		{ "embeddings", required_argument, 0, O_EMBD },
		{ "vocab", required_argument, 0, O_VOCAB },
		{ "help", no_argument, 0, 'h' },
		{ "version", no_argument, 0, O_VERSION },
		{ 0, 0, 0, 0 }
	};
	int c, nt;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":m:t:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'm': model = optarg; break;
		case 't':
			if ((nt = g4_parse_threads(optarg)) < 0)
				bad_usage("%s", g4_errmsg());
			g4_set_threads(nt);
			break;
		case 'o': out_path = optarg; break;
		case O_SPLIT: split = 1; break;
		case O_MEL: mel_path = optarg; break;
		case O_EMBD: embd_path = optarg; break;
		case O_VOCAB: vocab = optarg; break;
		case 'h': usage(stdout); return 0;
		case O_VERSION: g4_print_version(prog); return 0;
		default: g4_getopt_error(prog, usage, c, argv);
		}
	}
	if (!model)
		bad_usage("-m MMPROJ.gguf is required");
	if (optind >= argc)
		bad_usage("no audio files");
	g4_threads();

	int32_t boa = G4_AUDIO_BOA_ID, eoa = G4_AUDIO_EOA_ID;
	if (vocab) {
		g4_gguf *vg = g4_gguf_open(vocab);
		if (!vg || g4_audio_marker_ids(vg, &boa, &eoa))
			g4_die(prog);
		g4_gguf_close(vg);
	}
	g4_gguf *g = g4_gguf_open(model);
	if (!g)
		g4_die(prog);
	g4_aenc *e = g4_aenc_load(g);
	if (!e)
		g4_die(prog);
	uint32_t width = (uint32_t)g4_aenc_hparams(e)->text_dim;
	int tty = isatty(2);	/* a progress line per file */

	/* encode every file first, so a bad file leaves no output at all
	 * (not even a partial stream on stdout) */
	int nfile = argc - optind;
	struct clip { float *rows, *mel; size_t nr, nf; } *cl = calloc((size_t)nfile, sizeof *cl);
	if (!cl)
		g4_fatal(prog, "out of memory");
	for (int i = 0; i < nfile; i++) {
		const char *path = argv[optind + i];
		float *x;
		size_t n;
		if (g4_audio_load(path, split ? 0 : G4_AUDIO_MAX_SAMPLES, &x, &n))
			g4_die(prog);
		if (g4_aenc_embed_wave(e, x, n, split, &cl[i].rows, &cl[i].nr,
				       mel_path ? &cl[i].mel : NULL, &cl[i].nf)) {
			g4_err_ctx("%s: ", path);
			g4_die(prog);
		}
		free(x);
		if (tty && cl[i].nr)
			fprintf(stderr, "%s: %s: %.2f s, %zu tokens\n", prog, path,
				(double)n / G4_AUDIO_RATE, cl[i].nr);
		if (cl[i].nr == 0)
			fprintf(stderr, "%s: warning: %s: shorter than one 10 ms frame, no audio tokens\n",
				prog, path);
	}

	g4_out *out = g4_out_open(out_path);
	g4_out *mo = mel_path ? g4_out_open(mel_path) : NULL;
	g4_out *eo = embd_path ? g4_out_open(embd_path) : NULL;
	if (!out || (mel_path && !mo) || (embd_path && !eo))
		g4_die(prog);
	g4_sw *w = g4_sw_open(g4_out_file(out));
	if (!w)
		g4_die(prog);
	for (int i = 0; i < nfile; i++) {
		size_t nr = cl[i].nr, nf = cl[i].nf;
		if (g4_sw_tokens(w, &boa, 1) ||
		    (nr && g4_sw_embd(w, G4_MOD_AUDIO, (uint32_t)nr, width, G4_DT_F32, cl[i].rows)) ||
		    g4_sw_tokens(w, &eoa, 1))
			g4_die(prog);
		if (eo && g4_write(g4_out_file(eo), cl[i].rows, nr * width * sizeof(float), embd_path))
			g4_die(prog);
		if (mo && g4_write(g4_out_file(mo), cl[i].mel, nf * G4_MEL_BINS * sizeof(float), mel_path))
			g4_die(prog);
		free(cl[i].rows);
		free(cl[i].mel);
	}
	free(cl);
	if (g4_sw_close(w))
		g4_die(prog);
	if ((mo && g4_out_commit(mo)) || (eo && g4_out_commit(eo)) || g4_out_commit(out))
		g4_die(prog);
	g4_aenc_free(e);
	g4_gguf_close(g);
	return 0;
}
