/* json.c - JSON pull reader, tree and writer helpers (see json.h).
 *
 * RFC 8259: strings must be valid UTF-8 after unescaping (lone surrogates
 * from \u escapes are refused), no trailing commas, no comments. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include "err.h"
#include "json.h"

#define MAX_DEPTH 512

/* ---- buffer ---------------------------------------------------------- */

void g4_buf_put(g4_buf *b, const void *p, size_t n)
{
	if (b->oom)
		return;
	if (b->n + n + 1 > b->cap) {
		size_t c = b->cap ? b->cap : 256;
		while (c < b->n + n + 1)
			c *= 2;
		char *q = realloc(b->p, c);
		if (!q) {
			b->oom = 1;
			return;
		}
		b->p = q;
		b->cap = c;
	}
	if (n)
		memcpy(b->p + b->n, p, n);
	b->n += n;
	b->p[b->n] = 0;
}

void g4_buf_puts(g4_buf *b, const char *s) { g4_buf_put(b, s, strlen(s)); }
void g4_buf_putc(g4_buf *b, int c) { char ch = (char)c; g4_buf_put(b, &ch, 1); }
void g4_buf_free(g4_buf *b) { free(b->p); memset(b, 0, sizeof *b); }

/* ---- pull reader ----------------------------------------------------- */

static int jerr(g4_jp *p, const char *what)
{
	return g4_err("%s: byte %zu: %s", p->name, p->i, what);
}

static void ws(g4_jp *p)
{
	while (p->i < p->n) {
		char c = p->s[p->i];
		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			break;
		p->i++;
	}
}

void g4_jp_init(g4_jp *p, const char *s, size_t n, const char *name)
{
	memset(p, 0, sizeof *p);
	p->s = s;
	p->n = n;
	p->name = name ? name : "json";
}

void g4_jp_done(g4_jp *p) { free(p->tmp); p->tmp = NULL; p->tmp_cap = 0; }

int g4_jp_peek(g4_jp *p)
{
	ws(p);
	if (p->i >= p->n)
		return jerr(p, "unexpected end of input");
	switch (p->s[p->i]) {
	case '{': return G4_JSON_OBJECT;
	case '[': return G4_JSON_ARRAY;
	case '"': return G4_JSON_STRING;
	case 't': return G4_JSON_TRUE;
	case 'f': return G4_JSON_FALSE;
	case 'n': return G4_JSON_NULL;
	default:
		if (p->s[p->i] == '-' || (p->s[p->i] >= '0' && p->s[p->i] <= '9'))
			return G4_JSON_NUMBER;
		return jerr(p, "expected a value");
	}
}

static int expect(g4_jp *p, char c)
{
	ws(p);
	if (p->i >= p->n || p->s[p->i] != c) {
		char m[32];
		snprintf(m, sizeof m, "expected '%c'", c);
		return jerr(p, m);
	}
	p->i++;
	return 0;
}

int g4_jp_obj_begin(g4_jp *p)
{
	if (expect(p, '{'))
		return -1;
	if (++p->depth > MAX_DEPTH)
		return jerr(p, "nested too deeply");
	return 0;
}

static int tmp_put(g4_jp *p, size_t *len, const char *src, size_t n)
{
	if (*len + n + 1 > p->tmp_cap) {
		size_t c = p->tmp_cap ? p->tmp_cap : 256;
		while (c < *len + n + 1)
			c *= 2;
		char *q = realloc(p->tmp, c);
		if (!q)
			return jerr(p, "out of memory");
		p->tmp = q;
		p->tmp_cap = c;
	}
	memcpy(p->tmp + *len, src, n);
	*len += n;
	return 0;
}

/* Length of a valid UTF-8 sequence at s (1..4), 0 if invalid. */
static int utf8_ok(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	if (c < 0x80) return 1;
	if (c < 0xC2) return 0;
	if (c < 0xE0) return n >= 2 && (s[1] & 0xC0) == 0x80 ? 2 : 0;
	if (c < 0xF0) {
		if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80) return 0;
		if (c == 0xE0 && s[1] < 0xA0) return 0;
		if (c == 0xED && s[1] >= 0xA0) return 0;
		return 3;
	}
	if (c < 0xF5) {
		if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80) return 0;
		if (c == 0xF0 && s[1] < 0x90) return 0;
		if (c == 0xF4 && s[1] >= 0x90) return 0;
		return 4;
	}
	return 0;
}

static int hex4(g4_jp *p, unsigned *v)
{
	if (p->n - p->i < 4)
		return jerr(p, "truncated \\u escape");
	unsigned x = 0;
	for (int k = 0; k < 4; k++) {
		char c = p->s[p->i + k];
		x <<= 4;
		if (c >= '0' && c <= '9') x |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f') x |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F') x |= (unsigned)(c - 'A' + 10);
		else return jerr(p, "bad \\u escape");
	}
	p->i += 4;
	*v = x;
	return 0;
}

static size_t put_utf8(char *o, unsigned cp)
{
	if (cp < 0x80) { o[0] = (char)cp; return 1; }
	if (cp < 0x800) { o[0] = (char)(0xC0 | cp >> 6); o[1] = (char)(0x80 | (cp & 63)); return 2; }
	if (cp < 0x10000) {
		o[0] = (char)(0xE0 | cp >> 12); o[1] = (char)(0x80 | ((cp >> 6) & 63));
		o[2] = (char)(0x80 | (cp & 63)); return 3;
	}
	o[0] = (char)(0xF0 | cp >> 18); o[1] = (char)(0x80 | ((cp >> 12) & 63));
	o[2] = (char)(0x80 | ((cp >> 6) & 63)); o[3] = (char)(0x80 | (cp & 63));
	return 4;
}

int g4_jp_str(g4_jp *p, const char **out, size_t *olen)
{
	if (expect(p, '"'))
		return -1;
	size_t len = 0;
	for (;;) {
		/* copy a run without escapes */
		size_t st = p->i;
		while (p->i < p->n) {
			unsigned char c = (unsigned char)p->s[p->i];
			if (c == '"' || c == '\\' || c < 0x20)
				break;
			if (c < 0x80) {
				p->i++;
				continue;
			}
			int k = utf8_ok((const unsigned char *)p->s + p->i, p->n - p->i);
			if (!k)
				return jerr(p, "invalid UTF-8 in a string");
			p->i += (size_t)k;
		}
		if (p->i > st && tmp_put(p, &len, p->s + st, p->i - st))
			return -1;
		if (p->i >= p->n)
			return jerr(p, "unterminated string");
		char c = p->s[p->i];
		if (c == '"') {
			p->i++;
			break;
		}
		if ((unsigned char)c < 0x20)
			return jerr(p, "control character in a string");
		p->i++;		/* backslash */
		if (p->i >= p->n)
			return jerr(p, "unterminated string");
		char e = p->s[p->i++], o[4];
		size_t k = 1;
		switch (e) {
		case '"': o[0] = '"'; break;
		case '\\': o[0] = '\\'; break;
		case '/': o[0] = '/'; break;
		case 'b': o[0] = '\b'; break;
		case 'f': o[0] = '\f'; break;
		case 'n': o[0] = '\n'; break;
		case 'r': o[0] = '\r'; break;
		case 't': o[0] = '\t'; break;
		case 'u': {
			unsigned cp;
			if (hex4(p, &cp))
				return -1;
			if (cp >= 0xD800 && cp < 0xDC00) {
				unsigned lo;
				if (p->n - p->i < 2 || p->s[p->i] != '\\' || p->s[p->i + 1] != 'u')
					return jerr(p, "lone surrogate in \\u escape");
				p->i += 2;
				if (hex4(p, &lo))
					return -1;
				if (lo < 0xDC00 || lo >= 0xE000)
					return jerr(p, "bad surrogate pair");
				cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
			} else if (cp >= 0xDC00 && cp < 0xE000)
				return jerr(p, "lone surrogate in \\u escape");
			k = put_utf8(o, cp);
			break;
		}
		default:
			p->i--;
			return jerr(p, "bad escape");
		}
		if (tmp_put(p, &len, o, k))
			return -1;
	}
	if (tmp_put(p, &len, "", 1))	/* NUL, not counted */
		return -1;
	len--;
	*out = p->tmp;
	*olen = len;
	return 0;
}

/* The step to the next member of an object or array (open, close: its
 * brackets): 0 at the close (consumed), 1 before the next member (its ','
 * consumed), -1 on an error; what = "object" or "array". */
static int next_member(g4_jp *p, char open, char close, const char *what)
{
	ws(p);
	if (p->i >= p->n)
		return g4_err("%s: byte %zu: unterminated %s", p->name, p->i, what);
	if (p->s[p->i] == close) {
		p->i++;
		p->depth--;
		return 0;
	}
	/* after the open bracket directly, or after ',' */
	char prev = 0;
	for (size_t j = p->i; j > 0; j--) {
		char c = p->s[j - 1];
		if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
			prev = c;
			break;
		}
	}
	if (prev != open) {
		if (p->s[p->i] != ',')
			return g4_err("%s: byte %zu: expected ',' or '%c'", p->name, p->i, close);
		p->i++;
	}
	return 1;
}

int g4_jp_obj_next(g4_jp *p, const char **key, size_t *len)
{
	int r = next_member(p, '{', '}', "object");
	if (r <= 0)
		return r;
	ws(p);
	if (p->i >= p->n || p->s[p->i] != '"')
		return jerr(p, "expected a key string");
	if (g4_jp_str(p, key, len) || expect(p, ':'))
		return -1;
	return 1;
}

int g4_jp_arr_begin(g4_jp *p)
{
	if (expect(p, '['))
		return -1;
	if (++p->depth > MAX_DEPTH)
		return jerr(p, "nested too deeply");
	return 0;
}

int g4_jp_arr_next(g4_jp *p)
{
	return next_member(p, '[', ']', "array");
}

static int lit(g4_jp *p, const char *w)
{
	size_t n = strlen(w);
	ws(p);
	if (p->n - p->i < n || memcmp(p->s + p->i, w, n))
		return jerr(p, "expected a value");
	p->i += n;
	return 0;
}

/* Scans a number; sets its span. */
static int number(g4_jp *p, size_t *st, size_t *en)
{
	ws(p);
	size_t i = p->i;
	*st = i;
	if (i < p->n && p->s[i] == '-') i++;
	if (i >= p->n) return jerr(p, "bad number");
	if (p->s[i] == '0') i++;
	else if (p->s[i] >= '1' && p->s[i] <= '9') { while (i < p->n && p->s[i] >= '0' && p->s[i] <= '9') i++; }
	else return jerr(p, "bad number");
	if (i < p->n && p->s[i] == '.') {
		i++;
		if (i >= p->n || p->s[i] < '0' || p->s[i] > '9') { p->i = i; return jerr(p, "bad number"); }
		while (i < p->n && p->s[i] >= '0' && p->s[i] <= '9') i++;
	}
	if (i < p->n && (p->s[i] == 'e' || p->s[i] == 'E')) {
		i++;
		if (i < p->n && (p->s[i] == '+' || p->s[i] == '-')) i++;
		if (i >= p->n || p->s[i] < '0' || p->s[i] > '9') { p->i = i; return jerr(p, "bad number"); }
		while (i < p->n && p->s[i] >= '0' && p->s[i] <= '9') i++;
	}
	p->i = i;
	*en = i;
	return 0;
}

int g4_jp_i64(g4_jp *p, int64_t *v)
{
	size_t st, en;
	if (g4_jp_peek(p) != G4_JSON_NUMBER)
		return jerr(p, "expected a number");
	if (number(p, &st, &en))
		return -1;
	char b[40];
	if (en - st >= sizeof b)
		return jerr(p, "number out of range");
	memcpy(b, p->s + st, en - st);
	b[en - st] = 0;
	char *e;
	double d = strtod(b, &e);
	if (d != floor(d) || fabs(d) > 9.0e15) {
		p->i = st;
		return jerr(p, "expected an integer");
	}
	*v = (int64_t)d;
	return 0;
}

int g4_jp_bool(g4_jp *p, int *v)
{
	int t = g4_jp_peek(p);
	if (t == G4_JSON_TRUE) { *v = 1; return lit(p, "true"); }
	if (t == G4_JSON_FALSE) { *v = 0; return lit(p, "false"); }
	if (t == G4_JSON_NULL) { *v = 0; return lit(p, "null"); }
	return t < 0 ? -1 : jerr(p, "expected true or false");
}

int g4_jp_skip(g4_jp *p)
{
	int t = g4_jp_peek(p), r;
	const char *s;
	size_t n, a, b;
	switch (t) {
	case G4_JSON_NULL: return lit(p, "null");
	case G4_JSON_TRUE: return lit(p, "true");
	case G4_JSON_FALSE: return lit(p, "false");
	case G4_JSON_NUMBER: return number(p, &a, &b);
	case G4_JSON_STRING: return g4_jp_str(p, &s, &n);
	case G4_JSON_ARRAY:
		if (g4_jp_arr_begin(p)) return -1;
		while ((r = g4_jp_arr_next(p)) > 0)
			if (g4_jp_skip(p)) return -1;
		return r;
	case G4_JSON_OBJECT:
		if (g4_jp_obj_begin(p)) return -1;
		while ((r = g4_jp_obj_next(p, &s, &n)) > 0)
			if (g4_jp_skip(p)) return -1;
		return r;
	}
	return -1;
}

int g4_jp_end(g4_jp *p)
{
	ws(p);
	if (p->i != p->n)
		return jerr(p, "trailing characters after the JSON value");
	return 0;
}

/* ---- tree ------------------------------------------------------------ */

/* Every node and string of a tree lives in one list of blocks, freed with
 * the root.  The root's first hidden header points at the block list. */
typedef struct blk { struct blk *next; } blk;
typedef struct { blk *blocks; g4_json root; } tree;

static void *talloc(tree *t, size_t n)
{
	blk *b = malloc(sizeof(blk) + n + 1);
	if (!b)
		return NULL;
	b->next = t->blocks;
	t->blocks = b;
	return (char *)(b + 1);
}

static char *tdup(tree *t, const char *s, size_t n)
{
	char *d = talloc(t, n + 1);
	if (d) {
		memcpy(d, s, n);
		d[n] = 0;
	}
	return d;
}

static int build(tree *t, g4_jp *p, g4_json *j)
{
	int ty = g4_jp_peek(p), r;
	if (ty < 0)
		return -1;
	memset(j, 0, sizeof *j);
	ws(p);
	j->type = ty;
	j->off = p->i;
	const char *s;
	size_t n;
	switch (ty) {
	case G4_JSON_NULL: return lit(p, "null");
	case G4_JSON_TRUE: return lit(p, "true");
	case G4_JSON_FALSE: return lit(p, "false");
	case G4_JSON_NUMBER: {
		size_t a, b;
		if (number(p, &a, &b))
			return -1;
		j->str = tdup(t, p->s + a, b - a);
		if (!j->str)
			return jerr(p, "out of memory");
		j->len = b - a;
		j->num = strtod(j->str, NULL);
		return 0;
	}
	case G4_JSON_STRING:
		if (g4_jp_str(p, &s, &n))
			return -1;
		j->str = tdup(t, s, n);
		j->len = n;
		return j->str ? 0 : jerr(p, "out of memory");
	default: {
		size_t cap = 0;
		g4_json *kids = NULL;
		int obj = ty == G4_JSON_OBJECT;
		if (obj ? g4_jp_obj_begin(p) : g4_jp_arr_begin(p))
			return -1;
		for (;;) {
			r = obj ? g4_jp_obj_next(p, &s, &n) : g4_jp_arr_next(p);
			if (r <= 0)
				break;
			if (j->n == cap) {
				cap = cap ? cap * 2 : 4;
				g4_json *q = realloc(kids, cap * sizeof *kids);
				if (!q) { r = jerr(p, "out of memory"); break; }
				kids = q;
			}
			const char *key = NULL;
			if (obj && !(key = tdup(t, s, n))) { r = jerr(p, "out of memory"); break; }
			if (build(t, p, &kids[j->n])) { r = -1; break; }
			kids[j->n].key = key;
			kids[j->n].key_len = obj ? n : 0;
			j->n++;
		}
		if (r == 0 && j->n) {
			j->kid = talloc(t, j->n * sizeof *kids);
			if (j->kid)
				memcpy(j->kid, kids, j->n * sizeof *kids);
			else
				r = jerr(p, "out of memory");
		}
		free(kids);
		return r;
	}
	}
}

g4_json *g4_json_parse(const char *s, size_t n, const char *name)
{
	tree *t = calloc(1, sizeof *t);
	if (!t) {
		g4_err("out of memory");
		return NULL;
	}
	g4_jp p;
	g4_jp_init(&p, s, n, name);
	int r = build(t, &p, &t->root);
	if (!r)
		r = g4_jp_end(&p);
	g4_jp_done(&p);
	if (r) {
		g4_json_free(&t->root);
		return NULL;
	}
	return &t->root;
}

void g4_json_free(g4_json *j)
{
	if (!j)
		return;
	tree *t = (tree *)((char *)j - offsetof(tree, root));
	for (blk *b = t->blocks, *nx; b; b = nx) {
		nx = b->next;
		free(b);
	}
	free(t);
}

const g4_json *g4_json_get(const g4_json *o, const char *key)
{
	if (!o || o->type != G4_JSON_OBJECT)
		return NULL;
	size_t kl = strlen(key);
	for (size_t i = o->n; i-- > 0;)
		if (o->kid[i].key_len == kl && !memcmp(o->kid[i].key, key, kl))
			return &o->kid[i];
	return NULL;
}

const g4_json *g4_json_member(const g4_json *o, size_t i)
{
	if (!o || o->type != G4_JSON_OBJECT || i >= o->n)
		return NULL;
	const g4_json *m = &o->kid[i];
	for (size_t k = o->n - 1; k > i; k--)
		if (o->kid[k].key_len == m->key_len && !memcmp(o->kid[k].key, m->key, m->key_len))
			return &o->kid[k];
	return m;
}

int g4_json_truthy(const g4_json *j)
{
	if (!j)
		return 0;
	switch (j->type) {
	case G4_JSON_NULL: case G4_JSON_FALSE: return 0;
	case G4_JSON_TRUE: return 1;
	case G4_JSON_NUMBER: return j->num != 0;
	case G4_JSON_STRING: return j->len > 0;
	default: return j->n > 0;
	}
}

int g4_json_is_int(const g4_json *j)
{
	return j && j->type == G4_JSON_NUMBER && !memchr(j->str, '.', j->len) &&
	       !memchr(j->str, 'e', j->len) && !memchr(j->str, 'E', j->len);
}

/* ---- writer ---------------------------------------------------------- */

void g4_json_put_str(g4_buf *b, const char *s, size_t n)
{
	g4_buf_putc(b, '"');
	size_t i = 0, st = 0;
	while (i < n) {
		unsigned char c = (unsigned char)s[i];
		const char *esc = NULL;
		char u[8];
		int k = 1;
		if (c == '"') esc = "\\\"";
		else if (c == '\\') esc = "\\\\";
		else if (c == '\n') esc = "\\n";
		else if (c == '\r') esc = "\\r";
		else if (c == '\t') esc = "\\t";
		else if (c == '\b') esc = "\\b";
		else if (c == '\f') esc = "\\f";
		else if (c < 0x20 || c == 0x7f) { snprintf(u, sizeof u, "\\u%04x", c); esc = u; }
		else if (c >= 0x80) {
			k = utf8_ok((const unsigned char *)s + i, n - i);
			if (!k) { esc = "\xEF\xBF\xBD"; k = 1; }
		}
		if (esc) {
			g4_buf_put(b, s + st, i - st);
			g4_buf_puts(b, esc);
			i += (size_t)k;
			st = i;
		} else
			i += (size_t)k;
	}
	g4_buf_put(b, s + st, n - st);
	g4_buf_putc(b, '"');
}

void g4_json_put(g4_buf *b, const g4_json *j)
{
	switch (j->type) {
	case G4_JSON_NULL: g4_buf_puts(b, "null"); break;
	case G4_JSON_TRUE: g4_buf_puts(b, "true"); break;
	case G4_JSON_FALSE: g4_buf_puts(b, "false"); break;
	case G4_JSON_NUMBER: g4_buf_put(b, j->str, j->len); break;
	case G4_JSON_STRING: g4_json_put_str(b, j->str, j->len); break;
	case G4_JSON_ARRAY:
	case G4_JSON_OBJECT:
		g4_buf_putc(b, j->type == G4_JSON_ARRAY ? '[' : '{');
		for (size_t i = 0; i < j->n; i++) {
			if (i)
				g4_buf_putc(b, ',');
			if (j->type == G4_JSON_OBJECT) {
				g4_json_put_str(b, j->kid[i].key, j->kid[i].key_len);
				g4_buf_putc(b, ':');
			}
			g4_json_put(b, &j->kid[i]);
		}
		g4_buf_putc(b, j->type == G4_JSON_ARRAY ? ']' : '}');
		break;
	}
}
