/* chat.c - Gemma 4 chat template renderer (see chat.h).
 *
 * Each function below mirrors one macro or block of the Jinja template
 * (google-gemma-4-31B-it.jinja); comments name it.  "py" helpers print a
 * JSON value the way jinja prints the Python object json.loads gives. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "err.h"

static const char *const tmpl_names[G4_TMPL_COUNT] = { "gemma4", "gemma4-2607", "gemma4-2607-e" };

int g4_chat_template_by_name(const char *name)
{
	for (int i = 0; i < G4_TMPL_COUNT; i++)
		if (!strcmp(name, tmpl_names[i]))
			return i;
	return -1;
}

const char *g4_chat_template_name(int t)
{
	return t >= 0 && t < G4_TMPL_COUNT ? tmpl_names[t] : "?";
}

int g4_chat_template_detect(const char *j)
{
	if (!j || !strstr(j, "<|turn>") || !strstr(j, "<|tool_call>"))
		return -1;
	int revised = strstr(j, "prev_message_type == 'tool_response' and enable_thinking") != NULL;
	int empty_block = strstr(j, "<|channel>thought\\n<channel|>") != NULL;
	if (!revised)
		return G4_TMPL_GEMMA4;
	return empty_block ? G4_TMPL_GEMMA4_2607 : G4_TMPL_GEMMA4_2607_E;
}

/* ---- render state ------------------------------------------------------ */

typedef struct {
	g4_buf *b;
	int tmpl, think, agp;
	g4_chat_media *media;
	size_t n_media, cap_media;
	int err;
} R;

#define Q "<|\"|>"
static const g4_json null_node = { .type = G4_JSON_NULL };

static int rerr(R *r, const g4_json *at, const char *fmt, const char *what)
{
	if (!r->err) {
		if (at)
			g4_err("%s%s (byte %zu)", fmt, what ? what : "", at->off);
		else
			g4_err("%s%s", fmt, what ? what : "");
	}
	r->err = 1;
	return -1;
}

static void put(R *r, const char *s) { g4_buf_puts(r->b, s); }

static const g4_json *get(const g4_json *o, const char *k) { return g4_json_get(o, k); }

static int is_str(const g4_json *j) { return j && j->type == G4_JSON_STRING; }
static int is_map(const g4_json *j) { return j && j->type == G4_JSON_OBJECT; }
static int is_list(const g4_json *j) { return j && j->type == G4_JSON_ARRAY; }

static int streq(const g4_json *j, const char *s)
{
	return is_str(j) && j->len == strlen(s) && !memcmp(j->str, s, j->len);
}

/* Python str.isspace() for one code point at s; its byte length or 0. */
static int py_space(const unsigned char *s, size_t n)
{
	if (!n) return 0;
	unsigned c = s[0];
	if (c == ' ' || (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x1F)) return 1;
	if (c == 0xC2 && n >= 2 && (s[1] == 0x85 || s[1] == 0xA0)) return 2;
	if (n >= 3 && c == 0xE1 && s[1] == 0x9A && s[2] == 0x80) return 3;	/* U+1680 */
	if (n >= 3 && c == 0xE2 && s[1] == 0x80 && (s[2] <= 0x8A || s[2] == 0xA8 || s[2] == 0xA9 || s[2] == 0xAF)) return 3;
	if (n >= 3 && c == 0xE2 && s[1] == 0x81 && s[2] == 0x9F) return 3;	/* U+205F */
	if (n >= 3 && c == 0xE3 && s[1] == 0x80 && s[2] == 0x80) return 3;	/* U+3000 */
	return 0;
}

/* Python str.strip(): trims in place (pointer and length). */
static void py_strip(const char **s, size_t *n)
{
	const unsigned char *p = (const unsigned char *)*s;
	size_t a = 0, e = *n;
	int k;
	while (a < e && (k = py_space(p + a, e - a)))
		a += (size_t)k;
	while (e > a) {
		/* step back over one code point */
		size_t st = e - 1;
		while (st > a && (p[st] & 0xC0) == 0x80)
			st--;
		if (py_space(p + st, e - st) != (int)(e - st))
			break;
		e = st;
	}
	*s += a;
	*n = e - a;
}

/* ---- Python printing ----------------------------------------------------- */

static void py_float(g4_buf *b, double x)
{
	if (isnan(x)) { g4_buf_puts(b, "nan"); return; }
	if (isinf(x)) { g4_buf_puts(b, x < 0 ? "-inf" : "inf"); return; }
	char e[40];
	int p;
	for (p = 1; p <= 17; p++) {
		snprintf(e, sizeof e, "%.*e", p - 1, x);
		if (strtod(e, NULL) == x)
			break;
	}
	/* e = [-]d[.ddd]e[+-]XX: digits and decimal exponent */
	char dig[24];
	int nd = 0, neg = e[0] == '-';
	const char *q = e + neg;
	for (; *q && *q != 'e'; q++)
		if (*q != '.')
			dig[nd++] = *q;
	int exp10 = atoi(q + 1);
	while (nd > 1 && dig[nd - 1] == '0')
		nd--;
	int decpt = exp10 + 1;
	if (neg)
		g4_buf_putc(b, '-');
	if (decpt <= -4 || decpt > 16) {
		g4_buf_putc(b, dig[0]);
		if (nd > 1) {
			g4_buf_putc(b, '.');
			g4_buf_put(b, dig + 1, (size_t)nd - 1);
		}
		char ex[16];
		snprintf(ex, sizeof ex, "e%c%02d", exp10 < 0 ? '-' : '+', abs(exp10));
		g4_buf_puts(b, ex);
	} else if (decpt <= 0) {
		g4_buf_puts(b, "0.");
		for (int i = 0; i < -decpt; i++)
			g4_buf_putc(b, '0');
		g4_buf_put(b, dig, (size_t)nd);
	} else {
		for (int i = 0; i < decpt; i++)
			g4_buf_putc(b, i < nd ? dig[i] : '0');
		g4_buf_putc(b, '.');
		if (nd > decpt)
			g4_buf_put(b, dig + decpt, (size_t)(nd - decpt));
		else
			g4_buf_putc(b, '0');
	}
}

static void py_number(g4_buf *b, const g4_json *j)
{
	if (g4_json_is_int(j)) {
		const char *s = j->str;
		size_t n = j->len;
		if (n == 2 && !memcmp(s, "-0", 2)) { g4_buf_putc(b, '0'); return; }
		g4_buf_put(b, s, n);
	} else
		py_float(b, j->num);
}

static void py_repr(g4_buf *b, const g4_json *j);

static void py_repr_str(g4_buf *b, const char *s, size_t n)
{
	int q = memchr(s, '\'', n) && !memchr(s, '"', n) ? '"' : '\'';
	g4_buf_putc(b, q);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char e[8];
		if (c == '\\' || c == q) { g4_buf_putc(b, '\\'); g4_buf_putc(b, c); }
		else if (c == '\n') g4_buf_puts(b, "\\n");
		else if (c == '\r') g4_buf_puts(b, "\\r");
		else if (c == '\t') g4_buf_puts(b, "\\t");
		else if (c < 0x20 || c == 0x7f) { snprintf(e, sizeof e, "\\x%02x", c); g4_buf_puts(b, e); }
		else g4_buf_putc(b, c);
	}
	g4_buf_putc(b, q);
}

/* Object members as Python's dict keeps them: first position, last value. */
static int first_of_key(const g4_json *o, size_t i)
{
	for (size_t k = 0; k < i && k < 4096; k++)
		if (o->kid[k].key_len == o->kid[i].key_len && !memcmp(o->kid[k].key, o->kid[i].key, o->kid[i].key_len))
			return 0;
	return 1;
}

static void py_str(g4_buf *b, const g4_json *j)
{
	if (!j)
		return;		/* Undefined prints nothing */
	switch (j->type) {
	case G4_JSON_STRING: g4_buf_put(b, j->str, j->len); break;
	default: py_repr(b, j); break;
	}
}

static void py_repr(g4_buf *b, const g4_json *j)
{
	switch (j->type) {
	case G4_JSON_NULL: g4_buf_puts(b, "None"); break;
	case G4_JSON_TRUE: g4_buf_puts(b, "True"); break;
	case G4_JSON_FALSE: g4_buf_puts(b, "False"); break;
	case G4_JSON_NUMBER: py_number(b, j); break;
	case G4_JSON_STRING: py_repr_str(b, j->str, j->len); break;
	case G4_JSON_ARRAY:
		g4_buf_putc(b, '[');
		for (size_t i = 0; i < j->n; i++) {
			if (i)
				g4_buf_puts(b, ", ");
			py_repr(b, &j->kid[i]);
		}
		g4_buf_putc(b, ']');
		break;
	case G4_JSON_OBJECT: {
		int first = 1;
		g4_buf_putc(b, '{');
		for (size_t i = 0; i < j->n; i++) {
			if (!first_of_key(j, i))
				continue;
			if (!first)
				g4_buf_puts(b, ", ");
			first = 0;
			py_repr_str(b, j->kid[i].key, j->kid[i].key_len);
			g4_buf_puts(b, ": ");
			py_repr(b, g4_json_member(j, i));
		}
		g4_buf_putc(b, '}');
		break;
	}
	}
}

/* {{ x | upper }} */
static void py_upper(g4_buf *b, const g4_json *j)
{
	size_t st = b->n;
	py_str(b, j);
	for (size_t i = st; i < b->n; i++)
		if (b->p[i] >= 'a' && b->p[i] <= 'z')
			b->p[i] = (char)(b->p[i] - 32);
}

static int upper_is(const g4_json *j, const char *want)
{
	g4_buf t = { 0 };
	py_upper(&t, j);
	int r = t.n == strlen(want) && !memcmp(t.p ? t.p : "", want, t.n);
	g4_buf_free(&t);
	return r;
}

/* dictsort: members sorted by key, case-insensitively, stable; duplicates
 * folded as Python's dict does. */
typedef struct { const char *k; size_t n; size_t pos; } skey;

static int skey_cmp(const void *a, const void *b)
{
	const skey *x = a, *y = b;
	size_t n = x->n < y->n ? x->n : y->n;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)x->k[i], d = (unsigned char)y->k[i];
		if (c >= 'A' && c <= 'Z') c += 32;
		if (d >= 'A' && d <= 'Z') d += 32;
		if (c != d)
			return c < d ? -1 : 1;
	}
	if (x->n != y->n)
		return x->n < y->n ? -1 : 1;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

static skey *dictsort(const g4_json *o, size_t *n)
{
	*n = 0;
	if (!is_map(o) || !o->n)
		return NULL;
	skey *v = malloc(o->n * sizeof *v);
	if (!v)
		return NULL;
	for (size_t i = 0; i < o->n; i++)
		if (first_of_key(o, i))
			v[(*n)++] = (skey){ o->kid[i].key, o->kid[i].key_len, i };
	qsort(v, *n, sizeof *v, skey_cmp);
	return v;
}

/* ---- macros ------------------------------------------------------------ */

/* format_argument(argument, escape_keys) */
static void fmt_arg(R *r, const g4_json *a, int esc)
{
	if (!a) {		/* Undefined is an empty sequence to jinja */
		put(r, "[]");
		return;
	}
	if (a->type == G4_JSON_NULL && r->tmpl != G4_TMPL_GEMMA4) {
		put(r, "null");
		return;
	}
	switch (a->type) {
	case G4_JSON_STRING:
		put(r, Q);
		g4_buf_put(r->b, a->str, a->len);
		put(r, Q);
		return;
	case G4_JSON_TRUE: put(r, "true"); return;
	case G4_JSON_FALSE: put(r, "false"); return;
	case G4_JSON_OBJECT: {
		size_t n;
		skey *k = dictsort(a, &n);
		put(r, "{");
		for (size_t i = 0; i < n; i++) {
			if (i)
				put(r, ",");
			if (esc)
				put(r, Q);
			g4_buf_put(r->b, k[i].k, k[i].n);
			if (esc)
				put(r, Q);
			put(r, ":");
			fmt_arg(r, g4_json_member(a, k[i].pos), esc);
		}
		put(r, "}");
		free(k);
		return;
	}
	case G4_JSON_ARRAY:
		put(r, "[");
		for (size_t i = 0; i < a->n; i++) {
			if (i)
				put(r, ",");
			fmt_arg(r, &a->kid[i], esc);
		}
		put(r, "]");
		return;
	default:
		py_str(r->b, a);
	}
}

/* for item in X: <|"|>item<|"|> joined by ',' (jinja iterates a string's
 * characters, a mapping's keys) */
static void quoted_list(R *r, const g4_json *l)
{
	if (is_list(l)) {
		for (size_t i = 0; i < l->n; i++) {
			if (i)
				put(r, ",");
			put(r, Q);
			py_str(r->b, &l->kid[i]);
			put(r, Q);
		}
	} else if (is_str(l)) {
		for (size_t i = 0; i < l->len;) {
			size_t k = 1;
			while (i + k < l->len && ((unsigned char)l->str[i + k] & 0xC0) == 0x80)
				k++;
			if (i)
				put(r, ",");
			put(r, Q);
			g4_buf_put(r->b, l->str + i, k);
			put(r, Q);
			i += k;
		}
	} else if (is_map(l)) {
		size_t n;
		int first = 1;
		for (n = 0; n < l->n; n++) {
			if (!first_of_key(l, n))
				continue;
			if (!first)
				put(r, ",");
			first = 0;
			put(r, Q);
			g4_buf_put(r->b, l->kid[n].key, l->kid[n].key_len);
			put(r, Q);
		}
	}
}

static int is_standard_key(const char *k, size_t n)
{
	static const char *std[] = { "description", "type", "properties", "required", "nullable" };
	for (int i = 0; i < 5; i++)
		if (strlen(std[i]) == n && !memcmp(std[i], k, n))
			return 1;
	return 0;
}

static void comma(R *r, int *add)
{
	if (*add)
		put(r, ",");
	else
		*add = 1;
}

/* format_parameters(properties, required, filter_keys) */
static void fmt_params(R *r, const g4_json *props, int depth, int filter)
{
	size_t n;
	if (depth > 64) {
		rerr(r, props, "tool schema nested too deeply", NULL);
		return;
	}
	skey *k = dictsort(props, &n);
	int found = 0;
	for (size_t i = 0; i < n; i++) {
		if ((filter || r->tmpl == G4_TMPL_GEMMA4) && is_standard_key(k[i].k, k[i].n))
			continue;
		const g4_json *v = g4_json_member(props, k[i].pos);
		int add = 0;
		if (found)
			put(r, ",");
		found = 1;
		g4_buf_put(r->b, k[i].k, k[i].n);
		put(r, ":{");
		const g4_json *d = get(v, "description");
		if (g4_json_truthy(d)) {
			put(r, "description:" Q);
			py_str(r->b, d);
			put(r, Q);
			add = 1;
		}
		const g4_json *ty = get(v, "type");
		if (upper_is(ty, "STRING")) {
			const g4_json *en = get(v, "enum");
			if (g4_json_truthy(en)) {
				comma(r, &add);
				put(r, "enum:");
				fmt_arg(r, en, 1);
			}
		} else if (upper_is(ty, "ARRAY")) {
			const g4_json *it = get(v, "items");
			if (is_map(it) && it->n) {
				size_t m;
				skey *ik = dictsort(it, &m);
				int f2 = 0;
				comma(r, &add);
				put(r, "items:{");
				for (size_t j = 0; j < m; j++) {
					const g4_json *iv = g4_json_member(it, ik[j].pos);
					if (iv->type == G4_JSON_NULL)
						continue;
					if (f2)
						put(r, ",");
					f2 = 1;
					if (ik[j].n == 10 && !memcmp(ik[j].k, "properties", 10)) {
						put(r, "properties:{");
						if (is_map(iv))
							fmt_params(r, iv, depth + 1, 0);
						put(r, "}");
					} else if (ik[j].n == 8 && !memcmp(ik[j].k, "required", 8)) {
						put(r, "required:[");
						quoted_list(r, iv);
						put(r, "]");
					} else if (ik[j].n == 4 && !memcmp(ik[j].k, "type", 4)) {
						put(r, "type:");
						if (is_str(iv)) {
							put(r, Q);
							py_upper(r->b, iv);
							put(r, Q);
						} else if (is_list(iv)) {
							put(r, "[");
							for (size_t e = 0; e < iv->n; e++) {
								if (e)
									put(r, ",");
								put(r, Q);
								py_upper(r->b, &iv->kid[e]);
								put(r, Q);
							}
							put(r, "]");
						} else
							fmt_arg(r, iv, 1);
					} else {
						g4_buf_put(r->b, ik[j].k, ik[j].n);
						put(r, ":");
						fmt_arg(r, iv, 1);
					}
				}
				put(r, "}");
				free(ik);
			}
		}
		if (g4_json_truthy(get(v, "nullable"))) {
			comma(r, &add);
			put(r, "nullable:true");
		}
		if (upper_is(ty, "OBJECT")) {
			const g4_json *pp = get(v, "properties");
			if (is_map(pp)) {
				comma(r, &add);
				put(r, "properties:{");
				fmt_params(r, pp, depth + 1, 0);
				put(r, "}");
			} else if (is_map(v)) {
				comma(r, &add);
				put(r, "properties:{");
				fmt_params(r, v, depth + 1, 1);
				put(r, "}");
			}
			const g4_json *rq = get(v, "required");
			if (g4_json_truthy(rq)) {
				comma(r, &add);
				put(r, "required:[");
				quoted_list(r, rq);
				put(r, "]");
			}
		}
		comma(r, &add);
		put(r, "type:" Q);
		py_upper(r->b, ty);
		put(r, Q "}");
	}
	free(k);
}

/* format_function_declaration(tool_data) */
static void fmt_decl(R *r, const g4_json *tool)
{
	const g4_json *f = get(tool, "function");
	if (!f && get(tool, "name"))
		f = tool;	/* a bare function object: accepted */
	if (!is_map(f)) {
		rerr(r, tool, "tools: a tool has no 'function' object", NULL);
		return;
	}
	put(r, "declaration:");
	py_str(r->b, get(f, "name"));
	put(r, "{description:" Q);
	py_str(r->b, get(f, "description"));
	put(r, Q);
	const g4_json *p = get(f, "parameters");
	if (g4_json_truthy(p)) {
		put(r, ",parameters:{");
		const g4_json *pp = get(p, "properties");
		if (g4_json_truthy(pp)) {
			put(r, "properties:{");
			if (is_map(pp))
				fmt_params(r, pp, 0, 0);
			put(r, "},");
		}
		const g4_json *rq = get(p, "required");
		if (g4_json_truthy(rq)) {
			put(r, "required:[");
			quoted_list(r, rq);
			put(r, "],");
		}
		const g4_json *ty = get(p, "type");
		if (g4_json_truthy(ty)) {
			put(r, "type:" Q);
			py_upper(r->b, ty);
			put(r, Q "}");
		}
	}
	const g4_json *resp = get(f, "response");
	if (resp) {
		put(r, ",response:{");
		const g4_json *d = get(resp, "description");
		if (g4_json_truthy(d)) {
			put(r, "description:" Q);
			py_str(r->b, d);
			put(r, Q ",");
		}
		if (upper_is(get(resp, "type"), "OBJECT"))
			put(r, "type:" Q "OBJECT" Q "}");
	}
	put(r, "}");
}

/* strip_thinking(text): for each piece split at <channel|>, keep what is
 * before <|channel>; then trim. */
static void strip_thinking(R *r, const char *s, size_t n)
{
	g4_buf t = { 0 };
	size_t i = 0;
	for (;;) {
		const char *e = memmem(s + i, n - i, "<channel|>", 10);
		size_t pe = e ? (size_t)(e - s) : n;
		const char *c = memmem(s + i, pe - i, "<|channel>", 10);
		g4_buf_put(&t, s + i, (c ? (size_t)(c - s) : pe) - i);
		if (!e)
			break;
		i = pe + 10;
	}
	const char *p = t.p ? t.p : "";
	size_t m = t.n;
	py_strip(&p, &m);
	g4_buf_put(r->b, p, m);
	g4_buf_free(&t);
}

static void put_trim(R *r, const g4_json *j)
{
	g4_buf t = { 0 };
	py_str(&t, j);
	const char *p = t.p ? t.p : "";
	size_t m = t.n;
	py_strip(&p, &m);
	g4_buf_put(r->b, p, m);
	g4_buf_free(&t);
}

/* format_tool_response_block(tool_name, response) */
static void fmt_tool_response(R *r, const char *name, size_t nlen, const g4_json *resp)
{
	put(r, "<|tool_response>response:");
	g4_buf_put(r->b, name, nlen);
	if (is_map(resp)) {
		size_t n;
		skey *k = dictsort(resp, &n);
		put(r, "{");
		for (size_t i = 0; i < n; i++) {
			g4_buf_put(r->b, k[i].k, k[i].n);
			put(r, ":");
			fmt_arg(r, g4_json_member(resp, k[i].pos), 0);
			if (i + 1 < n)
				put(r, ",");
		}
		put(r, "}");
		free(k);
	} else {
		put(r, "{value:");
		fmt_arg(r, resp, 0);
		put(r, "}");
	}
	put(r, "<tool_response|>");
}

static void add_media(R *r, int modality)
{
	if (r->n_media == r->cap_media) {
		size_t c = r->cap_media ? r->cap_media * 2 : 8;
		g4_chat_media *q = realloc(r->media, c * sizeof *q);
		if (!q) {
			r->err = 1;
			g4_err("out of memory");
			return;
		}
		r->media = q;
		r->cap_media = c;
	}
	r->media[r->n_media++] = (g4_chat_media){ r->b->n, modality };
}

/* message content: a string, or a list of parts */
static void content(R *r, const g4_json *c, int model, const char **prev)
{
	if (is_str(c)) {
		if (model)
			strip_thinking(r, c->str, c->len);
		else
			put_trim(r, c);
		return;
	}
	if (!is_list(c))
		return;
	for (size_t i = 0; i < c->n; i++) {
		const g4_json *it = &c->kid[i], *ty = get(it, "type");
		if (streq(ty, "text")) {
			const g4_json *tx = get(it, "text");
			if (model)
				strip_thinking(r, is_str(tx) ? tx->str : "", is_str(tx) ? tx->len : 0);
			else
				put_trim(r, tx);
		} else if (streq(ty, "image") || streq(ty, "image_url")) {
			add_media(r, 1);
			put(r, "<|image|>");
			*prev = "image";
		} else if (streq(ty, "audio") || streq(ty, "input_audio")) {
			add_media(r, 2);
			put(r, "<|audio|>");
			*prev = "audio";
		} else if (streq(ty, "video")) {
			put(r, "<|video|>");
			*prev = "video";
		}
	}
}

/* A tool call's arguments given as a JSON string: parsed when it is an
 * object (as llama.cpp does for templates that want a mapping). */
static void call_args(R *r, const g4_json *args)
{
	if (is_map(args)) {
		size_t n;
		skey *k = dictsort(args, &n);
		for (size_t i = 0; i < n; i++) {
			if (i)
				put(r, ",");
			g4_buf_put(r->b, k[i].k, k[i].n);
			put(r, ":");
			fmt_arg(r, g4_json_member(args, k[i].pos), 0);
		}
		free(k);
	} else if (is_str(args)) {
		g4_json *j = g4_json_parse(args->str, args->len, "arguments");
		g4_err_clear();
		if (j && is_map(j))
			call_args(r, j);
		else if (r->tmpl != G4_TMPL_GEMMA4)
			rerr(r, args, "tool_calls[].function.arguments must be a JSON object", NULL);
		else
			g4_buf_put(r->b, args->str, args->len);
		g4_json_free(j);
	}
}

/* jinja ==, with a missing key as None */
static int py_eq(const g4_json *a, const g4_json *b)
{
	int an = !a || a->type == G4_JSON_NULL, bn = !b || b->type == G4_JSON_NULL;
	if (an || bn)
		return an && bn;
	if (a->type == G4_JSON_NUMBER && b->type == G4_JSON_NUMBER)
		return a->num == b->num;
	if (a->type != b->type)
		return 0;
	if (a->type == G4_JSON_STRING)
		return a->len == b->len && !memcmp(a->str, b->str, a->len);
	return a->type == G4_JSON_TRUE || a->type == G4_JSON_FALSE || a == b;
}

static const char *role_of(const g4_json *m)
{
	const g4_json *ro = get(m, "role");
	return is_str(ro) ? ro->str : NULL;
}

/* media parts of a tool result (2026-07): placeholders after the block */
static void tool_media(R *r, const g4_json *body)
{
	for (size_t p = 0; p < body->n; p++) {
		const g4_json *ty = get(&body->kid[p], "type");
		if (streq(ty, "image") || streq(ty, "image_url")) {
			add_media(r, 1);
			put(r, "<|image|>");
		} else if (streq(ty, "audio") || streq(ty, "input_audio")) {
			add_media(r, 2);
			put(r, "<|audio|>");
		} else if (streq(ty, "video"))
			put(r, "<|video|>");
	}
}

int g4_chat_render(const g4_json *req, const g4_chat_opts *o, g4_buf *out,
		   g4_chat_media **media, size_t *n_media)
{
	R r = { .b = out, .tmpl = o->tmpl, .think = o->thinking, .agp = o->add_generation_prompt };
	int rev = o->tmpl != G4_TMPL_GEMMA4;	/* the 2026-07 revision */
	int preserve = 0;
	const g4_json *msgs = req, *tools = NULL;
	if (is_map(req)) {
		msgs = get(req, "messages");
		tools = get(req, "tools");
		const g4_json *kw = get(req, "chat_template_kwargs");
		const g4_json *et = get(req, "enable_thinking");
		if (!et)
			et = get(kw, "enable_thinking");
		if (et && g4_json_truthy(et))
			r.think = 1;
		const g4_json *pt = get(req, "preserve_thinking");
		if (!pt)
			pt = get(kw, "preserve_thinking");
		preserve = g4_json_truthy(pt);
		const g4_json *ag = get(req, "add_generation_prompt");
		if (ag && !g4_json_truthy(ag))
			r.agp = 0;
	}
	if (!is_list(msgs))
		return rerr(&r, req, "the request has no \"messages\" array", NULL);
	if (tools && tools->type != G4_JSON_NULL && !is_list(tools))
		return rerr(&r, tools, "\"tools\" is not an array", NULL);
	for (size_t i = 0; i < msgs->n; i++) {
		char w[64];
		snprintf(w, sizeof w, "messages[%zu]: ", i);
		if (!is_map(&msgs->kid[i]))
			return rerr(&r, &msgs->kid[i], w, "not an object");
		if (!role_of(&msgs->kid[i]))
			return rerr(&r, &msgs->kid[i], w, "no \"role\" string");
	}
	const char *prev = NULL;	/* ns.prev_message_type */
	put(&r, "<bos>");
	size_t first = 0;
	const char *r0 = msgs->n ? role_of(&msgs->kid[0]) : NULL;
	int sys0 = r0 && (!strcmp(r0, "system") || !strcmp(r0, "developer"));
	if (r.think || g4_json_truthy(tools) || sys0) {
		put(&r, "<|turn>system\n");
		if (r.think) {
			put(&r, "<|think|>\n");
			prev = "think";
		}
		if (sys0) {
			const g4_json *c = get(&msgs->kid[0], "content");
			if (!rev || is_str(c))
				put_trim(&r, c);
			else if (is_list(c))
				for (size_t i = 0; i < c->n; i++) {
					put_trim(&r, get(&c->kid[i], "text"));
					put(&r, " ");
				}
			first = 1;
		}
		if (g4_json_truthy(tools)) {
			for (size_t i = 0; i < tools->n && !r.err; i++) {
				put(&r, "<|tool>");
				size_t st = out->n;
				fmt_decl(&r, &tools->kid[i]);
				/* | trim */
				const char *p = out->p + st;
				size_t m = out->n - st;
				py_strip(&p, &m);
				memmove(out->p + st, p, m);
				out->n = st + m;
				put(&r, "<tool|>");
			}
			prev = "tool";
		}
		put(&r, "<turn|>\n");
	}
	const g4_json *L = msgs->n ? msgs->kid + first : NULL;	/* kid is NULL for [] */
	size_t nl = msgs->n - first;
	long last_user = -1;
	for (size_t i = 0; i < nl; i++)
		if (!strcmp(role_of(&L[i]), "user"))
			last_user = (long)i;
	for (size_t i = 0; i < nl && !r.err; i++) {
		const g4_json *m = &L[i];
		const char *raw = role_of(m);
		if (!strcmp(raw, "tool"))
			continue;
		prev = NULL;
		const char *role = !strcmp(raw, "assistant") ? "model" : raw;
		const char *prev_nt = NULL, *next_nt = NULL;
		for (size_t j = i; j-- > 0;)
			if (strcmp(role_of(&L[j]), "tool")) {
				prev_nt = role_of(&L[j]);
				break;
			}
		for (size_t j = i + 1; j < nl; j++)
			if (strcmp(role_of(&L[j]), "tool")) {
				next_nt = role_of(&L[j]);
				break;
			}
		int cont = !strcmp(role, "model") && prev_nt && !strcmp(prev_nt, "assistant");
		if (!cont) {
			put(&r, "<|turn>");
			put(&r, role);
			put(&r, "\n");
		}
		/* reasoning / reasoning_content as the thinking channel */
		const g4_json *th = get(m, "reasoning");
		if (!g4_json_truthy(th))
			th = get(m, "reasoning_content");
		const g4_json *calls = get(m, "tool_calls");
		int gate = rev ? (long)i > last_user || (preserve && g4_json_truthy(calls))
			       : (long)i > last_user && g4_json_truthy(calls);
		if (g4_json_truthy(th) && gate) {
			put(&r, "<|channel>thought\n");
			py_str(out, th);
			put(&r, "\n<channel|>");
		}
		if (g4_json_truthy(calls)) {
			if (!is_list(calls))
				return rerr(&r, calls, "\"tool_calls\" is not an array", NULL);
			for (size_t c = 0; c < calls->n; c++) {
				const g4_json *fn = get(&calls->kid[c], "function");
				if (!is_map(fn))
					return rerr(&r, &calls->kid[c], "a tool call has no \"function\" object", NULL);
				put(&r, "<|tool_call>call:");
				py_str(out, get(fn, "name"));
				put(&r, "{");
				call_args(&r, get(fn, "arguments"));
				put(&r, "}<tool_call|>");
			}
			prev = "tool_call";
		}
		int tr_out = 0;
		const g4_json *trs = get(m, "tool_responses");
		if (g4_json_truthy(trs)) {
			for (size_t k = 0; is_list(trs) && k < trs->n; k++) {
				const g4_json *nm = get(&trs->kid[k], "name");
				int named = is_str(nm) && (!rev || nm->len);
				fmt_tool_response(&r, named ? nm->str : "unknown", named ? nm->len : 7,
						  get(&trs->kid[k], "response"));
				tr_out = 1;
				prev = "tool_response";
			}
		} else if (g4_json_truthy(calls)) {
			for (size_t k = i + 1; k < nl; k++) {
				const g4_json *f = &L[k];
				if (strcmp(role_of(f), "tool"))
					break;
				const g4_json *nm = get(f, "name"), *id = get(f, "tool_call_id");
				int named = is_str(nm) && (!rev || nm->len);
				const char *name = named ? nm->str : "unknown";
				size_t nlen = named ? nm->len : 7;
				for (size_t c = 0; c < calls->n; c++) {
					const g4_json *cid = get(&calls->kid[c], "id");
					const g4_json *cn = get(get(&calls->kid[c], "function"), "name");
					if (py_eq(cid, id) && is_str(cn)) {
						name = cn->str;
						nlen = cn->len;
					}
				}
				const g4_json *body = get(f, "content");
				if (!body)
					body = &null_node;
				if (is_list(body)) {
					g4_buf s = { 0 };
					for (size_t p = 0; p < body->n; p++)
						if (streq(get(&body->kid[p], "type"), "text"))
							py_str(&s, get(&body->kid[p], "text"));
					g4_json tmp = { .type = G4_JSON_STRING, .str = s.p ? s.p : "", .len = s.n };
					fmt_tool_response(&r, name, nlen, &tmp);
					g4_buf_free(&s);
					if (rev)
						tool_media(&r, body);
				} else
					fmt_tool_response(&r, name, nlen, body);
				tr_out = 1;
				prev = "tool_response";
			}
		}
		const g4_json *c = get(m, "content");
		size_t c0 = out->n;
		content(&r, c, !strcmp(role, "model"), &prev);
		if (!rev) {
			if (prev && !strcmp(prev, "tool_call") && !tr_out)
				put(&r, "<|tool_response>");
			else if (!(tr_out && !g4_json_truthy(c)))
				put(&r, "<turn|>\n");
		} else {
			const char *cp = out->p ? out->p + c0 : "";
			size_t cn = out->n - c0;
			py_strip(&cp, &cn);
			int has_content = cn > 0;
			int into_next = !strcmp(role, "model") && next_nt && !strcmp(next_nt, "assistant") &&
					(!g4_json_truthy(calls) || tr_out);
			if (prev && !strcmp(prev, "tool_call") && !tr_out)
				put(&r, "<|tool_response>");
			else if (into_next)
				;
			else if (!(tr_out && !has_content && !next_nt))
				put(&r, "<turn|>\n");
		}
	}
	if (!r.err && r.agp) {
		int after_tool = prev && (!strcmp(prev, "tool_response") || !strcmp(prev, "tool_call"));
		if (!after_tool) {
			put(&r, "<|turn>model\n");
			if (!r.think && r.tmpl != G4_TMPL_GEMMA4_2607_E)
				put(&r, "<|channel>thought\n<channel|>");
		} else if (rev && !strcmp(prev, "tool_response") && r.think)
			put(&r, "<|channel>thought\n");
	}
	if (!r.err && out->oom)
		rerr(&r, NULL, "out of memory", NULL);
	if (r.err) {
		free(r.media);
		if (media) {
			*media = NULL;
			*n_media = 0;
		}
		return -1;
	}
	if (media) {
		*media = r.media;
		*n_media = r.n_media;
	} else
		free(r.media);
	return 0;
}

int g4_chat_encode(const g4_tokenizer *t, const g4_json *req, const g4_chat_opts *o,
		   int32_t **ids, size_t *n, size_t *cap,
		   g4_chat_media **media, size_t *n_media)
{
	g4_buf txt = { 0 };
	g4_chat_media *md = NULL;
	size_t nm = 0;
	if (g4_chat_render(req, o, &txt, &md, &nm)) {
		g4_buf_free(&txt);
		return -1;
	}
	/* tokenize between the placeholders, so a slot is exactly where its
	 * part was (the placeholder is a special token: same ids either way) */
	size_t at = 0;
	int rc = 0;
	for (size_t i = 0; i < nm && !rc; i++) {
		const char *ph = md[i].modality == 1 ? "<|image|>" : "<|audio|>";
		size_t pl = strlen(ph), pos = md[i].pos;
		int32_t pid = g4_tok_id(t, ph, pl);
		if (pid < 0) {
			rc = g4_err("the vocabulary has no %s token", ph);
			break;
		}
		rc = g4_tok_encode(t, txt.p + at, pos - at, G4_ENC_SPECIAL, ids, n, cap);
		md[i].pos = *n;
		if (!rc)
			rc = g4_tok_encode(t, ph, pl, G4_ENC_SPECIAL, ids, n, cap);
		at = pos + pl;
	}
	if (!rc)
		rc = g4_tok_encode(t, txt.p + at, txt.n - at, G4_ENC_SPECIAL, ids, n, cap);
	g4_buf_free(&txt);
	if (media) {
		*media = md;
		*n_media = nm;
	} else
		free(md);
	return rc;
}
