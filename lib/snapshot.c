/* snapshot.c - the KV snapshot: one zstd frame per snapshot (see
 * snapshot.h; the bytes are described in man/g4-formats.5, KV SNAPSHOT).
 *
 * Frame content, little-endian:
 *
 *   header   89 'G' '4' 'K' 0D 0A 1A 0A, u32 version (= 1), u32 kv_type,
 *            fingerprint[32], u64 n_tokens, u32 n_layers, u32 n_vocab,
 *            u64 reserved (0)                                   72 bytes
 *   table    n_layers x { u32 layer, u32 n_head_kv, u32 head_dim,
 *                         u32 reserved (0), u64 pos0, u64 n_rows } 32 bytes each
 *   check    first 8 bytes of SHA-256(header, table)
 *   tokens   n_tokens x i32
 *   K, V     per layer in table order: n_rows rows of K, then of V, each
 *            row g4_row_bytes(kv_type, n_head_kv*head_dim) bytes
 *   logits   n_vocab x f32
 *
 * Everything that decides a size comes before any bulk data and is
 * covered by the check, so a flipped bit there is caught before anything is
 * allocated; the rest is covered by the frame's content checksum.  The
 * frame declares its content size (the writer pledges it).
 *
 * Reading never takes a byte past the end of the frame from the FILE: input
 * is fed to ZSTD_decompressStream in the amounts it asks for (its return
 * value is the exact size of the next piece of the frame: the rest of a
 * header, a block, the checksum), so snapshot streams work through pipes.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "err.h"
#include "qtypes.h"
#include "sha256.h"
#include "snapshot.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "g4 snapshots are little-endian; this file assumes a little-endian host"
#endif

#define SNAP_VERSION 1u
#define HDR_BYTES 72
#define LAYER_BYTES 32
static const unsigned char magic[8] = { 0x89, 'G', '4', 'K', 0x0D, 0x0A, 0x1A, 0x0A };
static const unsigned char zstd_magic[4] = { 0x28, 0xB5, 0x2F, 0xFD };

/* Limits: far above any Gemma 4 model and context, far below 2^64. */
#define MAX_TOKENS	(1ull << 26)
#define MAX_LAYERS	1024u
#define MAX_VOCAB	(1u << 24)
#define MAX_HEADS	4096u
#define MAX_HEAD_DIM	65536u
#define MAX_ROW		(1u << 20)	/* values in a K or V row */
#define MAX_TOTAL	(1ull << 42)	/* bytes of frame content */

static void put32(unsigned char *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(unsigned char *p, uint64_t v) { memcpy(p, &v, 8); }
static uint32_t get32(const unsigned char *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t get64(const unsigned char *p) { uint64_t v; memcpy(&v, p, 8); return v; }

static int kv_type_ok(uint32_t t)
{
	return t == G4_F32 || t == G4_F16 || t == G4_BF16 || t == G4_Q8_0;
}

/* Checks everything that determines sizes; *total gets the content bytes.
 * Messages start with what is wrong (the caller adds the name). */
static int check_shape(uint32_t kv_type, uint64_t n_tokens, uint32_t n_layers, uint32_t n_vocab,
		       const g4_snap_layer *L, uint64_t *total)
{
	if (!kv_type_ok(kv_type)) {
		const char *nm = g4_type_name(kv_type);
		return g4_err("kv_type %u (%s) is not a KV type (f32, f16, bf16, q8_0)", kv_type,
			      nm ? nm : "unknown");
	}
	if (n_tokens > MAX_TOKENS)
		return g4_err("%llu tokens is absurd (limit %llu)", (unsigned long long)n_tokens,
			      (unsigned long long)MAX_TOKENS);
	if (n_layers > MAX_LAYERS)
		return g4_err("%u layers is absurd (limit %u)", n_layers, MAX_LAYERS);
	if (n_vocab > MAX_VOCAB)
		return g4_err("vocabulary of %u is absurd (limit %u)", n_vocab, MAX_VOCAB);
	uint64_t t = HDR_BYTES + (uint64_t)LAYER_BYTES * n_layers + 8 + 4 * n_tokens + 4ull * n_vocab;
	for (uint32_t i = 0; i < n_layers; i++) {
		const g4_snap_layer *l = &L[i];
		if (i && l->layer <= L[i - 1].layer)
			return g4_err("layer table entry %u: layer %u does not follow layer %u", i, l->layer,
				      L[i - 1].layer);
		if (l->n_head_kv == 0 || l->n_head_kv > MAX_HEADS || l->head_dim == 0 ||
		    l->head_dim > MAX_HEAD_DIM)
			return g4_err("layer %u: %u KV heads of dim %u is out of range", l->layer,
				      l->n_head_kv, l->head_dim);
		uint64_t row = (uint64_t)l->n_head_kv * l->head_dim;
		if (row > MAX_ROW)
			return g4_err("layer %u: K/V row of %llu values is absurd (limit %u)", l->layer,
				      (unsigned long long)row, MAX_ROW);
		size_t rb = g4_row_bytes(kv_type, (int64_t)row);
		if (!rb)
			return g4_err("layer %u: a K/V row of %llu values cannot be stored as %s (not a multiple of %d)",
				      l->layer, (unsigned long long)row, g4_type_name(kv_type),
				      g4_type_block(kv_type));
		if (l->n_rows > n_tokens || l->pos0 != n_tokens - l->n_rows)
			return g4_err("layer %u: rows %llu..%llu do not end at the history length %llu",
				      l->layer, (unsigned long long)l->pos0,
				      (unsigned long long)(l->pos0 + l->n_rows), (unsigned long long)n_tokens);
		t += 2 * l->n_rows * rb;	/* n_rows <= 2^26, rb <= 2^22: no overflow */
		if (t > MAX_TOTAL)
			return g4_err("snapshot of more than %llu bytes is absurd", (unsigned long long)MAX_TOTAL);
	}
	*total = t;
	return 0;
}

static void fp_hex(const uint8_t *fp, char *out)
{
	for (int i = 0; i < 8; i++)
		sprintf(out + 2 * i, "%02x", fp[i]);
}

/* ---- writing ------------------------------------------------------------ */

typedef struct {
	ZSTD_CCtx *cc;
	FILE *f;
	const char *name;
	void *out;
	size_t out_cap;
} zw;

static int zw_feed(zw *z, const void *p, size_t n, ZSTD_EndDirective end)
{
	ZSTD_inBuffer in = { p, n, 0 };
	for (;;) {
		ZSTD_outBuffer ob = { z->out, z->out_cap, 0 };
		size_t r = ZSTD_compressStream2(z->cc, &ob, &in, end);
		if (ZSTD_isError(r))
			return g4_err("%s: compressing snapshot: %s", z->name, ZSTD_getErrorName(r));
		if (ob.pos && fwrite(z->out, 1, ob.pos, z->f) != ob.pos)
			return g4_err_sys("writing %s", z->name);
		if (end == ZSTD_e_end ? r == 0 : in.pos == in.size)
			return 0;
	}
}

int g4_snap_write(FILE *f, const g4_snap *s, const char *name)
{
	if (!name)
		name = "snapshot";
	uint64_t total;
	if (check_shape(s->kv_type, s->n_tokens, s->n_layers, s->n_vocab, s->layers, &total) < 0)
		return g4_err_ctx("%s: cannot write snapshot: ", name);
	for (uint64_t i = 0; i < s->n_tokens; i++)
		if (s->tokens[i] < -3 || (s->n_vocab && s->tokens[i] >= (int32_t)s->n_vocab))
			return g4_err("%s: cannot write snapshot: history position %llu holds id %d (vocabulary %u)",
				      name, (unsigned long long)i, (int)s->tokens[i], s->n_vocab);

	size_t hn = HDR_BYTES + (size_t)LAYER_BYTES * s->n_layers + 8;
	unsigned char *h = calloc(1, hn);
	zw z = { ZSTD_createCCtx(), f, name, malloc(ZSTD_CStreamOutSize()), ZSTD_CStreamOutSize() };
	int rc = -1;
	if (!h || !z.cc || !z.out) {
		g4_err("out of memory");
		goto out;
	}
	memcpy(h, magic, 8);
	put32(h + 8, SNAP_VERSION);
	put32(h + 12, s->kv_type);
	memcpy(h + 16, s->fingerprint, 32);
	put64(h + 48, s->n_tokens);
	put32(h + 56, s->n_layers);
	put32(h + 60, s->n_vocab);
	for (uint32_t i = 0; i < s->n_layers; i++) {
		unsigned char *e = h + HDR_BYTES + (size_t)LAYER_BYTES * i;
		const g4_snap_layer *l = &s->layers[i];
		put32(e, l->layer);
		put32(e + 4, l->n_head_kv);
		put32(e + 8, l->head_dim);
		put64(e + 16, l->pos0);
		put64(e + 24, l->n_rows);
	}
	uint8_t d[32];
	g4_sha256 sh;
	g4_sha256_init(&sh);
	g4_sha256_update(&sh, h, hn - 8);
	g4_sha256_final(&sh, d);
	memcpy(h + hn - 8, d, 8);

	size_t e;
	if (ZSTD_isError(e = ZSTD_CCtx_setParameter(z.cc, ZSTD_c_compressionLevel, 1)) ||
	    ZSTD_isError(e = ZSTD_CCtx_setParameter(z.cc, ZSTD_c_checksumFlag, 1)) ||
	    ZSTD_isError(e = ZSTD_CCtx_setPledgedSrcSize(z.cc, total))) {
		g4_err("%s: zstd: %s", name, ZSTD_getErrorName(e));
		goto out;
	}
	if (zw_feed(&z, h, hn, ZSTD_e_continue) < 0 ||
	    zw_feed(&z, s->tokens, 4 * s->n_tokens, ZSTD_e_continue) < 0)
		goto out;
	for (uint32_t i = 0; i < s->n_layers; i++) {
		const g4_snap_layer *l = &s->layers[i];
		size_t n = l->n_rows * g4_row_bytes(s->kv_type, (int64_t)l->n_head_kv * l->head_dim);
		if (zw_feed(&z, l->k, n, ZSTD_e_continue) < 0 || zw_feed(&z, l->v, n, ZSTD_e_continue) < 0)
			goto out;
	}
	if (zw_feed(&z, s->logits, 4ull * s->n_vocab, ZSTD_e_end) < 0)
		goto out;
	if (fflush(f) != 0 || ferror(f)) {
		g4_err_sys("writing %s", name);
		goto out;
	}
	rc = 0;
out:
	free(h);
	free(z.out);
	ZSTD_freeCCtx(z.cc);
	return rc;
}

/* ---- reading ------------------------------------------------------------ */

typedef struct {
	FILE *f;
	const char *name;
	ZSTD_DCtx *dc;
	unsigned char *in;
	size_t in_cap;
	ZSTD_inBuffer ib;
	uint64_t nin;		/* compressed bytes of this frame read so far */
	int done;		/* the frame has ended (checksum verified) */
} zr;

static int zr_fail(zr *z, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int zr_fail(zr *z, const char *fmt, ...)
{
	char m[600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(m, sizeof m, fmt, ap);
	va_end(ap);
	return g4_err("%s: %s", z->name, m);
}

/* Feeds the decoder its next piece of input: exactly `want` bytes (what it
 * asked for), never more, so nothing past the frame leaves the FILE. */
static int zr_fill(zr *z, size_t want)
{
	if (want == 0)
		want = 1;
	if (want > z->in_cap)
		want = z->in_cap;
	size_t got = fread(z->in, 1, want, z->f);
	z->nin += got;
	z->ib.src = z->in;
	z->ib.size = got;
	z->ib.pos = 0;
	if (got == 0) {
		if (ferror(z->f))
			return zr_fail(z, "read error: %s", strerror(errno));
		return zr_fail(z, "truncated snapshot: the stream ends %llu bytes into a snapshot frame",
			       (unsigned long long)z->nin);
	}
	return 0;
}

static int zr_error(zr *z, size_t r)
{
	if (ZSTD_getErrorCode(r) == ZSTD_error_checksum_wrong)
		return zr_fail(z, "corrupt snapshot: the zstd content checksum does not match (bit flip?)");
	return zr_fail(z, "corrupt snapshot: zstd: %s (%llu bytes into the frame)", ZSTD_getErrorName(r),
		       (unsigned long long)z->nin);
}

/* Decompresses exactly n bytes of frame content into dst. */
static int zr_read(zr *z, void *dst, size_t n, const char *what)
{
	ZSTD_outBuffer ob = { dst, n, 0 };
	while (ob.pos < n) {
		if (z->done)
			return zr_fail(z, "bad snapshot: the frame ends inside the %s", what);
		size_t r = ZSTD_decompressStream(z->dc, &ob, &z->ib);
		if (ZSTD_isError(r))
			return zr_error(z, r);
		if (r == 0) {
			z->done = 1;
			continue;
		}
		if (ob.pos == n || z->ib.pos < z->ib.size)
			continue;
		if (zr_fill(z, r) < 0)	/* input used up, output has room: it needs r more bytes */
			return -1;
	}
	return 0;
}

/* After the last field: the frame must end here (and its checksum match). */
static int zr_finish(zr *z)
{
	unsigned char extra;
	while (!z->done) {
		ZSTD_outBuffer ob = { &extra, 1, 0 };
		size_t r = ZSTD_decompressStream(z->dc, &ob, &z->ib);
		if (ZSTD_isError(r))
			return zr_error(z, r);
		if (ob.pos)
			return zr_fail(z, "bad snapshot: data after the logits (the frame is longer than its header says)");
		if (r == 0)
			z->done = 1;
		else if (z->ib.pos == z->ib.size && zr_fill(z, r) < 0)
			return -1;
	}
	if (z->ib.pos != z->ib.size)	/* cannot happen with exact feeding */
		return zr_fail(z, "internal error: read %zu bytes past the end of a snapshot frame",
			       z->ib.size - z->ib.pos);
	return 0;
}

void g4_snap_free(g4_snap *s)
{
	if (!s)
		return;
	if (s->layers)
		for (uint32_t i = 0; i < s->n_layers; i++) {
			free(s->layers[i].k);
			free(s->layers[i].v);
		}
	free(s->layers);
	free(s->tokens);
	free(s->logits);
	memset(s, 0, sizeof *s);
}

static void *zalloc(zr *z, uint64_t n, const char *what)
{
	void *p = malloc(n ? (size_t)n : 1);
	if (!p)
		zr_fail(z, "out of memory (%s: %llu bytes)", what, (unsigned long long)n);
	return p;
}

static int read_body(zr *z, g4_snap *s, const uint8_t *fingerprint)
{
	unsigned char hb[HDR_BYTES];
	if (zr_read(z, hb, HDR_BYTES, "header") < 0)
		return -1;
	if (memcmp(hb, magic, 8))
		return zr_fail(z, "not a KV snapshot (a zstd frame, but not a g4 snapshot)");
	uint32_t ver = get32(hb + 8);
	if (ver == 0 || ver > SNAP_VERSION)
		return zr_fail(z, "snapshot version %u is not supported (this reader knows 1..%u)", ver,
			       SNAP_VERSION);
	s->kv_type = get32(hb + 12);
	memcpy(s->fingerprint, hb + 16, 32);
	s->n_tokens = get64(hb + 48);
	uint32_t n_layers = get32(hb + 56);
	s->n_vocab = get32(hb + 60);
	if (get64(hb + 64))
		return zr_fail(z, "bad snapshot header: reserved field is not zero");
	if (n_layers > MAX_LAYERS)
		return zr_fail(z, "bad snapshot header: %u layers is absurd (limit %u)", n_layers, MAX_LAYERS);

	size_t tn = (size_t)LAYER_BYTES * n_layers;
	unsigned char *tb = zalloc(z, tn + 8, "layer table");
	if (!tb)
		return -1;
	int rc = -1;
	if (zr_read(z, tb, tn + 8, "layer table") < 0)
		goto out;
	g4_sha256 sh;
	uint8_t d[32];
	g4_sha256_init(&sh);
	g4_sha256_update(&sh, hb, HDR_BYTES);
	g4_sha256_update(&sh, tb, tn);
	g4_sha256_final(&sh, d);
	if (memcmp(d, tb + tn, 8)) {
		zr_fail(z, "corrupt snapshot: header check does not match (bit flip?)");
		goto out;
	}
	if (fingerprint && memcmp(fingerprint, s->fingerprint, 32)) {
		char a[17], b[17];
		fp_hex(s->fingerprint, a);
		fp_hex(fingerprint, b);
		zr_fail(z, "snapshot was made by another model (snapshot fingerprint %s..., this model %s...)", a, b);
		goto out;
	}
	if (!(s->layers = calloc(n_layers ? n_layers : 1, sizeof *s->layers))) {
		zr_fail(z, "out of memory");
		goto out;
	}
	s->n_layers = n_layers;
	for (uint32_t i = 0; i < n_layers; i++) {
		const unsigned char *e = tb + (size_t)LAYER_BYTES * i;
		g4_snap_layer *l = &s->layers[i];
		l->layer = get32(e);
		l->n_head_kv = get32(e + 4);
		l->head_dim = get32(e + 8);
		l->pos0 = get64(e + 16);
		l->n_rows = get64(e + 24);
		if (get32(e + 12)) {
			zr_fail(z, "bad snapshot: layer table entry %u: reserved field is not zero", i);
			goto out;
		}
	}
	uint64_t total;
	if (check_shape(s->kv_type, s->n_tokens, n_layers, s->n_vocab, s->layers, &total) < 0) {
		g4_err_ctx("%s: bad snapshot: ", z->name);
		goto out;
	}

	if (!(s->tokens = zalloc(z, 4 * s->n_tokens, "token history")) ||
	    zr_read(z, s->tokens, 4 * s->n_tokens, "token history") < 0)
		goto out;
	for (uint64_t i = 0; i < s->n_tokens; i++)
		if (s->tokens[i] < -3 || (s->n_vocab && s->tokens[i] >= (int32_t)s->n_vocab)) {
			zr_fail(z, "bad snapshot: history position %llu holds id %d (vocabulary %u)",
				(unsigned long long)i, (int)s->tokens[i], s->n_vocab);
			goto out;
		}
	for (uint32_t i = 0; i < n_layers; i++) {
		g4_snap_layer *l = &s->layers[i];
		uint64_t n = l->n_rows * g4_row_bytes(s->kv_type, (int64_t)l->n_head_kv * l->head_dim);
		if (!(l->k = zalloc(z, n, "K rows")) || zr_read(z, l->k, n, "K rows") < 0 ||
		    !(l->v = zalloc(z, n, "V rows")) || zr_read(z, l->v, n, "V rows") < 0)
			goto out;
	}
	if (!(s->logits = zalloc(z, 4ull * s->n_vocab, "logits")) ||
	    zr_read(z, s->logits, 4ull * s->n_vocab, "logits") < 0)
		goto out;
	if (zr_finish(z) < 0)
		goto out;
	rc = 0;
out:
	free(tb);
	return rc;
}

int g4_snap_read(FILE *f, g4_snap *s, const uint8_t *fingerprint, const char *name)
{
	memset(s, 0, sizeof *s);
	zr z = { .f = f, .name = name ? name : "snapshot" };
	int c = getc(f);
	if (c == EOF) {
		if (ferror(f))
			return g4_err_sys("reading %s", z.name);
		return 0;
	}
	ungetc(c, f);
	unsigned char m[4];
	size_t got = fread(m, 1, 4, f);
	if (got < 4 || memcmp(m, zstd_magic, 4)) {
		if (got >= 4 && m[0] == 0x89 && m[1] == 'G' && m[2] == '4' && m[3] == 'S')
			return g4_err("%s: this is a token stream, not a KV snapshot", z.name);
		if (got < 4 && !ferror(f) && !memcmp(m, zstd_magic, got))
			return g4_err("%s: truncated snapshot (%zu bytes)", z.name, got);
		return g4_err("%s: not a KV snapshot (no zstd frame; first bytes %02x %02x %02x %02x)", z.name,
			      m[0], got > 1 ? m[1] : 0, got > 2 ? m[2] : 0, got > 3 ? m[3] : 0);
	}
	z.in_cap = ZSTD_DStreamInSize();
	z.in = malloc(z.in_cap);
	z.dc = ZSTD_createDCtx();
	int rc = -1;
	if (!z.in || !z.dc || z.in_cap < 4) {
		g4_err("out of memory");
		goto out;
	}
	memcpy(z.in, m, 4);
	z.ib = (ZSTD_inBuffer){ z.in, 4, 0 };
	z.nin = 4;
	if (read_body(&z, s, fingerprint) < 0) {
		g4_snap_free(s);
		goto out;
	}
	rc = 1;
out:
	free(z.in);
	ZSTD_freeDCtx(z.dc);
	return rc;
}
