/* outparse.c - streaming split of model output into answer, thought and
 * tool calls (see outparse.h).
 *
 * The text goes through a small state machine; at each step the longest
 * tail that could still be the start of a marker is held back, so markers
 * split across tokens are found and everything else is passed on at once. */
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "outparse.h"

enum { ST_CONTENT, ST_HEAD, ST_THOUGHT, ST_CALL, ST_DONE };

struct g4_outp {
	g4_outp_fn fn;
	void *ctx;
	int st;
	g4_buf hold;		/* unprocessed text */
	g4_buf call;		/* tool call being collected */
	g4_buf ws;		/* content whitespace held back (trim) */
	int content_started;	/* leading whitespace of the answer dropped */
	int thought_started;
	int n_calls;
};

static const char *const M_OPEN = "<|channel>", *const M_CLOSE = "<channel|>",
	*const M_CALL = "<|tool_call>", *const M_CALL_END = "<tool_call|>";
static const char *const M_END[] = { "<turn|>", "<eos>", "<|tool_response>" };

g4_outp *g4_outp_new(g4_outp_fn fn, void *ctx, int flags)
{
	g4_outp *p = calloc(1, sizeof *p);
	if (!p) {
		g4_err("out of memory");
		return NULL;
	}
	p->fn = fn;
	p->ctx = ctx;
	p->st = (flags & G4_OUTP_IN_THOUGHT) ? ST_THOUGHT : ST_CONTENT;
	return p;
}

void g4_outp_free(g4_outp *p)
{
	if (!p)
		return;
	g4_buf_free(&p->hold);
	g4_buf_free(&p->call);
	g4_buf_free(&p->ws);
	free(p);
}

int g4_outp_done(const g4_outp *p) { return p->st == ST_DONE; }
int g4_outp_n_calls(const g4_outp *p) { return p->n_calls; }

static int is_ws(char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; }

/* answer text, trimmed at both ends as a whole */
static void content(g4_outp *p, const char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		if (is_ws(s[i])) {
			size_t j = i;
			while (j < n && is_ws(s[j]))
				j++;
			if (p->content_started)
				g4_buf_put(&p->ws, s + i, j - i);
			i = j;
			continue;
		}
		size_t j = i;
		while (j < n && !is_ws(s[j]))
			j++;
		if (p->ws.n) {
			p->fn(p->ctx, G4_OUT_CONTENT, p->ws.p, p->ws.n);
			p->ws.n = 0;
		}
		p->fn(p->ctx, G4_OUT_CONTENT, s + i, j - i);
		p->content_started = 1;
		i = j;
	}
}

static void thought(g4_outp *p, const char *s, size_t n)
{
	if (n)
		p->fn(p->ctx, G4_OUT_THINKING, s, n);
}

/* Earliest full marker among ms[] in s; its index, position in *at. */
static int find(const char *s, size_t n, const char *const *ms, int nm, size_t *at)
{
	int best = -1;
	size_t bp = n;
	for (int k = 0; k < nm; k++) {
		const char *f = memmem(s, n, ms[k], strlen(ms[k]));
		if (f && (size_t)(f - s) < bp) {
			bp = (size_t)(f - s);
			best = k;
		}
	}
	*at = bp;
	return best;
}

/* Length of the longest tail of s that is a proper prefix of a marker. */
static size_t partial(const char *s, size_t n, const char *const *ms, int nm)
{
	size_t best = 0;
	for (int k = 0; k < nm; k++) {
		size_t ml = strlen(ms[k]);
		for (size_t l = ml - 1; l > best; l--)
			if (l <= n && !memcmp(s + n - l, ms[k], l)) {
				best = l;
				break;
			}
	}
	return best;
}

static void emit_call(g4_outp *p)
{
	g4_buf j = { 0 };
	if (!g4_toolcall_to_json(p->call.p ? p->call.p : "", p->call.n, &j) && !j.oom) {
		p->fn(p->ctx, G4_OUT_TOOLCALL, j.p, j.n);
		p->n_calls++;
	} else {
		/* not a call we understand: pass it on as it was written */
		content(p, M_CALL, strlen(M_CALL));
		content(p, p->call.p ? p->call.p : "", p->call.n);
		content(p, M_CALL_END, strlen(M_CALL_END));
	}
	g4_buf_free(&j);
	p->call.n = 0;
}

/* Processes p->hold as far as possible; returns bytes consumed. */
static size_t step(g4_outp *p, const char *s, size_t n, int final)
{
	size_t at;
	int k;
	switch (p->st) {
	case ST_CONTENT: {
		const char *ms[] = { M_OPEN, M_CLOSE, M_CALL, M_END[0], M_END[1], M_END[2] };
		k = find(s, n, ms, 6, &at);
		if (k < 0) {
			size_t keep = final ? 0 : partial(s, n, ms, 6);
			content(p, s, n - keep);
			return n - keep;
		}
		content(p, s, at);
		at += strlen(ms[k]);
		if (k == 0)
			p->st = ST_HEAD;
		else if (k == 2)
			p->st = ST_CALL;
		else if (k >= 3)
			p->st = ST_DONE;
		/* k == 1: a stray <channel|> is dropped */
		return at;
	}
	case ST_HEAD: {
		/* <|channel> [more <|channel>] thought [whitespace] */
		if (n >= 10 && !memcmp(s, M_OPEN, 10))
			return 10;
		if (n < 10 && !final && !memcmp(s, M_OPEN, n))
			return 0;	/* maybe another opener: wait */
		const char *w = "thought";
		size_t m = n < 7 ? n : 7;
		if (memcmp(s, w, m)) {
			p->st = ST_THOUGHT;	/* another channel name: treat as thought */
			p->thought_started = 1;
			return 0;
		}
		if (n < 7)
			return final ? (p->st = ST_THOUGHT, n) : 0;
		p->st = ST_THOUGHT;
		p->thought_started = 0;
		return 7;
	}
	case ST_THOUGHT: {
		size_t i = 0;
		if (!p->thought_started) {
			while (i < n && is_ws(s[i]))
				i++;
			if (i == n && !final)
				return n;
			p->thought_started = 1;
		}
		const char *ms[] = { M_CLOSE, M_END[0], M_END[1] };
		k = find(s + i, n - i, ms, 3, &at);
		if (k < 0) {
			size_t keep = final ? 0 : partial(s + i, n - i, ms, 3);
			thought(p, s + i, n - i - keep);
			return n - keep;
		}
		thought(p, s + i, at);
		p->st = k == 0 ? ST_CONTENT : ST_DONE;
		return i + at + strlen(ms[k]);
	}
	case ST_CALL: {
		const char *ms[] = { M_CALL_END };
		k = find(s, n, ms, 1, &at);
		if (k < 0) {
			size_t keep = final ? 0 : partial(s, n, ms, 1);
			g4_buf_put(&p->call, s, n - keep);
			if (final) {
				emit_call(p);
				p->st = ST_DONE;
			}
			return n - keep;
		}
		g4_buf_put(&p->call, s, at);
		emit_call(p);
		p->st = ST_CONTENT;
		return at + strlen(M_CALL_END);
	}
	default:
		return n;
	}
}

static void run(g4_outp *p, int final)
{
	size_t off = 0;
	for (;;) {
		int st = p->st;
		size_t used = step(p, p->hold.p + off, p->hold.n - off, final);
		off += used;
		if (off >= p->hold.n || (used == 0 && st == p->st))
			break;
	}
	memmove(p->hold.p, p->hold.p + off, p->hold.n - off);
	p->hold.n -= off;
}

void g4_outp_feed(g4_outp *p, const char *s, size_t n)
{
	if (p->st == ST_DONE || !n)
		return;
	g4_buf_put(&p->hold, s, n);
	run(p, 0);
}

void g4_outp_end(g4_outp *p)
{
	if (p->hold.n)
		run(p, 1);
	if (p->st == ST_CALL && p->call.n)
		emit_call(p);
	p->hold.n = 0;
	p->ws.n = 0;	/* trailing whitespace of the answer is trimmed */
}

/* ---- call:NAME{...} -> JSON -------------------------------------------- */

typedef struct {
	const char *s;
	size_t n, i;
	int depth;
} cp;

#define STR "<|\"|>"

static int cerr(cp *c, const char *what)
{
	return g4_err("tool call: byte %zu: %s", c->i, what);
}

static void cws(cp *c)
{
	while (c->i < c->n && is_ws(c->s[c->i]))
		c->i++;
}

static int at(cp *c, const char *w)
{
	size_t l = strlen(w);
	return c->n - c->i >= l && !memcmp(c->s + c->i, w, l);
}

static int value(cp *c, g4_buf *o);

static int cstring(cp *c, g4_buf *o)
{
	c->i += 5;
	const char *e = memmem(c->s + c->i, c->n - c->i, STR, 5);
	if (!e)
		return cerr(c, "unterminated string");
	g4_json_put_str(o, c->s + c->i, (size_t)(e - (c->s + c->i)));
	c->i = (size_t)(e - c->s) + 5;
	return 0;
}

/* At the '{' or '[' of an object or array: steps in, copies it to o. */
static int nest_open(cp *c, g4_buf *o)
{
	char open = c->s[c->i++];
	if (++c->depth > 128)
		return cerr(c, "nested too deeply");
	g4_buf_putc(o, open);
	cws(c);
	return 0;
}

/* Before a member other than the first: its ',' (else the error why). */
static int nest_comma(cp *c, g4_buf *o, const char *why)
{
	if (c->s[c->i] != ',')
		return cerr(c, why);
	c->i++;
	g4_buf_putc(o, ',');
	return 0;
}

/* At the close (or the end of the text: the error why): steps out. */
static int nest_close(cp *c, g4_buf *o, char close, const char *why)
{
	if (c->i >= c->n)
		return cerr(c, why);
	c->i++;
	c->depth--;
	g4_buf_putc(o, close);
	return 0;
}

static int object(cp *c, g4_buf *o)
{
	if (nest_open(c, o))
		return -1;
	int first = 1;
	while (c->i < c->n && c->s[c->i] != '}') {
		if (!first) {
			if (nest_comma(c, o, "expected ',' or '}'"))
				return -1;
			cws(c);
		}
		first = 0;
		if (at(c, STR)) {
			if (cstring(c, o))
				return -1;
		} else {
			size_t st = c->i;
			while (c->i < c->n && c->s[c->i] != ':' && c->s[c->i] != '}')
				c->i++;
			size_t e = c->i;
			while (e > st && is_ws(c->s[e - 1]))
				e--;
			if (e == st)
				return cerr(c, "expected a key");
			g4_json_put_str(o, c->s + st, e - st);
		}
		cws(c);
		if (c->i >= c->n || c->s[c->i] != ':')
			return cerr(c, "expected ':'");
		c->i++;
		g4_buf_putc(o, ':');
		cws(c);
		if (value(c, o))
			return -1;
		cws(c);
	}
	return nest_close(c, o, '}', "unterminated object");
}

static int value(cp *c, g4_buf *o)
{
	cws(c);
	if (c->i >= c->n)
		return cerr(c, "expected a value");
	char ch = c->s[c->i];
	if (at(c, STR))
		return cstring(c, o);
	if (ch == '{')
		return object(c, o);
	if (ch == '[') {
		if (nest_open(c, o))
			return -1;
		int first = 1;
		while (c->i < c->n && c->s[c->i] != ']') {
			if (!first && nest_comma(c, o, "expected ',' or ']'"))
				return -1;
			first = 0;
			if (value(c, o))
				return -1;
			cws(c);
		}
		return nest_close(c, o, ']', "unterminated array");
	}
	/* a bare word: number, true, false, null (Python spellings too) */
	size_t st = c->i;
	while (c->i < c->n && !strchr(",}]", c->s[c->i]) && !is_ws(c->s[c->i]))
		c->i++;
	size_t l = c->i - st;
	const char *w = c->s + st;
	if (!l)
		return cerr(c, "expected a value");
	if ((l == 4 && (!memcmp(w, "true", 4) || !memcmp(w, "True", 4))))
		g4_buf_puts(o, "true");
	else if (l == 5 && (!memcmp(w, "false", 5) || !memcmp(w, "False", 5)))
		g4_buf_puts(o, "false");
	else if ((l == 4 && (!memcmp(w, "null", 4) || !memcmp(w, "None", 4))))
		g4_buf_puts(o, "null");
	else {
		g4_json *j = g4_json_parse(w, l, "number");
		if (j && j->type == G4_JSON_NUMBER)
			g4_buf_put(o, w, l);
		else
			g4_json_put_str(o, w, l);	/* unquoted text: kept as a string */
		g4_json_free(j);
		g4_err_clear();
	}
	return 0;
}

int g4_toolcall_to_json(const char *s, size_t n, g4_buf *o)
{
	cp c = { s, n, 0, 0 };
	cws(&c);
	if (!at(&c, "call:"))
		return cerr(&c, "expected 'call:'");
	c.i += 5;
	size_t st = c.i;
	while (c.i < c.n && c.s[c.i] != '{')
		c.i++;
	if (c.i >= c.n || c.i == st)
		return cerr(&c, "expected NAME{");
	g4_buf_puts(o, "{\"name\":");
	g4_json_put_str(o, s + st, c.i - st);
	g4_buf_puts(o, ",\"arguments\":");
	if (object(&c, o))
		return -1;
	cws(&c);
	if (c.i != c.n)
		return cerr(&c, "text after the arguments");
	g4_buf_putc(o, '}');
	return 0;
}
