/* batch.c - batched generation over a snapshot stream (see batch.h).
 *
 * A slot is one continuation of one snapshot: its sequence, sampler, the
 * text decoded so far and the bytes it has to print.  Slots sit in a queue
 * in input order; the oldest unfinished ones (up to the batch size) sample
 * one token each per step and go through one g4_forward_multi.  The head of
 * the queue streams its bytes as they come; a finished head is written out
 * (and its snapshot) and leaves. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "err.h"
#include "forward.h"
#include "json.h"
#include "outparse.h"
#include "qtypes.h"
#include "snapshot.h"

void g4_bd_defaults(g4_bd_opts *o)
{
	memset(o, 0, sizeof *o);
	g4_sampler_defaults(&o->sp);
	o->max_new = 256;
	o->samples = 1;
	o->mem_budget = 2.0 * (1 << 30);
}

typedef struct {
	long doc;
	int sample;
	g4_seq *s;
	g4_sampler *smp;
	g4_detok st;
	g4_buf text;		/* decoded so far (stop strings look here) */
	g4_buf out;		/* bytes to print; out_done of them are printed */
	size_t out_done;
	g4_outp *parser;
	int show_thinking;
	int32_t *ids;
	size_t n_ids, ids_cap;
	size_t printed, checked;
	long k;			/* tokens sampled */
	int done, hit;
	const char *finish;
	int32_t tok;		/* the token to run through the model */
} slot;

static void on_piece(void *ctx, int kind, const char *s, size_t n)
{
	slot *x = ctx;
	if (kind == G4_OUT_THINKING && !x->show_thinking)
		return;
	g4_buf_put(&x->out, s, n);
	if (kind == G4_OUT_TOOLCALL)
		g4_buf_putc(&x->out, '\n');
}

static void emit(const g4_bd_opts *o, slot *x, const char *s, size_t n)
{
	if (o->format == G4_BD_JSONL)
		return;		/* the object is written whole at the end */
	if (x->parser)
		g4_outp_feed(x->parser, s, n);
	else
		g4_buf_put(&x->out, s, n);
}

static void slot_free(slot *x)
{
	if (!x)
		return;
	g4_seq_free(x->s);
	g4_sampler_free(x->smp);
	g4_buf_free(&x->text);
	g4_buf_free(&x->out);
	if (x->parser)
		g4_outp_free(x->parser);
	free(x->ids);
	free(x);
}

/* The text of a finished slot, as text mode prints it (for --jsonl). */
static void jsonl_text(const g4_bd_opts *o, slot *x, g4_buf *t)
{
	if (o->raw) {
		g4_buf_put(t, x->text.p, x->text.n);
		return;
	}
	slot tmp = { .show_thinking = x->show_thinking };
	g4_outp *p = g4_outp_new(on_piece, &tmp, 0);
	if (!p) {
		t->oom = 1;
		return;
	}
	g4_outp_feed(p, x->text.p, x->text.n);
	g4_outp_end(p);
	g4_outp_free(p);
	g4_buf_put(t, tmp.out.p, tmp.out.n);
	g4_buf_free(&tmp.out);
}

/* Everything a slot prints once it is done. */
static void finish(const g4_bd_opts *o, const g4_tokenizer *tok, slot *x)
{
	if (tok && !x->hit)
		g4_detok_flush(&x->st, &x->text);
	if (o->format == G4_BD_JSONL) {
		g4_buf t = { 0 };
		jsonl_text(o, x, &t);
		char num[64];
		snprintf(num, sizeof num, "{\"doc\": %ld, ", x->doc);
		g4_buf_puts(&x->out, num);
		if (o->samples > 1) {
			snprintf(num, sizeof num, "\"sample\": %d, ", x->sample);
			g4_buf_puts(&x->out, num);
		}
		g4_buf_puts(&x->out, "\"text\": ");
		g4_json_put_str(&x->out, t.p ? t.p : "", t.n);
		g4_buf_puts(&x->out, ", \"ids\": [");
		for (size_t i = 0; i < x->n_ids; i++) {
			snprintf(num, sizeof num, i ? ", %d" : "%d", x->ids[i]);
			g4_buf_puts(&x->out, num);
		}
		snprintf(num, sizeof num, "], \"n_tokens\": %zu, \"finish\": \"", x->n_ids);
		g4_buf_puts(&x->out, num);
		g4_buf_puts(&x->out, x->finish);
		g4_buf_puts(&x->out, "\"}\n");
		if (t.oom)
			x->out.oom = 1;
		g4_buf_free(&t);
	} else {
		if (o->format == G4_BD_TEXT && x->text.n > x->printed)
			emit(o, x, x->text.p + x->printed, x->text.n - x->printed);
		if (x->parser)
			g4_outp_end(x->parser);
		g4_buf_putc(&x->out, o->nul ? '\0' : '\n');
	}
	x->done = 1;
}

/* One sampling step of a slot (the logits of its last position).  Sets
 * x->tok and returns 1 if the token must go through the model. */
static int step(const g4_model *m, const g4_tokenizer *tok, const g4_bd_opts *o, slot *x, int want_snap)
{
	g4_seq *s = x->s;
	for (int i = 0; i < m->n_suppress; i++)
		if (m->suppress[i] < m->n_vocab)
			s->logits[m->suppress[i]] = -INFINITY;
	int32_t id = g4_sampler_sample(x->smp, s->logits, s->hist, (size_t)s->n_pos);
	if (id < 0)
		return -1;
	x->k++;
	if (x->n_ids == x->ids_cap) {
		size_t cap = x->ids_cap ? 2 * x->ids_cap : 64;
		int32_t *p = realloc(x->ids, cap * sizeof *p);
		if (!p)
			return g4_err("out of memory");
		x->ids = p;
		x->ids_cap = cap;
	}
	const int stop = tok ? g4_tok_is_eog(tok, id) : id == m->eos_id || id == m->eot_id;
	x->ids[x->n_ids++] = id;
	if (o->format == G4_BD_IDS) {
		char num[16];
		snprintf(num, sizeof num, x->k > 1 ? " %d" : "%d", id);
		g4_buf_puts(&x->out, num);
	}
	if (tok && !stop && g4_detok_put(tok, &x->st, id, 0, &x->text) < 0)
		return -1;
	for (int i = 0; i < o->n_stops && !x->hit; i++) {
		size_t L = strlen(o->stops[i]), from = x->checked + 1 > L ? x->checked + 1 - L : 0;
		for (size_t j = from; j + L <= x->text.n; j++)
			if (!memcmp(x->text.p + j, o->stops[i], L)) {
				x->text.n = j;	/* the stop string is not printed */
				x->hit = 1;
				break;
			}
	}
	x->checked = x->text.n;
	if (o->format == G4_BD_TEXT) {
		size_t max_stop = 0;
		for (int i = 0; i < o->n_stops; i++)
			if (strlen(o->stops[i]) > max_stop)
				max_stop = strlen(o->stops[i]);
		size_t hold = x->hit || stop || !max_stop ? 0 : max_stop - 1;
		if (x->text.n > x->printed + hold) {
			emit(o, x, x->text.p + x->printed, x->text.n - hold - x->printed);
			x->printed = x->text.n - hold;
		}
	}
	/* this token goes in at position n_pos; after it the context is full */
	const int full = m->n_ctx_train > 0 && s->n_pos + 1 >= m->n_ctx_train;
	const int end = stop || x->hit || x->k >= o->max_new || full;
	x->finish = stop ? "eos" : x->hit ? "stop" : "length";
	x->tok = id;
	if (end)
		x->done = 2;	/* finish() after the forward, if any */
	return want_snap || !end;
}

int g4_bd_auto_batch(const g4_model *m, uint32_t kv_type, uint64_t n_tokens, const g4_bd_opts *o)
{
	double per = 2.0 * m->n_vocab * sizeof(float) + 64.0 * m->n_embd * sizeof(float);
	const double n = (double)n_tokens + (double)(o->max_new > 0 ? o->max_new : 0);
	for (int l = 0; l < m->n_layer; l++) {
		const g4_layer *L = &m->layers[l];
		if (!L->has_kv)
			continue;
		double rows = L->swa && n > m->window ? m->window : n;
		per += 2.0 * rows * (double)g4_row_bytes(kv_type, g4_model_kv_width(m, l));
	}
	double b = o->mem_budget / per;
	return b < 1 ? 1 : b > 64 ? 64 : (int)b;
}

typedef struct {
	slot **q;		/* queue in input order: q[head .. head+n) mod cap */
	size_t head, n, cap;
} queue;

static slot *qat(const queue *q, size_t i)
{
	return q->q[(q->head + i) % q->cap];
}

/* Writes what the head slots have to print; finished heads leave. */
static int flush(queue *q, FILE *out, FILE *snap_out, const char *snap_name)
{
	int wrote = 0;
	while (q->n) {
		slot *x = qat(q, 0);
		if (x->out.oom)
			return g4_err("out of memory");
		if (x->out.n > x->out_done) {
			if (fwrite(x->out.p + x->out_done, 1, x->out.n - x->out_done, out) != x->out.n - x->out_done)
				return g4_err("writing the output: %s", errno ? strerror(errno) : "write error");
			x->out_done = x->out.n;
			wrote = 1;
		}
		if (x->done != 1)
			break;
		if (snap_out && g4_seq_write_snap(x->s, snap_out, snap_name) < 0)
			return -1;
		slot_free(x);
		q->head = (q->head + 1) % q->cap;
		q->n--;
	}
	if (wrote && (fflush(out) == EOF || ferror(out)))
		return g4_err("writing the output: %s", errno ? strerror(errno) : "write error");
	return 0;
}

/* Reads the next snapshot and queues its samples; 0 at the end of input. */
static int admit(const g4_model *m, const g4_tokenizer *tok, g4_bd_opts *o, FILE *in, const char *in_name,
		 queue *q, long *ndoc)
{
	g4_snap sn;
	int rc = g4_snap_read_model(in, &sn, m, in_name);
	if (rc <= 0)
		return rc;
	long doc = (*ndoc)++;
	if (!o->max_batch)
		o->max_batch = g4_bd_auto_batch(m, sn.kv_type, sn.n_tokens, o);
	for (int j = 0; j < o->samples; j++) {
		slot *x = calloc(1, sizeof *x);
		if (!x) {
			g4_snap_free(&sn);
			return g4_err("out of memory");
		}
		q->q[(q->head + q->n) % q->cap] = x;
		q->n++;
		x->doc = doc;
		x->sample = j;
		x->show_thinking = o->show_thinking;
		x->s = g4_seq_from_snap(m, &sn);
		if (!x->s) {
			g4_snap_free(&sn);
			return g4_err_ctx("snapshot %ld: ", doc + 1);
		}
		g4_sampler_params sp = o->sp;
		sp.seed = o->sp.seed + (uint64_t)j;
		if (!(x->smp = g4_sampler_new(&sp, (uint32_t)m->n_vocab))) {
			g4_snap_free(&sn);
			return -1;
		}
		if (o->format == G4_BD_TEXT && !o->raw && !(x->parser = g4_outp_new(on_piece, x, 0))) {
			g4_snap_free(&sn);
			return -1;
		}
		if (o->format == G4_BD_TEXT && !o->nul && (doc || j))
			g4_buf_putc(&x->out, '\n');	/* a blank line between documents */
		const int full = m->n_ctx_train > 0 && x->s->n_pos >= m->n_ctx_train;
		if (o->max_new <= 0 || !x->s->have_logits || full) {	/* nothing to generate */
			x->finish = x->s->have_logits ? "length" : "empty";
			finish(o, tok, x);
		}
	}
	g4_snap_free(&sn);
	return 1;
}

int g4_bd_run(const g4_model *m, const g4_tokenizer *tok, const g4_bd_opts *o_in, FILE *in,
	      const char *in_name, FILE *out, FILE *snap_out, const char *snap_name)
{
	g4_bd_opts o = *o_in;
	if (o.samples < 1)
		return g4_err("samples must be at least 1");
	queue q = { 0 };
	g4_seq **seqs = NULL;
	g4_batch *bs = NULL;
	slot **act = NULL;
	long ndoc = 0;
	int rc = 0, eof = 0;
	while (!rc) {
		/* keep the batch full; finished documents waiting for an earlier
		 * one count too, up to a few batches (memory stays bounded) */
		for (;;) {
			size_t busy = 0;
			for (size_t i = 0; i < q.n; i++)
				busy += !qat(&q, i)->done;
			const size_t B = o.max_batch ? (size_t)o.max_batch : 1;
			if (eof || (q.n && (busy >= B || q.n + (size_t)o.samples > 4 * B + (size_t)o.samples)))
				break;
			if (q.n + (size_t)o.samples > q.cap) {
				size_t cap = 2 * (q.n + (size_t)o.samples) + 8;
				slot **p = malloc(cap * sizeof *p);
				if (!p) {
					rc = g4_err("out of memory");
					break;
				}
				for (size_t i = 0; i < q.n; i++)
					p[i] = qat(&q, i);
				free(q.q);
				q.q = p;
				q.cap = cap;
				q.head = 0;
			}
			int r = admit(m, tok, &o, in, in_name, &q, &ndoc);
			if (r < 0)
				rc = -1;
			if (r <= 0) {
				eof = 1;
				break;
			}
		}
		if (rc)
			break;
		if (!seqs) {
			const size_t B = (size_t)(o.max_batch ? o.max_batch : 1);
			seqs = malloc(B * sizeof *seqs);
			bs = malloc(B * sizeof *bs);
			act = malloc(B * sizeof *act);
			if (!seqs || !bs || !act) {
				rc = g4_err("out of memory");
				break;
			}
		}
		/* one step of the oldest unfinished slots */
		int na = 0, nf = 0;
		for (size_t i = 0; i < q.n && na < o.max_batch; i++) {
			slot *x = qat(&q, i);
			if (x->done)
				continue;
			int f = step(m, tok, &o, x, snap_out != NULL);
			if (f < 0) {
				rc = -1;
				break;
			}
			act[na++] = x;
			if (f) {
				seqs[nf] = x->s;
				bs[nf] = (g4_batch){ .n = 1, .ids = &x->tok };
				nf++;
			}
		}
		if (rc)
			break;
		if (nf && g4_forward_multi(seqs, bs, nf, NULL) < 0) {
			rc = -1;
			break;
		}
		for (int i = 0; i < na; i++)
			if (act[i]->done == 2)
				finish(&o, tok, act[i]);
		if (flush(&q, out, snap_out, snap_name) < 0) {
			rc = -1;
			break;
		}
		if (!q.n && eof)
			break;
	}
	for (size_t i = 0; i < q.n; i++)
		slot_free(qat(&q, i));
	free(q.q);
	free(seqs);
	free(bs);
	free(act);
	if (!rc && !ndoc)
		rc = g4_err("no snapshot on %s", in_name);
	return rc;
}
