/* g4decode - generate from a KV snapshot.
 *
 * Snapshot(s) on stdin or -s; for each, samples up to -n tokens, stopping at
 * end of sequence / end of turn, prints them (--ids: decimal ids), and with
 * -o writes the snapshot after generation (every generated token run
 * through the model, the last one included). */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "cli.h"
#include "err.h"
#include "fileio.h"
#include "forward.h"
#include "matmul.h"
#include "model.h"
#include "outparse.h"
#include "par.h"
#include "qtypes.h"
#include "sampler.h"
#include "snapshot.h"
#include "tokenizer.h"

#define PROG "g4decode"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: " PROG " -m MODEL.gguf [-s SNAP] [-o OUT] [-n MAX] [-b N] [--samples K]\n"
		"       [--ids | --jsonl | --raw] [-0] [--show-thinking]\n"
		"       [--temp T] [--top-k K] [--top-p P] [--min-p P] [--repeat-penalty R]\n"
		"       [--repeat-last-n N] [--freq-penalty F] [--presence-penalty F] [--seed S]\n"
		"       [--stop STR]... [--act f32|q8] [-t N] < SNAP\n"
		"Generates from each KV snapshot on stdin (or SNAP), in input order.\n"
		"  -m MODEL.gguf        the model the snapshot was made with\n"
		"  -s SNAP              read the snapshot(s) from SNAP instead of stdin\n"
		"  -o OUT               write the snapshot(s) after generation\n"
		"  -n MAX               generate at most MAX tokens (default 256)\n"
		"  -b N                 decode up to N sequences together (default: as many as\n"
		"                       fit in 2 GiB, at most 64)\n"
		"  --samples K          K continuations of each snapshot, seeds S, S+1, ...\n"
		"  --ids                print the generated ids as decimal text, a line per document\n"
		"  --jsonl              one JSON object per document: doc, text, ids, n_tokens, finish\n"
		"  -0                   end each document's output with NUL (no blank line between)\n"
		"  --raw                print the decoded text as is (no answer/thinking/tool-call split)\n"
		"  --show-thinking      print the thinking channel too\n"
		"  --temp T             temperature, 0 = greedy (default 0.8)\n"
		"  --top-k K            keep the K most likely tokens (default 40, 0 = off)\n"
		"  --top-p P            nucleus sampling (default 0.95, 1 = off)\n"
		"  --min-p P            drop tokens below P x the top probability (default 0.05)\n"
		"  --repeat-penalty R   penalise the last N tokens (default 1 = off)\n"
		"  --repeat-last-n N    window of the penalties (default 64, -1 = all)\n"
		"  --freq-penalty F     subtract F x count of each seen token (default 0)\n"
		"  --presence-penalty F subtract F from each seen token (default 0)\n"
		"  --seed S             random seed (default 0)\n"
		"  --stop STR           stop when the text contains STR (repeatable)\n"
		"  --act f32|q8         activations for quantised and BF16 weights: f32 (default)\n"
		"                       or 8-bit (bf16 for BF16 weights)\n"
		"  -t N                 threads\n"
		"  --help, --version\n");
}

/* --stop strings (static: reachable on every exit path) */
static char **stops;
static int n_stops;

int main(int argc, char **argv)
{
	const char *model = NULL, *snap_in = NULL, *out = NULL;
	int ids_out = 0, raw = 0, show_thinking = 0, jsonl = 0, nul = 0;
	long max_batch = 0, samples = 1;
	long max_new = 256;
	g4_sampler_params sp;
	g4_sampler_defaults(&sp);
	enum { O_RAW = 300, O_THINK, O_ACT, O_JSONL, O_SAMPLES };
	enum { O_IDS = 256, O_TEMP, O_TOPK, O_TOPP, O_MINP, O_REP, O_REPN, O_FREQ, O_PRES, O_SEED, O_STOP, O_HELP, O_VERSION };
	static const struct option lo[] = {
		{ "ids", no_argument, 0, O_IDS },
		{ "raw", no_argument, 0, O_RAW },
		{ "jsonl", no_argument, 0, O_JSONL },
		{ "samples", required_argument, 0, O_SAMPLES },
		{ "show-thinking", no_argument, 0, O_THINK },
		{ "act", required_argument, 0, O_ACT },
		{ "temp", required_argument, 0, O_TEMP },
		{ "top-k", required_argument, 0, O_TOPK },
		{ "top-p", required_argument, 0, O_TOPP },
		{ "min-p", required_argument, 0, O_MINP },
		{ "repeat-penalty", required_argument, 0, O_REP },
		{ "repeat-last-n", required_argument, 0, O_REPN },
		{ "freq-penalty", required_argument, 0, O_FREQ },
		{ "presence-penalty", required_argument, 0, O_PRES },
		{ "seed", required_argument, 0, O_SEED },
		{ "stop", required_argument, 0, O_STOP },
		{ "help", no_argument, 0, O_HELP },
		{ "version", no_argument, 0, O_VERSION },
		{ 0, 0, 0, 0 }
	};
	int c, k;
	double v;
	opterr = 0;	/* messages: g4_getopt_error */
	while ((c = getopt_long(argc, argv, ":m:s:o:n:t:b:0", lo, NULL)) != -1) {
		const char *bad = NULL;
		switch (c) {
		case 'm': model = optarg; break;
		case 's': snap_in = optarg; break;
		case 'o': out = optarg; break;
		case 'n':
			if (g4_parse_int(optarg, 0, 1000000000, &k) < 0)
				bad = "-n wants a token count";
			else
				max_new = k;
			break;
		case 't': {
			int n = g4_parse_threads(optarg);
			if (n < 0)
				bad = g4_errmsg();
			else
				g4_set_threads(n);
			break;
		}
		case 'b':
			if (g4_parse_int(optarg, 1, 4096, &k) < 0)
				bad = "-b wants a count of 1..4096";
			else
				max_batch = k;
			break;
		case '0': nul = 1; break;
		case O_SAMPLES:
			if (g4_parse_int(optarg, 1, 1000000, &k) < 0)
				bad = "--samples wants a count >= 1";
			else
				samples = k;
			break;
		case O_JSONL: jsonl = 1; break;
		case O_IDS: ids_out = 1; break;
		case O_RAW: raw = 1; break;
		case O_THINK: show_thinking = 1; break;
		case O_ACT:
			if (strcmp(optarg, "f32") && strcmp(optarg, "q8"))
				bad = "--act wants f32 or q8";
			else
				g4_matmul_set_act(strcmp(optarg, "q8") ? G4_ACT_F32 : G4_ACT_Q8);
			break;
		case O_TEMP:
			if (g4_parse_num_incl(optarg, 0, 1e6, &v) < 0) bad = "--temp wants a number >= 0";
			else sp.temp = (float)v;
			break;
		case O_TOPK:
			if (g4_parse_int(optarg, 0, 1000000000, &k) < 0) bad = "--top-k wants a count >= 0";
			else sp.top_k = k;
			break;
		case O_TOPP:
			if (g4_parse_num_incl(optarg, 0, 1, &v) < 0) bad = "--top-p wants a number in 0..1";
			else sp.top_p = (float)v;
			break;
		case O_MINP:
			if (g4_parse_num_incl(optarg, 0, 1, &v) < 0) bad = "--min-p wants a number in 0..1";
			else sp.min_p = (float)v;
			break;
		case O_REP:
			if (g4_parse_num_incl(optarg, 0, 1e6, &v) < 0 || v == 0) bad = "--repeat-penalty wants a number > 0";
			else sp.repeat_penalty = (float)v;
			break;
		case O_REPN:
			if (g4_parse_int(optarg, -1, 1000000000, &k) < 0) bad = "--repeat-last-n wants a count or -1";
			else sp.penalty_last_n = k;
			break;
		case O_FREQ:
			if (g4_parse_num_incl(optarg, -1e6, 1e6, &v) < 0) bad = "--freq-penalty wants a number";
			else sp.freq_penalty = (float)v;
			break;
		case O_PRES:
			if (g4_parse_num_incl(optarg, -1e6, 1e6, &v) < 0) bad = "--presence-penalty wants a number";
			else sp.presence_penalty = (float)v;
			break;
		case O_SEED:
			if (g4_parse_u64(optarg, &sp.seed) < 0) bad = "--seed wants a number >= 0";
			break;
		case O_STOP:
			stops = realloc(stops, (size_t)(n_stops + 1) * sizeof *stops);
			if (!stops)
				g4_fatal(PROG, "out of memory");
			stops[n_stops++] = optarg;
			break;
		case O_HELP: usage(stdout); return 0;
		case O_VERSION: g4_print_version(PROG); return 0;
		default: g4_getopt_error(PROG, usage, c, argv);
		}
		if (bad)
			g4_usage_error(PROG, usage, "%s, not '%s'", bad, optarg);
	}
	if (!model)
		g4_usage_error(PROG, usage, "-m MODEL.gguf is required");
	if (optind != argc)
		g4_usage_error(PROG, usage, "unexpected argument '%s' (the snapshot comes on stdin or with -s)",
			       argv[optind]);
	if (ids_out + jsonl + raw > 1)
		g4_usage_error(PROG, usage, "--ids, --jsonl and --raw exclude each other");
	for (int i = 0; i < n_stops; i++) {
		if (!*stops[i])
			g4_usage_error(PROG, usage, "--stop wants a non-empty string");
	}
	g4_threads();

	g4_model *m = g4_model_load(model);
	if (!m)
		g4_die(PROG);
	g4_matmul_prepare(m);
	g4_tokenizer *tok = NULL;
	if (!ids_out || n_stops) {
		tok = g4_tok_from_gguf(m->gguf);
		if (!tok) {
			g4_err_ctx("%s: text needs the model's vocabulary: ", model);
			g4_die(PROG);
		}
	}
	FILE *in = stdin;
	const char *in_name = "<stdin>";
	if (snap_in) {
		in = fopen(snap_in, "rb");
		if (!in) {
			g4_err_sys("%s", snap_in);
			g4_die(PROG);
		}
		in_name = snap_in;
	}
	g4_out *o = NULL;
	if (out && !(o = g4_out_open(out)))
		g4_die(PROG);
	g4_bd_opts bo;
	g4_bd_defaults(&bo);
	bo.sp = sp;
	bo.max_new = max_new;
	bo.samples = (int)samples;
	bo.max_batch = (int)max_batch;
	bo.format = jsonl ? G4_BD_JSONL : ids_out ? G4_BD_IDS : G4_BD_TEXT;
	bo.raw = raw;
	bo.show_thinking = show_thinking;
	bo.nul = nul;
	bo.stops = (const char *const *)stops;
	bo.n_stops = n_stops;
	if (g4_bd_run(m, tok, &bo, in, in_name, stdout, o ? g4_out_file(o) : NULL, o ? g4_out_path(o) : NULL) < 0)
		g4_die(PROG);
	if (o && g4_out_commit(o) < 0)
		g4_die(PROG);
	if (in != stdin)
		fclose(in);
	free(stops);
	g4_tok_free(tok);
	g4_model_free(m);
	return 0;
}
