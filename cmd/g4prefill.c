/* g4prefill - run the Gemma 4 text decoder over a prompt, write a KV snapshot.
 *
 * Token stream (or decimal ids) on stdin, one snapshot per document on
 * stdout (or -o).  -s extends an existing snapshot; --media fills the media
 * slots of the prompt with the embedding blocks of other streams. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "err.h"
#include "fileio.h"
#include "forward.h"
#include "matmul.h"
#include "model.h"
#include "par.h"
#include "prefill.h"
#include "prompt.h"
#include "qtypes.h"
#include "snapshot.h"
#include "stream.h"

#define PROG "g4prefill"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: " PROG " -m MODEL.gguf [-s SNAP] [-o OUT] [--kv-type f16|f32|bf16|q8_0]\n"
		"       [--logits FILE] [--logits-last FILE] [--media STREAM]... [--score] [--per-token]\n"
		"       [--act f32|q8] [-t N] < PROMPT\n"
		"Runs the model over every document of the token stream (or every line of\n"
		"decimal ids) on stdin and writes one KV snapshot per document, in order,\n"
		"to stdout or OUT.\n"
		"  -m MODEL.gguf        Gemma 4 model\n"
		"  -s SNAP              extend this snapshot (prompt caching)\n"
		"  -o OUT               write the snapshot(s) here (default stdout); a name with\n"
		"                       one %%d (e.g. 'dir/doc-%%06d.kv.zst') writes one file per\n"
		"                       document, numbered from 0\n"
		"  --kv-type T          KV cache type: f16 (default), f32, bf16, q8_0\n"
		"  --logits FILE        float32 logits of every position, [n][n_vocab]\n"
		"  --logits-last FILE   float32 logits of the last position of each document\n"
		"  --media STREAM       a stream whose embedding blocks fill the media slots, in order\n"
		"  --score              print {\"doc\", \"n_tokens\", \"logprob\", \"ppl\"} per document\n"
		"                       on stdout (no snapshot unless -o)\n"
		"  --per-token          with --score: the log-probability of every token too\n"
		"  --act f32|q8         activations for quantised and BF16 weights: f32 (default,\n"
		"                       exact) or 8-bit (bf16 for BF16 weights; llama.cpp's CPU\n"
		"                       numerics)\n"
		"  -t N                 threads\n"
		"  --help, --version\n");
}

/* A progress line on a terminal for prompts of several micro-batches. */
static void progress(void *ctx, int64_t done, int64_t total)
{
	long doc = *(const long *)ctx;
	if (total <= 256)
		return;
	if (done < total)
		fprintf(stderr, "\r" PROG ": document %ld: %lld / %lld positions", doc, (long long)done,
			(long long)total);
	else
		fprintf(stderr, "\r\033[K");
	fflush(stderr);
}

/* --media files (static: reachable on every exit path) */
static char **media_files;
static int n_media;

int main(int argc, char **argv)
{
	const char *model = NULL, *snap_in = NULL, *out = NULL, *lg_all = NULL, *lg_last = NULL;
	const char *kvt_name = NULL;
	enum { O_KV = 256, O_LOGITS, O_LAST, O_MEDIA, O_ACT, O_HELP, O_VERSION, O_SCORE, O_PERTOK };
	int score = 0, per_token = 0;
	static const struct option lo[] = {
		{ "kv-type", required_argument, 0, O_KV },
		{ "logits", required_argument, 0, O_LOGITS },
		{ "logits-last", required_argument, 0, O_LAST },
		{ "media", required_argument, 0, O_MEDIA },
		{ "act", required_argument, 0, O_ACT },
		{ "score", no_argument, 0, O_SCORE },
		{ "per-token", no_argument, 0, O_PERTOK },
		{ "help", no_argument, 0, O_HELP },
		{ "version", no_argument, 0, O_VERSION },
		{ 0, 0, 0, 0 }
	};
	int c;
	opterr = 0;	/* messages: g4_getopt_error */
	while ((c = getopt_long(argc, argv, ":m:s:o:t:", lo, NULL)) != -1) {
		switch (c) {
		case 'm': model = optarg; break;
		case 's': snap_in = optarg; break;
		case 'o': out = optarg; break;
		case 't': {
			int n = g4_parse_threads(optarg);
			if (n < 0)
				g4_usage_error(PROG, usage, "%s", g4_errmsg());
			g4_set_threads(n);
			break;
		}
		case O_KV: kvt_name = optarg; break;
		case O_LOGITS: lg_all = optarg; break;
		case O_LAST: lg_last = optarg; break;
		case O_MEDIA:
			media_files = realloc(media_files, (size_t)(n_media + 1) * sizeof *media_files);
			if (!media_files)
				g4_fatal(PROG, "out of memory");
			media_files[n_media++] = optarg;
			break;
		case O_ACT:
			if (strcmp(optarg, "f32") && strcmp(optarg, "q8"))
				g4_usage_error(PROG, usage, "--act wants f32 or q8, not '%s'", optarg);
			g4_matmul_set_act(strcmp(optarg, "q8") ? G4_ACT_F32 : G4_ACT_Q8);
			break;
		case O_SCORE: score = 1; break;
		case O_PERTOK: score = per_token = 1; break;
		case O_HELP: usage(stdout); return 0;
		case O_VERSION: g4_print_version(PROG); return 0;
		default: g4_getopt_error(PROG, usage, c, argv);
		}
	}
	if (!model)
		g4_usage_error(PROG, usage, "-m MODEL.gguf is required");
	if (optind != argc)
		g4_usage_error(PROG, usage, "unexpected argument '%s' (the prompt comes on stdin)", argv[optind]);
	const int pattern = out && strchr(out, '%');
	if (pattern && g4_pf_pattern_check(out) < 0)
		g4_usage_error(PROG, usage, "%s", g4_errmsg());
	int kvt = G4_F16;
	if (kvt_name) {
		kvt = g4_type_from_name(kvt_name);
		if (kvt != G4_F16 && kvt != G4_F32 && kvt != G4_BF16 && kvt != G4_Q8_0)
			g4_usage_error(PROG, usage, "--kv-type wants f16, f32, bf16 or q8_0, not '%s'", kvt_name);
	}
	g4_threads();

	g4_model *m = g4_model_load(model);
	if (!m)
		g4_die(PROG);
	g4_matmul_prepare(m);
	g4_snap base;
	int have_base = 0;
	if (snap_in) {
		FILE *f = fopen(snap_in, "rb");
		if (!f) {
			g4_err_sys("%s", snap_in);
			g4_die(PROG);
		}
		int rc = g4_snap_read_model(f, &base, m, snap_in);
		fclose(f);
		if (rc < 0)
			g4_die(PROG);
		if (rc == 0)
			g4_fatal(PROG, "%s holds no snapshot", snap_in);
		if (kvt_name && (uint32_t)kvt != base.kv_type)
			g4_fatal(PROG, "--kv-type %s differs from the snapshot's %s", kvt_name,
				 g4_type_name(base.kv_type));
		kvt = (int)base.kv_type;
		have_base = 1;
	}
	if (g4_kv_type_check(m, (uint32_t)kvt) < 0)
		g4_die(PROG);
	g4_media md = { 0 };
	for (int i = 0; i < n_media; i++)
		if (g4_media_add_file(&md, media_files[i]) < 0)
			g4_die(PROG);

	g4_out *o = NULL, *ol = NULL, *oll = NULL;
	if (!pattern && (out || !score) && !(o = g4_out_open(out)))
		g4_die(PROG);
	if (lg_all && !(ol = g4_out_open(lg_all)))
		g4_die(PROG);
	if (lg_last && !(oll = g4_out_open(lg_last)))
		g4_die(PROG);

	g4_sr *r = g4_sr_open(stdin, "<stdin>");
	if (!r)
		g4_die(PROG);
	long ndoc = 0, cur = 0;
	g4_pf_opts po = {
		.kv_type = (uint32_t)kvt,
		.base = have_base ? &base : NULL,
		.md = &md,
		.snap_out = o ? g4_out_file(o) : NULL,
		.snap_name = o ? g4_out_path(o) : NULL,
		.pattern = pattern ? out : NULL,
		.logits_out = ol ? g4_out_file(ol) : NULL,
		.logits_name = lg_all,
		.last_out = oll ? g4_out_file(oll) : NULL,
		.last_name = lg_last,
		.score_out = score ? stdout : NULL,
		.per_token = per_token,
		.progress = isatty(2) ? progress : NULL,
		.progress_ctx = &cur,
	};
	if (g4_pf_run(m, r, &po, &ndoc) < 0)
		g4_die(PROG);
	if (!ndoc)
		g4_fatal(PROG, "no document on stdin");
	if (g4_media_done(&md) < 0)
		g4_die(PROG);
	if ((o && g4_out_commit(o) < 0) || (ol && g4_out_commit(ol) < 0) || (oll && g4_out_commit(oll) < 0))
		g4_die(PROG);
	if (score && (fflush(stdout) == EOF || ferror(stdout)))
		g4_fatal(PROG, "writing stdout");
	g4_sr_close(r);
	g4_media_free(&md);
	free(media_files);
	if (have_base)
		g4_snap_free(&base);
	g4_model_free(m);
	return 0;
}
