/* g4quant - convert a Hugging Face Gemma 4 checkpoint or a GGUF into a GGUF
 * of the requested type, byte-compatible with llama.cpp's tools; or print a
 * GGUF's metadata and tensor table (--info). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "err.h"
#include "fileio.h"
#include "gguf.h"
#include "hfconv.h"
#include "imatrix.h"
#include "par.h"
#include "qmix.h"
#include "qtypes.h"
#include "requant.h"


static const char *prog = "g4quant";

static void usage(FILE *f)
{
	fprintf(f,
		"usage: g4quant [options] IN OUT TYPE\n"
		"       g4quant --info FILE.gguf\n"
		"IN is a GGUF file or a Hugging Face checkpoint folder (config.json,\n"
		"model*.safetensors, tokenizer.json); OUT a GGUF file (- for stdout).\n"
		"TYPE: %s\n"
		"options:\n"
		"  -t N                      threads (default: all cores)\n"
		"  --imatrix FILE            llama.cpp importance matrix (GGUF or legacy .dat)\n"
		"  --pure                    every quantisable tensor in TYPE's default type\n"
		"  --allow-requantize        accept quantised input tensors\n"
		"  --leave-output-tensor     do not quantise output.weight\n"
		"  --output-tensor-type T    type of output.weight (and tied embeddings)\n"
		"  --token-embedding-type T  type of token_embd / per_layer_token_embd\n"
		"  --tensor-type RE=T        tensors matching RE get type T (repeatable)\n"
		"  --tensor-type-file FILE   RE=T lines (whitespace separated)\n"
		"  --mmproj FILE             (checkpoint input) also write the vision/audio towers\n"
		"  -q, --quiet               no progress line\n"
		"  -h, --help, --version\n",
		g4_ftype_names());
}

static void short_usage(FILE *f)
{
	fprintf(f, "usage: g4quant [options] IN OUT TYPE  (g4quant --help)\n");
}

#define bad_usage(...) g4_usage_error(prog, short_usage, __VA_ARGS__)

struct bar {
	int on;
	double t0, last;
	uint64_t last_i;
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void on_progress(void *ud, uint64_t i, uint64_t n, const char *name, uint64_t done, uint64_t total)
{
	struct bar *b = ud;
	double t = now();
	int final = i == n;
	if (!final && t - b->last < 0.1 && i == b->last_i)
		return;
	b->last = t;
	b->last_i = i;
	double el = t - b->t0, mb = done / 1e6;
	int w = 24, fill = total ? (int)(w * (double)done / (double)total) : w;
	char bar[32];
	for (int k = 0; k < w; k++)
		bar[k] = k < fill ? '#' : '.';
	bar[w] = 0;
	fprintf(stderr, "\r[%s] %4llu/%llu %9.1f/%.1f MB %7.1f MB/s  %-40.40s", bar,
		(unsigned long long)(final ? n : i + 1), (unsigned long long)n, mb, total / 1e6,
		el > 0 ? mb / el : 0.0, final ? "done" : name);
	if (final)
		fputc('\n', stderr);
}

static int parse_type(const char *s)
{
	int t = g4_type_from_name(s);
	if (t < 0 || !g4_type_block(t))
		bad_usage("unknown tensor type '%s'", s);
	return t;
}

static int is_dir(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

int main(int argc, char **argv)
{
	const char *pos[3], *imatrix_path = NULL, *info = NULL, *mmproj = NULL;
	int npos = 0, quiet = 0, pure = 0, allow = 0, leave = 0, out_t = -1, emb_t = -1;
	static g4_qmix_opts tt;	/* --tensor-type patterns */
	g4_qmix_opts_init(&tt, 0);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
#define NEXT() (i + 1 < argc ? argv[++i] : (bad_usage("%s needs an argument", a), ""))
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(a, "--version")) {
			g4_print_version(prog);
			return 0;
		} else if (!strcmp(a, "-t")) {
			const char *v = NEXT();
			int n = g4_parse_threads(v);
			if (n < 0)
				bad_usage("bad thread count '%s'", v);
			g4_set_threads(n);
		} else if (!strcmp(a, "--info")) {
			info = NEXT();
		} else if (!strcmp(a, "--imatrix")) {
			imatrix_path = NEXT();
		} else if (!strcmp(a, "--mmproj")) {
			mmproj = NEXT();
		} else if (!strcmp(a, "--pure")) {
			pure = 1;
		} else if (!strcmp(a, "--allow-requantize")) {
			allow = 1;
		} else if (!strcmp(a, "--leave-output-tensor")) {
			leave = 1;
		} else if (!strcmp(a, "--output-tensor-type")) {
			out_t = parse_type(NEXT());
		} else if (!strcmp(a, "--token-embedding-type")) {
			emb_t = parse_type(NEXT());
		} else if (!strcmp(a, "--tensor-type")) {
			if (g4_qmix_add_tensor_type(&tt, NEXT()))
				bad_usage("%s", g4_errmsg());
		} else if (!strcmp(a, "--tensor-type-file")) {
			const char *fn = NEXT();
			FILE *tf = fopen(fn, "r");
			char word[4096];
			if (!tf) {
				g4_err_sys("cannot open %s", fn);
				g4_die(prog);
			}
			while (fscanf(tf, "%4095s", word) == 1)
				if (g4_qmix_add_tensor_type(&tt, word))
					g4_fatal(prog, "%s: %s", fn, g4_errmsg());
			if (ferror(tf))
				g4_fatal(prog, "reading %s: %s", fn, strerror(errno));
			fclose(tf);
		} else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
			quiet = 1;
		} else if (a[0] == '-' && a[1]) {
			bad_usage("unknown option %s", a);
		} else {
			if (npos == 3)
				bad_usage("unexpected argument '%s'", a);
			pos[npos++] = a;
		}
#undef NEXT
	}
	if (info) {
		if (npos)
			bad_usage("--info takes one file, not '%s'", pos[0]);
		g4_gguf *g = g4_gguf_open(info);
		if (!g)
			g4_die(prog);
		errno = 0;
		g4_gguf_print_info(g, stdout);
		g4_gguf_close(g);
		if (fflush(stdout) != 0 || ferror(stdout))
			g4_fatal(prog, "writing the listing to stdout: %s", strerror(errno ? errno : EIO));
		return 0;
	}
	if (npos != 3)
		bad_usage("%s", npos < 3 ? "needs IN, OUT and TYPE" : "too many arguments");
	int ft = g4_ftype_parse(pos[2]);
	if (ft < 0)
		bad_usage("unknown or unsupported TYPE '%s' (see --help)", pos[2]);
	int hf = is_dir(pos[0]);
	if (mmproj && !hf)
		bad_usage("--mmproj needs a checkpoint folder as IN, not '%s'", pos[0]);

	g4_requant_opts o;
	g4_requant_opts_init(&o, ft);
	o.mix.pure = pure;
	o.mix.leave_output = leave;
	o.mix.output_type = out_t;
	o.mix.token_embd_type = emb_t;
	o.mix.ntt = tt.ntt;
	memcpy(o.mix.tt_re, tt.tt_re, sizeof tt.tt_re);
	memcpy(o.mix.tt_type, tt.tt_type, sizeof tt.tt_type);
	o.allow_requantize = allow;
	struct bar b = { .on = !quiet && isatty(2), .t0 = now() };
	if (b.on) {
		o.progress = on_progress;
		o.progress_ud = &b;
	}
	g4_imatrix *im = NULL;
	if (imatrix_path) {
		im = g4_imatrix_load(imatrix_path);
		if (!im)
			g4_die(prog);
		o.imatrix = im;
		o.imatrix_path = imatrix_path;
	}

	if (hf) {
		/* both files appear only if both conversions succeed */
		g4_out *mo = NULL;
		if (mmproj) {
			mo = g4_out_open(mmproj);
			if (!mo)
				g4_die(prog);
			o.out_name = g4_out_path(mo);
			if (g4_hfconv_mmproj(pos[0], g4_out_file(mo), &o))
				g4_die(prog);
		}
		g4_out *out = g4_out_open(pos[1]);
		if (!out)
			g4_die(prog);
		o.out_name = g4_out_path(out);
		if (g4_hfconv(pos[0], g4_out_file(out), &o))
			g4_die(prog);
		if ((mo && g4_out_commit(mo)) || g4_out_commit(out))
			g4_die(prog);
	} else {
		g4_gguf *g = g4_gguf_open(pos[0]);
		if (!g)
			g4_die(prog);
		g4_out *out = g4_out_open(pos[1]);
		if (!out)
			g4_die(prog);
		o.out_name = g4_out_path(out);
		o.in_name = pos[0];
		if (g4_requant(g, g4_out_file(out), &o))	/* names the input or the output */
			g4_die(prog);
		if (g4_out_commit(out))
			g4_die(prog);
		g4_gguf_close(g);
	}
	g4_imatrix_free(im);
	return 0;
}
