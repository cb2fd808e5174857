/* stream.c - the g4 token stream: writer, reader, documents (see stream.h;
 * the bytes are described in man/g4-formats.5, section TOKEN STREAM).
 *
 * Binary layout, little-endian, every record 4-byte aligned:
 *
 *   header   89 'G' '4' 'S' 0D 0A 1A 0A, u32 version (= 1)
 *   TOKENS   01 00 00 00, u32 n, n x i32 id (0 <= id)
 *   EMBD     02 modality dtype 00, u32 rows, u32 width,
 *            rows*width values of dtype, zero padding to a multiple of 4
 *   SLOT     03 modality 00 00
 *   DOC      04 00 00 00          (ends a document)
 *
 * A header may appear again between records (`cat a b`).  The reader never
 * seeks and keeps one document in memory; every count is checked against
 * the limits below before anything is allocated, and arrays grow only as
 * their bytes actually arrive, so a lying count in a truncated stream costs
 * nothing.  Plain decimal ids (one document per non-empty line) are read
 * too; the first byte tells which.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "qtypes.h"
#include "stream.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "g4 streams are little-endian; this file assumes a little-endian host"
#endif

#define STREAM_VERSION 1u
static const unsigned char magic[8] = { 0x89, 'G', '4', 'S', 0x0D, 0x0A, 0x1A, 0x0A };

enum { REC_TOKENS = 1, REC_EMBD = 2, REC_SLOT = 3, REC_DOC = 4, REC_HEADER = 0x89 };

/* Limits: far above anything Gemma 4 produces, far below what would hurt. */
#define MAX_TOKENS_REC	(1u << 24)	/* ids in one TOKENS record */
#define MAX_WIDTH	(1u << 16)	/* values per embedding row */
#define MAX_ROWS	(1u << 20)	/* rows in one embedding block */
#define MAX_BLOCK_VALS	(1ull << 28)	/* values in one embedding block */
#define MAX_DOC_POS	(1ull << 26)	/* positions in one document */
#define MAX_DOC_VALS	(1ull << 30)	/* embedding values in one document */
#define CHUNK		65536		/* values read per step */

static size_t dtype_size(int dt)
{
	return dt == G4_DT_F32 ? 4 : (dt == G4_DT_F16 || dt == G4_DT_BF16) ? 2 : 0;
}

/* f16/bf16 -> f32 (exact: every half value is a float). */
static float half_to_f32(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ff, u;
	if (e == 0x1f)
		u = sign | 0x7f800000u | (m << 13);
	else if (e)
		u = sign | ((e + 112) << 23) | (m << 13);
	else if (!m)
		u = sign;
	else {			/* subnormal: normalise */
		e = 113;
		while (!(m & 0x400)) {
			m <<= 1;
			e--;
		}
		u = sign | (e << 23) | ((m & 0x3ff) << 13);
	}
	float f;
	memcpy(&f, &u, 4);
	return f;
}

/* ---- documents ---------------------------------------------------------- */

void g4_doc_reset(g4_doc *d)
{
	for (size_t i = 0; i < d->n_segs; i++) {
		free(d->segs[i].ids);
		free(d->segs[i].embd);
	}
	d->n_segs = 0;
	d->n_pos = 0;
}

void g4_doc_free(g4_doc *d)
{
	g4_doc_reset(d);
	free(d->segs);
	memset(d, 0, sizeof *d);
}

static g4_seg *new_seg(g4_doc *d, int kind)
{
	if (d->n_segs == d->cap) {
		size_t cap = d->cap ? 2 * d->cap : 8;
		g4_seg *s = realloc(d->segs, cap * sizeof *s);
		if (!s) {
			g4_err("out of memory (document of %zu segments)", cap);
			return NULL;
		}
		d->segs = s;
		d->cap = cap;
	}
	g4_seg *s = &d->segs[d->n_segs++];
	memset(s, 0, sizeof *s);
	s->kind = kind;
	return s;
}

/* Capacity of a token segment's array: ids are allocated in powers of two
 * (at least 16), so the capacity follows from n. */
static size_t ids_cap(size_t n)
{
	size_t c = 16;
	while (c < n)
		c *= 2;
	return c;
}

/* Appends n ids to the document's last token segment (or a new one). */
static int doc_tokens(g4_doc *d, const int32_t *ids, size_t n)
{
	if (n > MAX_DOC_POS || d->n_pos + n > MAX_DOC_POS)
		return g4_err("document longer than %llu positions", (unsigned long long)MAX_DOC_POS);
	for (size_t i = 0; i < n; i++)
		if (ids[i] < 0)
			return g4_err("negative token id %d", (int)ids[i]);
	if (!n)
		return 0;
	g4_seg *s = d->n_segs && d->segs[d->n_segs - 1].kind == G4_SEG_TOKENS ?
		&d->segs[d->n_segs - 1] : NULL;
	if (!s) {
		if (!(s = new_seg(d, G4_SEG_TOKENS)))
			return -1;
	}
	size_t have = s->ids ? ids_cap(s->n) : 0, need = ids_cap(s->n + n);
	if (need > have) {
		int32_t *p = realloc(s->ids, need * sizeof *p);
		if (!p)
			return g4_err("out of memory (%zu token ids)", need);
		s->ids = p;
	}
	memcpy(s->ids + s->n, ids, n * sizeof *ids);
	s->n += n;
	d->n_pos += n;
	return 0;
}

int g4_doc_add_tokens(g4_doc *d, const int32_t *ids, size_t n)
{
	return doc_tokens(d, ids, n);
}

static int check_embd(int modality, size_t rows, uint32_t width)
{
	if (modality < 0 || modality > G4_MOD_AUDIO)
		return g4_err("bad modality %d", modality);
	if (width == 0 || width > MAX_WIDTH)
		return g4_err("embedding width %u out of range 1..%u", width, MAX_WIDTH);
	if (rows > MAX_ROWS || (uint64_t)rows * width > MAX_BLOCK_VALS)
		return g4_err("embedding block of %zu x %u values is too large (limit %u rows, %llu values)",
			      rows, width, MAX_ROWS, (unsigned long long)MAX_BLOCK_VALS);
	return 0;
}

/* Total embedding values held by d. */
static uint64_t doc_vals(const g4_doc *d)
{
	uint64_t v = 0;
	for (size_t i = 0; i < d->n_segs; i++)
		if (d->segs[i].kind == G4_SEG_EMBD)
			v += (uint64_t)d->segs[i].n * d->segs[i].width;
	return v;
}

int g4_doc_add_embd(g4_doc *d, int modality, size_t rows, uint32_t width, const float *data)
{
	if (check_embd(modality, rows, width) < 0)
		return -1;
	if (d->n_pos + rows > MAX_DOC_POS)
		return g4_err("document longer than %llu positions", (unsigned long long)MAX_DOC_POS);
	size_t nv = rows * width;
	if (doc_vals(d) + nv > MAX_DOC_VALS)
		return g4_err("document holds more than %llu embedding values", (unsigned long long)MAX_DOC_VALS);
	for (size_t i = 0; i < nv; i++)
		if (!isfinite(data[i]))
			return g4_err("embedding block: value %zu (row %zu) is not finite", i % width, i / width);
	float *p = malloc(nv ? nv * sizeof *p : 1);
	if (!p)
		return g4_err("out of memory (embedding block of %zu x %u)", rows, width);
	memcpy(p, data, nv * sizeof *p);
	g4_seg *s = new_seg(d, G4_SEG_EMBD);
	if (!s) {
		free(p);
		return -1;
	}
	s->modality = modality;
	s->n = rows;
	s->width = width;
	s->embd = p;
	d->n_pos += rows;
	return 0;
}

int g4_doc_add_slot(g4_doc *d, int modality)
{
	if (modality < 0 || modality > G4_MOD_AUDIO)
		return g4_err("bad modality %d", modality);
	if (d->n_pos + 1 > MAX_DOC_POS)
		return g4_err("document longer than %llu positions", (unsigned long long)MAX_DOC_POS);
	g4_seg *s = new_seg(d, G4_SEG_SLOT);
	if (!s)
		return -1;
	s->modality = modality;
	d->n_pos += 1;
	return 0;
}

/* ---- writer ------------------------------------------------------------- */

struct g4_sw {
	FILE *f;
	int failed;
};

static int sw_put(g4_sw *w, const void *p, size_t n)
{
	if (w->failed)
		return -1;
	if (n && fwrite(p, 1, n, w->f) != n) {
		w->failed = 1;
		return g4_err_sys("writing token stream");
	}
	return 0;
}

static int sw_rec(g4_sw *w, int kind, int a, int b)
{
	unsigned char h[4] = { (unsigned char)kind, (unsigned char)a, (unsigned char)b, 0 };
	return sw_put(w, h, 4);
}

static int sw_u32(g4_sw *w, uint32_t v)
{
	return sw_put(w, &v, 4);
}

g4_sw *g4_sw_open(FILE *f)
{
	g4_sw *w = calloc(1, sizeof *w);
	if (!w) {
		g4_err("out of memory");
		return NULL;
	}
	w->f = f;
	if (sw_put(w, magic, sizeof magic) < 0 || sw_u32(w, STREAM_VERSION) < 0) {
		free(w);
		return NULL;
	}
	return w;
}

int g4_sw_tokens(g4_sw *w, const int32_t *ids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (ids[i] < 0)
			return g4_err("token stream: negative token id %d at index %zu", (int)ids[i], i);
	while (n) {
		uint32_t k = n > MAX_TOKENS_REC ? MAX_TOKENS_REC : (uint32_t)n;
		if (sw_rec(w, REC_TOKENS, 0, 0) < 0 || sw_u32(w, k) < 0 ||
		    sw_put(w, ids, (size_t)k * 4) < 0)
			return -1;
		ids += k;
		n -= k;
	}
	return 0;
}

int g4_sw_embd(g4_sw *w, int modality, uint32_t rows, uint32_t width, int dtype, const void *data)
{
	size_t es = dtype_size(dtype);
	if (!es)
		return g4_err("token stream: bad embedding dtype %d", dtype);
	if (check_embd(modality, rows, width) < 0)
		return g4_err_ctx("token stream: ");
	size_t nv = (size_t)rows * width;
	for (size_t i = 0; i < nv; i++) {
		int bad;
		if (dtype == G4_DT_F32)
			bad = !isfinite(((const float *)data)[i]);
		else {
			uint16_t h = ((const uint16_t *)data)[i];
			bad = dtype == G4_DT_F16 ? (h & 0x7c00) == 0x7c00 : (h & 0x7f80) == 0x7f80;
		}
		if (bad)
			return g4_err("token stream: embedding value %zu of row %zu is not finite",
				      i % width, i / width);
	}
	static const unsigned char zero[4];
	size_t bytes = nv * es;
	if (sw_rec(w, REC_EMBD, modality, dtype) < 0 || sw_u32(w, rows) < 0 || sw_u32(w, width) < 0 ||
	    sw_put(w, data, bytes) < 0 || sw_put(w, zero, (4 - bytes % 4) % 4) < 0)
		return -1;
	return 0;
}

int g4_sw_slot(g4_sw *w, int modality)
{
	if (modality < 0 || modality > G4_MOD_AUDIO)
		return g4_err("token stream: bad modality %d", modality);
	return sw_rec(w, REC_SLOT, modality, 0);
}

int g4_sw_doc_end(g4_sw *w)
{
	return sw_rec(w, REC_DOC, 0, 0);
}

int g4_sw_doc(g4_sw *w, const g4_doc *d)
{
	for (size_t i = 0; i < d->n_segs; i++) {
		const g4_seg *s = &d->segs[i];
		int rc;
		switch (s->kind) {
		case G4_SEG_TOKENS:
			rc = g4_sw_tokens(w, s->ids, s->n);
			break;
		case G4_SEG_EMBD:
			if (s->n > UINT32_MAX)
				return g4_err("token stream: embedding block of %zu rows", s->n);
			rc = g4_sw_embd(w, s->modality, (uint32_t)s->n, s->width, G4_DT_F32, s->embd);
			break;
		case G4_SEG_SLOT:
			rc = g4_sw_slot(w, s->modality);
			break;
		default:
			return g4_err("token stream: document segment %zu has bad kind %d", i, s->kind);
		}
		if (rc < 0)
			return -1;
	}
	return 0;
}

int g4_sw_close(g4_sw *w)
{
	if (!w)
		return 0;
	int rc = w->failed ? -1 : 0;
	if (!rc && (fflush(w->f) != 0 || ferror(w->f)))
		rc = g4_err_sys("writing token stream");
	free(w);
	return rc;
}

/* ---- reader ------------------------------------------------------------- */

enum { MODE_UNKNOWN, MODE_BIN, MODE_TEXT, MODE_EMPTY };

struct g4_sr {
	FILE *f;
	char *name;
	int mode, failed, eof;
	uint64_t off;		/* bytes consumed */
	uint64_t line;		/* text: current line number */
	void *buf;		/* conversion buffer (CHUNK values) */
};

g4_sr *g4_sr_open(FILE *f, const char *name)
{
	g4_sr *r = calloc(1, sizeof *r);
	if (!r || !(r->name = strdup(name ? name : "<stream>"))) {
		free(r);
		g4_err("out of memory");
		return NULL;
	}
	r->f = f;
	return r;
}

void g4_sr_close(g4_sr *r)
{
	if (!r)
		return;
	free(r->name);
	free(r->buf);
	free(r);
}

/* Sets the message "NAME: byte OFF: ..." and marks the reader failed. */
static int sr_fail(g4_sr *r, uint64_t off, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int sr_fail(g4_sr *r, uint64_t off, const char *fmt, ...)
{
	char m[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(m, sizeof m, fmt, ap);
	va_end(ap);
	r->failed = 1;
	if (r->mode == MODE_TEXT)
		return g4_err("%s: line %llu: %s", r->name, (unsigned long long)r->line, m);
	return g4_err("%s: byte %llu: %s", r->name, (unsigned long long)off, m);
}

/* Reads exactly n bytes; a short read is truncation (what: the record). */
static int sr_read(g4_sr *r, void *p, size_t n, uint64_t rec_off, const char *what)
{
	size_t got = n ? fread(p, 1, n, r->f) : 0;
	r->off += got;
	if (got == n)
		return 0;
	if (ferror(r->f))
		return sr_fail(r, r->off, "read error in %s: %s", what, strerror(errno));
	return sr_fail(r, rec_off, "truncated stream: %s ends after %llu bytes", what,
		       (unsigned long long)(r->off - rec_off));
}

static int sr_u32(g4_sr *r, uint32_t *v, uint64_t rec_off, const char *what)
{
	return sr_read(r, v, 4, rec_off, what);
}

/* The rest of a header whose first byte (0x89) has been read. */
static int sr_header(g4_sr *r, uint64_t at)
{
	unsigned char m[8];
	uint32_t ver;
	m[0] = magic[0];
	if (sr_read(r, m + 1, 7, at, "stream header") < 0)
		return -1;
	if (memcmp(m, magic, 8))
		return sr_fail(r, at, "bad stream header (not a g4 token stream)");
	if (sr_u32(r, &ver, at, "stream header") < 0)
		return -1;
	if (ver == 0 || ver > STREAM_VERSION)
		return sr_fail(r, at, "token stream version %u is not supported (this reader knows 1..%u)",
			       ver, STREAM_VERSION);
	return 0;
}

static int sr_tokens(g4_sr *r, g4_doc *d, uint64_t at)
{
	uint32_t n;
	if (sr_u32(r, &n, at, "token record") < 0)
		return -1;
	if (n > MAX_TOKENS_REC)
		return sr_fail(r, at, "token record of %u ids is too large (limit %u)", n, MAX_TOKENS_REC);
	if (d->n_pos + n > MAX_DOC_POS)
		return sr_fail(r, at, "document longer than %llu positions", (unsigned long long)MAX_DOC_POS);
	int32_t *buf = r->buf;
	while (n) {
		uint32_t k = n > CHUNK ? CHUNK : n;
		if (sr_read(r, buf, (size_t)k * 4, at, "token record") < 0)
			return -1;
		for (uint32_t i = 0; i < k; i++)
			if (buf[i] < 0)
				return sr_fail(r, r->off - 4 * (uint64_t)(k - i),
					       "negative token id %d", (int)buf[i]);
		if (doc_tokens(d, buf, k) < 0)
			return sr_fail(r, at, "%s", g4_errmsg());
		n -= k;
	}
	return 0;
}

static int sr_embd(g4_sr *r, g4_doc *d, uint64_t at, int modality, int dtype)
{
	uint32_t rows, width;
	if (sr_u32(r, &rows, at, "embedding record") < 0 || sr_u32(r, &width, at, "embedding record") < 0)
		return -1;
	if (modality > G4_MOD_AUDIO)
		return sr_fail(r, at, "embedding record: bad modality %d", modality);
	size_t es = dtype_size(dtype);
	if (!es)
		return sr_fail(r, at, "embedding record: bad dtype %d", dtype);
	if (check_embd(modality, rows, width) < 0)
		return sr_fail(r, at, "%s", g4_errmsg());
	if (d->n_pos + rows > MAX_DOC_POS)
		return sr_fail(r, at, "document longer than %llu positions", (unsigned long long)MAX_DOC_POS);
	uint64_t nv = (uint64_t)rows * width;
	if (doc_vals(d) + nv > MAX_DOC_VALS)
		return sr_fail(r, at, "document holds more than %llu embedding values",
			       (unsigned long long)MAX_DOC_VALS);
	/* Grow the array as the data arrives, so a lying header costs nothing. */
	float *v = NULL;
	size_t cap = 0, got = 0;
	while (got < nv) {
		size_t k = nv - got > CHUNK ? CHUNK : (size_t)(nv - got);
		if (got + k > cap) {
			size_t nc = cap ? 2 * cap : CHUNK;
			if (nc > nv)
				nc = (size_t)nv;
			float *p = realloc(v, nc * sizeof *p);
			if (!p) {
				free(v);
				return sr_fail(r, at, "out of memory (embedding block of %u x %u)", rows, width);
			}
			v = p;
			cap = nc;
		}
		if (es == 4) {
			if (sr_read(r, v + got, k * 4, at, "embedding record") < 0)
				goto fail;
		} else {
			const uint16_t *h = r->buf;
			if (sr_read(r, r->buf, k * 2, at, "embedding record") < 0)
				goto fail;
			for (size_t i = 0; i < k; i++)
				v[got + i] = dtype == G4_DT_F16 ? half_to_f32(h[i]) : g4_bf16_to_f32(h[i]);
		}
		for (size_t i = 0; i < k; i++)
			if (!isfinite(v[got + i])) {
				sr_fail(r, at, "embedding record: value %llu of row %llu is not finite",
					(unsigned long long)((got + i) % width),
					(unsigned long long)((got + i) / width));
				goto fail;
			}
		got += k;
	}
	size_t pad = (4 - (nv * es) % 4) % 4;
	unsigned char z[4] = { 0 };
	if (sr_read(r, z, pad, at, "embedding record") < 0)
		goto fail;
	if (z[0] | z[1] | z[2] | z[3]) {
		sr_fail(r, r->off - pad, "embedding record: nonzero padding");
		goto fail;
	}
	g4_seg *s = new_seg(d, G4_SEG_EMBD);
	if (!s) {
		sr_fail(r, at, "%s", g4_errmsg());
		goto fail;
	}
	s->modality = modality;
	s->n = rows;
	s->width = width;
	s->embd = v ? v : malloc(1);
	d->n_pos += rows;
	return 0;
fail:
	free(v);
	return -1;
}

static int next_bin(g4_sr *r, g4_doc *d)
{
	for (;;) {
		uint64_t at = r->off;
		int c = getc_unlocked(r->f);
		if (c == EOF) {
			if (ferror(r->f))
				return sr_fail(r, at, "read error: %s", strerror(errno));
			r->eof = 1;
			return d->n_segs ? 1 : 0;
		}
		r->off++;
		if (c == REC_HEADER) {
			if (sr_header(r, at) < 0)
				return -1;
			continue;
		}
		unsigned char h[3];
		if (sr_read(r, h, 3, at, "record header") < 0)
			return -1;
		switch (c) {
		case REC_TOKENS:
			if (h[0] | h[1] | h[2])
				return sr_fail(r, at, "token record: nonzero reserved bytes");
			if (sr_tokens(r, d, at) < 0)
				return -1;
			break;
		case REC_EMBD:
			if (h[2])
				return sr_fail(r, at, "embedding record: nonzero reserved byte");
			if (sr_embd(r, d, at, h[0], h[1]) < 0)
				return -1;
			break;
		case REC_SLOT:
			if (h[1] | h[2])
				return sr_fail(r, at, "slot record: nonzero reserved bytes");
			if (h[0] > G4_MOD_AUDIO)
				return sr_fail(r, at, "slot record: bad modality %d", h[0]);
			if (g4_doc_add_slot(d, h[0]) < 0)
				return sr_fail(r, at, "%s", g4_errmsg());
			break;
		case REC_DOC:
			if (h[0] | h[1] | h[2])
				return sr_fail(r, at, "document record: nonzero reserved bytes");
			return 1;
		default:
			return sr_fail(r, at, "unknown record type 0x%02x (garbage or a newer stream version)", c);
		}
	}
}

/* Text: one document per non-empty line of decimal ids. */
static int next_text(g4_sr *r, g4_doc *d)
{
	int32_t *buf = r->buf;
	size_t nb = 0;
	int c, any = 0;
	char tok[24];
	for (;;) {
		c = getc_unlocked(r->f);
		if (c == EOF) {
			if (ferror(r->f))
				return sr_fail(r, r->off, "read error: %s", strerror(errno));
			r->eof = 1;
			break;
		}
		r->off++;
		if (c == '\n') {
			if (any)
				break;
			r->line++;
			continue;
		}
		if (c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f')
			continue;
		/* a token: a run of non-space bytes */
		size_t tl = 0;
		int bad = 0;
		uint64_t v = 0;
		do {
			if (c < '0' || c > '9')
				bad = 1;
			else if (!bad && (v = v * 10 + (uint64_t)(c - '0')) > INT32_MAX)
				bad = 2;
			if (tl < sizeof tok - 4)
				tok[tl] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
			tl++;
			c = getc_unlocked(r->f);
			if (c != EOF)
				r->off++;
		} while (c != EOF && c != '\n' && c != ' ' && c != '\t' && c != '\r' && c != '\v' && c != '\f');
		if (tl > sizeof tok - 4) {
			memcpy(tok + sizeof tok - 4, "...", 4);
		} else
			tok[tl] = 0;
		if (bad == 1)
			return sr_fail(r, 0, "bad token '%s' (expected a decimal token id)", tok);
		if (bad == 2)
			return sr_fail(r, 0, "token id %s is out of range (0..%d)", tok, INT32_MAX);
		any = 1;
		buf[nb++] = (int32_t)v;
		if (nb == CHUNK) {
			if (doc_tokens(d, buf, nb) < 0)
				return sr_fail(r, 0, "%s", g4_errmsg());
			nb = 0;
		}
		if (c == EOF) {
			if (ferror(r->f))
				return sr_fail(r, r->off, "read error: %s", strerror(errno));
			r->eof = 1;
			break;
		}
		if (c == '\n')
			break;
	}
	if (nb && doc_tokens(d, buf, nb) < 0)
		return sr_fail(r, 0, "%s", g4_errmsg());
	r->line++;
	return any;
}

int g4_sr_next_doc(g4_sr *r, g4_doc *d)
{
	g4_doc_reset(d);
	if (r->failed)
		return g4_err("%s: reading after an error", r->name);
	if (r->eof)
		return 0;
	if (!r->buf && !(r->buf = malloc(CHUNK * 4)))
		return g4_err("out of memory");
	if (r->mode == MODE_UNKNOWN) {
		int c = getc_unlocked(r->f);
		if (c == EOF) {
			if (ferror(r->f))
				return sr_fail(r, 0, "read error: %s", strerror(errno));
			r->eof = 1;
			return 0;
		}
		ungetc(c, r->f);
		if (c == REC_HEADER)
			r->mode = MODE_BIN;
		else if ((c >= '0' && c <= '9') || c == ' ' || c == '\t' || c == '\n' || c == '\r') {
			r->mode = MODE_TEXT;
			r->line = 1;
		} else
			return sr_fail(r, 0, "not a g4 token stream or decimal token ids (first byte 0x%02x)", c);
	}
	int rc = r->mode == MODE_BIN ? next_bin(r, d) : next_text(r, d);
	if (rc < 0)
		g4_doc_reset(d);
	return rc;
}
