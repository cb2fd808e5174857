/* prefill.c - a stream of documents through the decoder (see prefill.h).
 *
 * Documents are read into a group until it holds `group` documents or 256
 * positions; a document longer than short_max runs alone, cut into chunks
 * of 256 positions when every row's logits are needed (never inside an
 * image block), so memory stays bounded by one chunk of logits. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "fileio.h"
#include "forward.h"
#include "json.h"
#include "prefill.h"
#include "score.h"

#define GROUP_ROWS 256
#define CHUNK 256

/* pattern: literal text, "%%", and one %[0][width](d|i|u) */
static int pattern_scan(const char *pat, size_t *at, size_t *len, int *zero, int *width)
{
	int n = 0;
	for (size_t i = 0; pat[i]; i++) {
		if (pat[i] != '%')
			continue;
		if (pat[i + 1] == '%') {
			i++;
			continue;
		}
		size_t j = i + 1;
		int z = 0, w = 0;
		if (pat[j] == '0')
			z = 1, j++;
		while (isdigit((unsigned char)pat[j]) && w < 1000)
			w = w * 10 + (pat[j++] - '0');
		if (isdigit((unsigned char)pat[j]))
			return g4_err("-o pattern '%s': width too large", pat);
		if (pat[j] != 'd' && pat[j] != 'i' && pat[j] != 'u')
			return g4_err("-o pattern '%s': only %%d (with an optional 0 flag and width) "
				      "and %%%% are allowed", pat);
		if (++n > 1)
			return g4_err("-o pattern '%s' has more than one %%d", pat);
		*at = i;
		*len = j + 1 - i;
		*zero = z;
		*width = w;
		i = j;
	}
	if (!n)
		return g4_err("-o pattern '%s' has no %%d", pat);
	return 0;
}

int g4_pf_pattern_check(const char *pat)
{
	size_t at, len;
	int z, w;
	return pattern_scan(pat, &at, &len, &z, &w);
}

char *g4_pf_pattern_name(const char *pat, long i)
{
	size_t at = 0, len = 0;
	int z = 0, w = 0;
	if (pattern_scan(pat, &at, &len, &z, &w) < 0)
		return NULL;
	g4_buf b = { 0 };
	for (size_t k = 0; pat[k]; k++) {
		if (k == at) {
			char num[1100];
			snprintf(num, sizeof num, z ? "%0*ld" : "%*ld", w, i);
			g4_buf_puts(&b, num);
			k += len - 1;
		} else if (pat[k] == '%' && pat[k + 1] == '%') {
			g4_buf_putc(&b, '%');
			k++;
		} else {
			g4_buf_putc(&b, pat[k]);
		}
	}
	g4_buf_putc(&b, 0);
	if (b.oom) {
		g4_buf_free(&b);
		g4_err("out of memory");
		return NULL;
	}
	return b.p;
}

typedef struct {
	const g4_model *m;
	const g4_pf_opts *o;
	g4_doc *d;
	g4_prompt *pr;
	g4_seq **s;
	g4_score *sc;
	float *lg;		/* logits rows when every row is needed */
	size_t lg_cap;
	long next;		/* index of the next document to write */
} pf;

static int need_all(const g4_pf_opts *o)
{
	return o->logits_out || o->score_out;
}

static int grow_logits(pf *p, size_t rows)
{
	const size_t need = rows * (size_t)p->m->n_vocab;
	if (need <= p->lg_cap)
		return 0;
	float *q = malloc(need * sizeof *q);
	if (!q)
		return g4_err("out of memory for the logits of %zu positions", rows);
	free(p->lg);
	p->lg = q;
	p->lg_cap = need;
	return 0;
}

/* The per-position outputs of rows [i0, i0+n) of document k. */
static int rows_out(pf *p, int k, int64_t i0, int64_t n, const float *lg)
{
	const g4_pf_opts *o = p->o;
	const size_t V = (size_t)p->m->n_vocab;
	if (o->logits_out && g4_write(o->logits_out, lg, (size_t)n * V * sizeof(float), o->logits_name) < 0)
		return -1;
	if (o->score_out && g4_score_rows(&p->sc[k], lg, p->pr[k].ids + i0, n) < 0)
		return -1;
	return 0;
}

/* A long document alone, in chunks when every row is needed. */
static int run_alone(pf *p, int k)
{
	g4_seq *s = p->s[k];
	const g4_prompt *pr = &p->pr[k];
	const g4_batch all = g4_prompt_batch(pr);
	if (!need_all(p->o))
		return g4_forward(s, &all, NULL);
	s->progress = NULL;
	for (int64_t i = 0; i < all.n;) {
		int64_t T = all.n - i < CHUNK ? all.n - i : CHUNK;
		if (p->m->bidir_vision && all.block)
			while (i + T < all.n && all.block[i + T] > 0 && all.block[i + T] == all.block[i + T - 1])
				T++;
		g4_batch b = { .n = T, .ids = all.ids + i, .rows = all.rows ? all.rows + i : NULL,
			       .block = all.block ? all.block + i : NULL };
		if (grow_logits(p, (size_t)T) < 0 || g4_forward(s, &b, p->lg) < 0 || rows_out(p, k, i, T, p->lg) < 0)
			return -1;
		i += T;
		if (p->o->progress)
			p->o->progress(p->o->progress_ctx, i, all.n);
	}
	return 0;
}

static int run_group(pf *p, int n)
{
	const int64_t V = p->m->n_vocab;
	g4_batch b[n];
	float *lgp[n];
	size_t rows = 0;
	for (int k = 0; k < n; k++) {
		b[k] = g4_prompt_batch(&p->pr[k]);
		rows += (size_t)b[k].n;
	}
	if (need_all(p->o) && grow_logits(p, rows ? rows : 1) < 0)
		return -1;
	size_t off = 0;
	for (int k = 0; k < n; k++) {
		lgp[k] = need_all(p->o) ? p->lg + off * V : NULL;
		off += (size_t)b[k].n;
	}
	if (g4_forward_multi(p->s, b, n, need_all(p->o) ? lgp : NULL) < 0)
		return -1;
	for (int k = 0; k < n; k++)
		if (need_all(p->o) && rows_out(p, k, 0, b[k].n, lgp[k]) < 0)
			return -1;
	return 0;
}

/* The per-document outputs, in order. */
static int docs_out(pf *p, int n)
{
	const g4_pf_opts *o = p->o;
	for (int k = 0; k < n; k++, p->next++) {
		g4_seq *s = p->s[k];
		if (o->last_out) {
			if (!s->have_logits)
				return g4_err("document %ld is empty: no last logits", p->next + 1);
			if (g4_write(o->last_out, s->logits, (size_t)p->m->n_vocab * sizeof(float), o->last_name) < 0)
				return -1;
		}
		if (o->score_out) {
			g4_buf line = { 0 };
			g4_score_json(&p->sc[k], p->next, &line);
			int bad = line.oom || g4_write(o->score_out, line.p, line.n, "the scores") < 0 ||
				  fflush(o->score_out) == EOF;
			g4_buf_free(&line);
			if (bad)
				return g4_err("writing the scores");
		}
		if (o->snap_out && g4_seq_write_snap(s, o->snap_out, o->snap_name) < 0)
			return -1;
		if (o->pattern) {
			char *name = g4_pf_pattern_name(o->pattern, p->next);
			g4_out *f = name ? g4_out_open(name) : NULL;
			free(name);
			if (!f)
				return -1;
			if (g4_seq_write_snap(s, g4_out_file(f), g4_out_path(f)) < 0) {
				g4_out_abort(f);
				return -1;
			}
			if (g4_out_commit(f) < 0)
				return -1;
		}
	}
	if (o->snap_out && fflush(o->snap_out) == EOF)
		return g4_err("writing %s", o->snap_name);
	return 0;
}

/* Runs documents [0, n) of the group: together, or one long one alone. */
static int run(pf *p, int n, int alone)
{
	for (int k = 0; k < n; k++) {
		p->s[k] = p->o->base ? g4_seq_from_snap(p->m, p->o->base) : g4_seq_new(p->m, p->o->kv_type);
		if (!p->s[k])
			return -1;
		g4_score_init(&p->sc[k], p->o->per_token, p->m->n_vocab);
	}
	if (alone && p->o->progress) {
		p->s[0]->progress = p->o->progress;
		p->s[0]->progress_ctx = p->o->progress_ctx;
	}
	int rc = alone ? run_alone(p, 0) : run_group(p, n);
	if (rc < 0)
		g4_err_ctx(n == 1 ? "document %ld: " : "documents %ld..: ", p->next + 1);
	if (!rc)
		rc = docs_out(p, n);
	for (int k = 0; k < n; k++) {
		g4_seq_free(p->s[k]);
		p->s[k] = NULL;
		g4_score_free(&p->sc[k]);
	}
	return rc;
}

int g4_pf_run(const g4_model *m, g4_sr *r, const g4_pf_opts *o, long *n_docs)
{
	const int G = o->group > 0 ? o->group : 64;
	const int64_t smax = o->short_max > 0 ? o->short_max : 64;
	pf p = { .m = m, .o = o };
	p.d = calloc((size_t)G, sizeof *p.d);
	p.pr = calloc((size_t)G, sizeof *p.pr);
	p.s = calloc((size_t)G, sizeof *p.s);
	p.sc = calloc((size_t)G, sizeof *p.sc);
	int rc = 0, n = 0;
	int64_t rows = 0;
	long nread = 0;
	if (!p.d || !p.pr || !p.s || !p.sc)
		rc = g4_err("out of memory");
	while (!rc) {
		int got = g4_sr_next_doc(r, &p.d[n]);
		if (got < 0) {
			rc = -1;
			break;
		}
		if (!got)
			break;
		nread++;
		if (o->progress_ctx)
			*(long *)o->progress_ctx = nread;
		if (g4_prompt_build(&p.pr[n], &p.d[n], m->n_embd, o->md) < 0) {
			rc = g4_err_ctx("document %ld: ", nread);
			break;
		}
		const int64_t len = p.pr[n].n;
		if (len > smax) {	/* the group so far, then this one alone */
			if (n) {
				if ((rc = run(&p, n, 0)) < 0)
					break;
				g4_doc tmpd = p.d[0];
				g4_prompt tmpp = p.pr[0];
				p.d[0] = p.d[n];
				p.pr[0] = p.pr[n];
				p.d[n] = tmpd;
				p.pr[n] = tmpp;
			}
			if ((rc = run(&p, 1, 1)) < 0)
				break;
			n = 0;
			rows = 0;
			continue;
		}
		n++;
		rows += len;
		if (n == G || rows >= GROUP_ROWS) {
			if ((rc = run(&p, n, 0)) < 0)
				break;
			n = 0;
			rows = 0;
		}
	}
	if (!rc && n)
		rc = run(&p, n, 0);
	for (int k = 0; k < G && p.d; k++) {
		g4_doc_free(&p.d[k]);
		if (p.pr)
			g4_prompt_free(&p.pr[k]);
	}
	free(p.d);
	free(p.pr);
	free(p.s);
	free(p.sc);
	free(p.lg);
	*n_docs = nread;
	return rc;
}
