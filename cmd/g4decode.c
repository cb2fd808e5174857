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
#include "version.h"

#define PROG "g4decode"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: " PROG " -m MODEL.gguf [-s SNAP] [-o OUT] [-n MAX] [--ids | --raw] [--show-thinking]\n"
		"       [--temp T] [--top-k K] [--top-p P] [--min-p P] [--repeat-penalty R]\n"
		"       [--repeat-last-n N] [--freq-penalty F] [--presence-penalty F] [--seed S]\n"
		"       [--stop STR]... [--act f32|q8] [-t N] < SNAP\n"
		"Generates from each KV snapshot on stdin (or SNAP).\n"
		"  -m MODEL.gguf        the model the snapshot was made with\n"
		"  -s SNAP              read the snapshot(s) from SNAP instead of stdin\n"
		"  -o OUT               write the snapshot(s) after generation\n"
		"  -n MAX               generate at most MAX tokens (default 256)\n"
		"  --ids                print the generated ids as decimal text\n"
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
		"  --act f32|q8         activations for quantised weights: f32 (default) or 8-bit\n"
		"  -t N                 threads\n"
		"  --help, --version\n");
}

/* Text out: raw, or through the model-output parser (answer, thinking,
 * tool calls as JSON lines). */
typedef struct {
	g4_outp *parser;
	int show_thinking;
} textout;

static void on_piece(void *ctx, int kind, const char *s, size_t n)
{
	const textout *to = ctx;
	if (kind == G4_OUT_THINKING && !to->show_thinking)
		return;
	fwrite(s, 1, n, stdout);
	if (kind == G4_OUT_TOOLCALL)
		fputc('\n', stdout);
}

static void emit(textout *to, const char *s, size_t n)
{
	if (to->parser)
		g4_outp_feed(to->parser, s, n);
	else
		fwrite(s, 1, n, stdout);
	fflush(stdout);
}

/* --stop strings (static: reachable on every exit path) */
static char **stops;
static int n_stops;

static int parse_num(const char *s, double lo, double hi, double *out)
{
	char *end;
	double v = strtod(s, &end);
	if (!*s || *end || !(v >= lo && v <= hi))
		return -1;
	*out = v;
	return 0;
}

int main(int argc, char **argv)
{
	const char *model = NULL, *snap_in = NULL, *out = NULL;
	int ids_out = 0, raw = 0, show_thinking = 0;
	long max_new = 256;
	g4_sampler_params sp;
	g4_sampler_defaults(&sp);
	enum { O_RAW = 300, O_THINK, O_ACT };
	enum { O_IDS = 256, O_TEMP, O_TOPK, O_TOPP, O_MINP, O_REP, O_REPN, O_FREQ, O_PRES, O_SEED, O_STOP, O_HELP, O_VERSION };
	static const struct option lo[] = {
		{ "ids", no_argument, 0, O_IDS },
		{ "raw", no_argument, 0, O_RAW },
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
	int c;
	double v;
	while ((c = getopt_long(argc, argv, "m:s:o:n:t:", lo, NULL)) != -1) {
		const char *bad = NULL;
		switch (c) {
		case 'm': model = optarg; break;
		case 's': snap_in = optarg; break;
		case 'o': out = optarg; break;
		case 'n':
			if (parse_num(optarg, 0, 1e9, &v) < 0 || v != (long)v)
				bad = "-n wants a token count";
			else
				max_new = (long)v;
			break;
		case 't': {
			int n = g4_parse_threads(optarg);
			if (n < 0)
				bad = g4_errmsg();
			else
				g4_set_threads(n);
			break;
		}
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
			if (parse_num(optarg, 0, 1e6, &v) < 0) bad = "--temp wants a number >= 0";
			else sp.temp = (float)v;
			break;
		case O_TOPK:
			if (parse_num(optarg, 0, 1e9, &v) < 0 || v != (int)v) bad = "--top-k wants a count >= 0";
			else sp.top_k = (int)v;
			break;
		case O_TOPP:
			if (parse_num(optarg, 0, 1, &v) < 0) bad = "--top-p wants a number in 0..1";
			else sp.top_p = (float)v;
			break;
		case O_MINP:
			if (parse_num(optarg, 0, 1, &v) < 0) bad = "--min-p wants a number in 0..1";
			else sp.min_p = (float)v;
			break;
		case O_REP:
			if (parse_num(optarg, 0, 1e6, &v) < 0 || v == 0) bad = "--repeat-penalty wants a number > 0";
			else sp.repeat_penalty = (float)v;
			break;
		case O_REPN:
			if (parse_num(optarg, -1, 1e9, &v) < 0 || v != (int)v) bad = "--repeat-last-n wants a count or -1";
			else sp.penalty_last_n = (int)v;
			break;
		case O_FREQ:
			if (parse_num(optarg, -1e6, 1e6, &v) < 0) bad = "--freq-penalty wants a number";
			else sp.freq_penalty = (float)v;
			break;
		case O_PRES:
			if (parse_num(optarg, -1e6, 1e6, &v) < 0) bad = "--presence-penalty wants a number";
			else sp.presence_penalty = (float)v;
			break;
		case O_SEED:
			if (parse_num(optarg, 0, 18446744073709551615.0, &v) < 0) bad = "--seed wants a number >= 0";
			else sp.seed = strtoull(optarg, NULL, 10);
			break;
		case O_STOP:
			stops = realloc(stops, (size_t)(n_stops + 1) * sizeof *stops);
			if (!stops)
				g4_fatal(PROG, "out of memory");
			stops[n_stops++] = optarg;
			break;
		case O_HELP: usage(stdout); return 0;
		case O_VERSION: printf(PROG " (g4) " G4_VERSION "\n"); return 0;
		default: usage(stderr); return 2;
		}
		if (bad) {
			fprintf(stderr, PROG ": %s, not '%s'\n", bad, optarg);
			usage(stderr);
			return 2;
		}
	}
	if (!model || optind != argc) {
		if (!model)
			fprintf(stderr, PROG ": -m MODEL.gguf is required\n");
		usage(stderr);
		return 2;
	}
	size_t max_stop = 0;
	for (int i = 0; i < n_stops; i++) {
		if (!*stops[i]) {
			fprintf(stderr, PROG ": --stop wants a non-empty string\n");
			usage(stderr);
			return 2;
		}
		if (strlen(stops[i]) > max_stop)
			max_stop = strlen(stops[i]);
	}
	g4_threads();

	g4_model *m = g4_model_load(model);
	if (!m)
		g4_die(PROG);
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
	g4_snap sn;
	int rc;
	long nsnap = 0;
	while ((rc = g4_snap_read(in, &sn, m->fingerprint, in_name)) > 0) {
		nsnap++;
		g4_seq *s = g4_seq_from_snap(m, &sn);
		g4_snap_free(&sn);
		if (!s)
			g4_die(PROG);
		if (!s->have_logits)
			g4_fatal(PROG, "snapshot %ld holds no logits (an empty prompt?)", nsnap);
		g4_sampler *smp = g4_sampler_new(&sp, (uint32_t)m->n_vocab);
		if (!smp)
			g4_die(PROG);
		/* text: decoded as it comes; with --stop the last max_stop-1 bytes
		 * are held back until they cannot start a stop string */
		g4_detok st = { 0 };
		g4_buf text = { 0 };
		textout to = { .show_thinking = show_thinking };
		if (!ids_out && !raw && !(to.parser = g4_outp_new(on_piece, &to, 0)))
			g4_die(PROG);
		size_t printed = 0, checked = 0;
		int hit = 0;
		for (long k = 0; k < max_new && !hit; k++) {
			/* suppressed tokens (12B) are never sampled; the history
			 * (prompt and generated) feeds the penalties */
			for (int i = 0; i < m->n_suppress; i++)
				if (m->suppress[i] < m->n_vocab)
					s->logits[m->suppress[i]] = -INFINITY;
			int32_t id = g4_sampler_sample(smp, s->logits, s->hist, (size_t)s->n_pos);
			if (id < 0)
				g4_die(PROG);
			int stop = tok ? g4_tok_is_eog(tok, id) : id == m->eos_id || id == m->eot_id;
			if (ids_out)
				printf(k ? " %d" : "%d", id);
			if (tok && !stop && g4_detok_put(tok, &st, id, 0, &text) < 0)
				g4_die(PROG);
			for (int i = 0; i < n_stops && !hit; i++) {
				size_t L = strlen(stops[i]), from = checked + 1 > L ? checked + 1 - L : 0;
				for (size_t j = from; j + L <= text.n; j++)
					if (!memcmp(text.p + j, stops[i], L)) {
						text.n = j;	/* the stop string is not printed */
						hit = 1;
						break;
					}
			}
			checked = text.n;
			if (!ids_out) {
				size_t hold = hit || stop || !max_stop ? 0 : max_stop - 1;
				if (text.n > printed + hold) {
					emit(&to, text.p + printed, text.n - hold - printed);
					printed = text.n - hold;
				}
			}
			if (o || (!stop && !hit && k + 1 < max_new)) {
				g4_batch b = { .n = 1, .ids = &id };
				if (g4_forward(s, &b, NULL) < 0)
					g4_die(PROG);
			}
			if (stop)
				break;
		}
		if (tok && !hit)
			g4_detok_flush(&st, &text);
		if (!ids_out && text.n > printed)
			emit(&to, text.p + printed, text.n - printed);
		if (to.parser) {
			g4_outp_end(to.parser);
			g4_outp_free(to.parser);
		}
		g4_buf_free(&text);
		printf("\n");
		if (fflush(stdout) == EOF || ferror(stdout))
			g4_fatal(PROG, "writing stdout: %s", errno ? strerror(errno) : "write error");
		if (o) {
			if (g4_seq_write_snap(s, g4_out_file(o), g4_out_path(o)) < 0)
				g4_die(PROG);
		}
		g4_sampler_free(smp);
		g4_seq_free(s);
	}
	if (rc < 0)
		g4_die(PROG);
	if (!nsnap)
		g4_fatal(PROG, "no snapshot on %s", in_name);
	if (o && g4_out_commit(o) < 0)
		g4_die(PROG);
	if (in != stdin)
		fclose(in);
	free(stops);
	g4_tok_free(tok);
	g4_model_free(m);
	return 0;
}
