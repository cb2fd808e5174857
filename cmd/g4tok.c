/* g4tok - the Gemma 4 tokenizer and chat format as a command (man g4tok). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "cli.h"
#include "err.h"
#include "fileio.h"
#include "json.h"
#include "par.h"
#include "stream.h"
#include "tokenizer.h"


#define MAX_INPUT ((size_t)1 << 31)

static const char usage_text[] =
	"usage: g4tok (-m MODEL.gguf | --tokenizer FILE) [--ids] [--no-bos] [--lines] [FILE...]\n"
	"       g4tok (-m MODEL.gguf | --tokenizer FILE) -d [--special] [FILE...]\n"
	"       g4tok (-m MODEL.gguf | --tokenizer FILE) --chat [--ids | --render] [--thinking]\n"
	"             [--template NAME] [--no-generation-prompt] [FILE]\n"
	"       g4tok --tokenizer FILE --write-gguf OUT.gguf\n";

static const char help[] =
	"\n"
	"Text on stdin or in the FILEs (one document each) becomes a token stream.\n"
	"\n"
	"  -m MODEL.gguf          the vocabulary and chat template of a model GGUF\n"
	"  --tokenizer FILE       tokenizer.json, tokenizer.json.zst or a GGUF\n"
	"  -o FILE                write to FILE instead of stdout (whole or not at all)\n"
	"  --ids                  print decimal ids, one line per document\n"
	"  --no-bos               do not put <bos> first\n"
	"  --no-parse-special     control tokens in the text (<bos>, <|turn>, ...) are\n"
	"                         ordinary text\n"
	"  --lines                every input line is a document\n"
	"  -d, --decode           decode a token stream or decimal ids to text\n"
	"  --special              with -d: show control tokens\n"
	"  --chat                 render a chat request (JSON: {\"messages\": [...],\n"
	"                         \"tools\": [...]} or a messages array) with the Gemma 4\n"
	"                         template; image and audio parts become media slots\n"
	"  --render               with --chat: print the rendered text\n"
	"  --thinking             with --chat: thinking on (enable_thinking)\n"
	"  --template NAME        gemma4 (default), gemma4-2607, gemma4-2607-e\n"
	"                         (default: the model's own when it is one of them)\n"
	"  --no-generation-prompt with --chat: no <|turn>model at the end\n"
	"  --write-gguf OUT.gguf  write the vocabulary as a vocab-only GGUF\n"
	"  -t N                   threads (default: the cores available)\n"
	"  -h, --help             this text\n"
	"  --version              the version\n";

static void usage(FILE *f)
{
	fputs(usage_text, f);
}

#define bad_usage(...) g4_usage_error("g4tok", usage, __VA_ARGS__)

typedef struct {
	char *text;
	size_t len;
	int32_t *ids;
	size_t n, cap;
	int rc;
	char err[512];
} doc;

static void write_ids(FILE *f, const int32_t *ids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fprintf(f, i ? " %d" : "%d", ids[i]);
	fputc('\n', f);
}

/* -d: every document of every input as text */
static void decode(const g4_tokenizer *t, char **files, int nf, int flags, FILE *out)
{
	int first = 1;
	for (int i = 0; i < (nf ? nf : 1); i++) {
		const char *path = nf ? files[i] : "-";
		FILE *in = strcmp(path, "-") ? fopen(path, "rb") : stdin;
		if (!in)
			g4_err_sys("cannot open %s", path), g4_die("g4tok");
		g4_sr *r = g4_sr_open(in, strcmp(path, "-") ? path : "<stdin>");
		if (!r)
			g4_die("g4tok");
		g4_doc d = { 0 };
		int rc;
		size_t docno = 0;
		while ((rc = g4_sr_next_doc(r, &d)) > 0) {
			if (!first)
				fputc('\n', out);
			first = 0;
			g4_detok st = { 0 };
			g4_buf b = { 0 };
			size_t tokno = 0;
			for (size_t s = 0; s < d.n_segs; s++) {
				const g4_seg *sg = &d.segs[s];
				if (sg->kind == G4_SEG_TOKENS) {
					for (size_t k = 0; k < sg->n; k++, tokno++)
						if (g4_detok_put(t, &st, sg->ids[k], flags, &b)) {
							char m[600];
							snprintf(m, sizeof m, "%s", g4_errmsg());
							g4_fatal("g4tok", "%s: document %zu, token %zu: %s",
								 strcmp(path, "-") ? path : "<stdin>", docno + 1, tokno, m);
						}
				} else {
					g4_detok_flush(&st, &b);
					g4_buf_puts(&b, sg->modality == G4_MOD_AUDIO ? "<|audio|>" : "<|image|>");
				}
				if (b.n && fwrite(b.p, 1, b.n, out) != b.n)
					g4_fatal("g4tok", "writing the output failed");
				b.n = 0;
			}
			g4_detok_flush(&st, &b);
			if (b.n)
				fwrite(b.p, 1, b.n, out);
			g4_buf_free(&b);
			docno++;
		}
		if (rc < 0)
			g4_die("g4tok");
		g4_doc_free(&d);
		g4_sr_close(r);
		if (in != stdin)
			fclose(in);
	}
}

static void chat(const g4_tokenizer *t, const char *path, const g4_chat_opts *o, int ids_out, int render, FILE *out)
{
	char *buf;
	size_t n;
	const char *name = strcmp(path, "-") ? path : "<stdin>";
	if (g4_slurp(path, MAX_INPUT, &buf, &n))
		g4_die("g4tok");
	g4_json *req = g4_json_parse(buf, n, name);
	if (!req)
		g4_die("g4tok");
	if (render) {
		g4_buf txt = { 0 };
		if (g4_chat_render(req, o, &txt, NULL, NULL))
			g4_err_ctx("%s: ", name), g4_die("g4tok");
		if (txt.n && fwrite(txt.p, 1, txt.n, out) != txt.n)
			g4_fatal("g4tok", "writing the output failed");
		g4_buf_free(&txt);
	} else {
		int32_t *ids = NULL;
		size_t ni = 0, cap = 0, nm = 0;
		g4_chat_media *md = NULL;
		if (g4_chat_encode(t, req, o, &ids, &ni, &cap, &md, &nm))
			g4_err_ctx("%s: ", name), g4_die("g4tok");
		if (ids_out)
			write_ids(out, ids, ni);
		else {
			/* The processor expands a placeholder to <|image> soft tokens
			 * <image|> (audio: <|audio> ... <audio|>): the slot stands
			 * for the soft tokens, the markers are prompt tokens. */
			g4_sw *w = g4_sw_open(out);
			size_t at = 0;
			int rc = !w;
			for (size_t i = 0; i < nm && !rc; i++) {
				const int audio = md[i].modality == 2;
				const char *bs = audio ? "<|audio>" : "<|image>", *es = audio ? "<audio|>" : "<image|>";
				int32_t boi = g4_tok_id(t, bs, strlen(bs)), eoi = g4_tok_id(t, es, strlen(es));
				if (boi < 0 || eoi < 0)
					g4_fatal("g4tok", "%s: the vocabulary has no %s token for a media slot", name,
						 boi < 0 ? bs : es);
				rc = g4_sw_tokens(w, ids + at, md[i].pos - at) || g4_sw_tokens(w, &boi, 1) ||
				     g4_sw_slot(w, audio ? G4_MOD_AUDIO : G4_MOD_IMAGE) || g4_sw_tokens(w, &eoi, 1);
				at = md[i].pos + 1;
			}
			if (!rc)
				rc = g4_sw_tokens(w, ids + at, ni - at);
			if (w && g4_sw_close(w))
				rc = 1;
			if (rc)
				g4_die("g4tok");
		}
		free(ids);
		free(md);
	}
	g4_json_free(req);
	free(buf);
}

int main(int argc, char **argv)
{
	const char *model = NULL, *tokfile = NULL, *outpath = NULL, *tmpl_name = NULL, *write_gguf = NULL;
	int ids_out = 0, bos = 1, special_in = 1, lines = 0, dec = 0, special_out = 0;
	int do_chat = 0, render = 0, thinking = 0, agp = 1, threads = 0;
	static char **files;	/* static: still reachable at any exit (LeakSanitizer) */
	files = calloc((size_t)argc, sizeof *files);
	int nf = 0;
	if (!files)
		g4_fatal("g4tok", "out of memory");

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
#define NEEDARG(what) do { if (++i == argc) bad_usage("%s needs %s", a, what); } while (0)
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			fputs(help, stdout);
			return 0;
		} else if (!strcmp(a, "--version")) {
			g4_print_version("g4tok");
			return 0;
		} else if (!strcmp(a, "-m")) {
			NEEDARG("a file");
			model = argv[i];
		} else if (!strcmp(a, "--tokenizer")) {
			NEEDARG("a file");
			tokfile = argv[i];
		} else if (!strcmp(a, "-o")) {
			NEEDARG("a file");
			outpath = argv[i];
		} else if (!strcmp(a, "--template")) {
			NEEDARG("a name");
			tmpl_name = argv[i];
		} else if (!strcmp(a, "--write-gguf")) {
			NEEDARG("a file");
			write_gguf = argv[i];
		} else if (!strcmp(a, "-t")) {
			NEEDARG("a number");
			if ((threads = g4_parse_threads(argv[i])) < 0)
				bad_usage("%s", g4_errmsg());
		} else if (!strcmp(a, "--ids"))
			ids_out = 1;
		else if (!strcmp(a, "--no-bos"))
			bos = 0;
		else if (!strcmp(a, "--no-parse-special"))
			special_in = 0;
		else if (!strcmp(a, "--lines"))
			lines = 1;
		else if (!strcmp(a, "-d") || !strcmp(a, "--decode"))
			dec = 1;
		else if (!strcmp(a, "--special"))
			special_out = 1;
		else if (!strcmp(a, "--chat"))
			do_chat = 1;
		else if (!strcmp(a, "--render"))
			render = 1;
		else if (!strcmp(a, "--thinking"))
			thinking = 1;
		else if (!strcmp(a, "--no-generation-prompt"))
			agp = 0;
		else if (a[0] == '-' && a[1])
			bad_usage("unknown option '%s'", a);
		else
			files[nf++] = argv[i];
	}
	if (!model == !tokfile)
		bad_usage(model ? "give -m or --tokenizer, not both" : "no vocabulary: give -m MODEL.gguf or --tokenizer FILE");
	if (dec + do_chat + !!write_gguf > 1)
		bad_usage("-d, --chat and --write-gguf do not go together");
	if ((render || thinking || tmpl_name || !agp) && !do_chat)
		bad_usage("--render, --thinking, --template and --no-generation-prompt need --chat");
	if (render && ids_out)
		bad_usage("--render and --ids do not go together");
	if (do_chat && nf > 1)
		bad_usage("--chat reads one request");
	int tmpl = -1;
	if (tmpl_name && (tmpl = g4_chat_template_by_name(tmpl_name)) < 0)
		bad_usage("unknown template '%s' (gemma4, gemma4-2607, gemma4-2607-e)", tmpl_name);
	g4_set_threads(threads);

	g4_tokenizer *t = g4_tok_load(model ? model : tokfile);
	if (!t)
		g4_die("g4tok");
	if (write_gguf) {
		if (g4_tok_write_vocab_gguf(t, write_gguf))
			g4_die("g4tok");
		g4_tok_free(t);
		free(files);
		return 0;
	}
	g4_out *o = g4_out_open(outpath ? outpath : "-");
	if (!o)
		g4_die("g4tok");
	FILE *out = g4_out_file(o);

	if (dec) {
		decode(t, files, nf, special_out ? G4_DEC_SPECIAL : 0, out);
	} else if (do_chat) {
		if (tmpl < 0)
			tmpl = g4_chat_template_detect(g4_tok_chat_template(t));
		g4_chat_opts co = { .tmpl = tmpl < 0 ? G4_TMPL_GEMMA4 : tmpl, .thinking = thinking, .add_generation_prompt = agp };
		chat(t, nf ? files[0] : "-", &co, ids_out, render, out);
	} else {
		/* documents: files (or stdin), or their lines */
		doc *docs = NULL;
		size_t nd = 0, capd = 0;
		char **bufs = calloc((size_t)(nf ? nf : 1), sizeof *bufs);
		for (int i = 0; i < (nf ? nf : 1); i++) {
			size_t n;
			if (!bufs || g4_slurp(nf ? files[i] : "-", MAX_INPUT, &bufs[i], &n))
				g4_die("g4tok");
			size_t st = 0;
			for (;;) {
				size_t e = n;
				if (lines) {
					const char *nl = memchr(bufs[i] + st, '\n', n - st);
					e = nl ? (size_t)(nl - bufs[i]) : n;
					if (e == n && st == n)
						break;
				}
				if (nd == capd) {
					capd = capd ? capd * 2 : 16;
					doc *q = realloc(docs, capd * sizeof *q);
					if (!q)
						g4_fatal("g4tok", "out of memory");
					docs = q;
				}
				docs[nd++] = (doc){ .text = bufs[i] + st, .len = e - st };
				if (!lines || e >= n)
					break;
				st = e + 1;
			}
		}
		int flags = (bos ? G4_ENC_BOS : 0) | (special_in ? G4_ENC_SPECIAL : 0);
		#pragma omp parallel for schedule(dynamic) num_threads(g4_threads())
		for (size_t i = 0; i < nd; i++) {
			docs[i].rc = g4_tok_encode(t, docs[i].text, docs[i].len, flags, &docs[i].ids, &docs[i].n, &docs[i].cap);
			if (docs[i].rc)
				snprintf(docs[i].err, sizeof docs[i].err, "%s", g4_errmsg());
		}
		g4_sw *w = ids_out ? NULL : g4_sw_open(out);
		if (!ids_out && !w)
			g4_die("g4tok");
		for (size_t i = 0; i < nd; i++) {
			if (docs[i].rc)
				g4_fatal("g4tok", "document %zu: %s", i + 1, docs[i].err);
			if (ids_out)
				write_ids(out, docs[i].ids, docs[i].n);
			else if (g4_sw_tokens(w, docs[i].ids, docs[i].n) || (i + 1 < nd && g4_sw_doc_end(w)))
				g4_die("g4tok");
			free(docs[i].ids);
		}
		if (w && g4_sw_close(w))
			g4_die("g4tok");
		for (int i = 0; i < (nf ? nf : 1); i++)
			free(bufs[i]);
		free(bufs);
		free(docs);
	}
	if (g4_out_commit(o))
		g4_die("g4tok");
	g4_tok_free(t);
	free(files);
	return 0;
}
