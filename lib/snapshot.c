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
 * The reader checks every count and size of the header against the
 * format's limits, against the model when it has one (g4_snap_want), against
 * the frame's declared content size, and for a regular file against what
 * the compressed bytes left can hold, all before it allocates anything (the
 * header and table sit on the stack); the arrays then grow as their bytes
 * arrive.
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
#include <sys/stat.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "err.h"
#include "model.h"
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

#define FRAME_HDR_MAX	18		/* bytes of a zstd frame header, at most */
#define BLOCK_MAX	(128u << 10)	/* content of a zstd block, at most */

static void put32(unsigned char *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(unsigned char *p, uint64_t v) { memcpy(p, &v, 8); }
static uint32_t get32(const unsigned char *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t get64(const unsigned char *p) { uint64_t v; memcpy(&v, p, 8); return v; }

static int kv_type_ok(uint32_t t)
{
	return t == G4_F32 || t == G4_F16 || t == G4_BF16 || t == G4_Q8_0;
}

/* The counts of the header against the format's limits.  Messages start
 * with what is wrong (the caller adds the name). */
static int check_counts(uint32_t kv_type, uint64_t n_tokens, uint32_t n_layers, uint32_t n_vocab)
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
	return 0;
}

/* Content bytes before the K/V rows plus the logits: header, table, check,
 * history, logits. */
static uint64_t fixed_bytes(uint64_t n_tokens, uint32_t n_layers, uint32_t n_vocab)
{
	return HDR_BYTES + (uint64_t)LAYER_BYTES * n_layers + 8 + 4 * n_tokens + 4ull * n_vocab;
}

/* Layer table entry i (prev: entry i-1 or NULL) against the limits and the
 * history length; adds its K and V bytes to *t (which starts at
 * fixed_bytes and is kept <= MAX_TOTAL). */
static int check_layer(uint32_t kv_type, uint64_t n_tokens, uint32_t i, const g4_snap_layer *l,
		       const g4_snap_layer *prev, uint64_t *t)
{
	if (prev && l->layer <= prev->layer)
		return g4_err("layer table entry %u: layer %u does not follow layer %u", i, l->layer,
			      prev->layer);
	if (l->n_head_kv == 0 || l->n_head_kv > MAX_HEADS || l->head_dim == 0 || l->head_dim > MAX_HEAD_DIM)
		return g4_err("layer %u: %u KV heads of dim %u is out of range", l->layer, l->n_head_kv,
			      l->head_dim);
	uint64_t row = (uint64_t)l->n_head_kv * l->head_dim;
	if (row > MAX_ROW)
		return g4_err("layer %u: K/V row of %llu values is absurd (limit %u)", l->layer,
			      (unsigned long long)row, MAX_ROW);
	size_t rb = g4_row_bytes(kv_type, (int64_t)row);
	if (!rb)
		return g4_err("layer %u: a K/V row of %llu values cannot be stored as %s (not a multiple of %d)",
			      l->layer, (unsigned long long)row, g4_type_name(kv_type), g4_type_block(kv_type));
	if (l->n_rows > n_tokens || l->pos0 != n_tokens - l->n_rows)
		return g4_err("layer %u: rows %llu..%llu do not end at the history length %llu", l->layer,
			      (unsigned long long)l->pos0, (unsigned long long)(l->pos0 + l->n_rows),
			      (unsigned long long)n_tokens);
	*t += 2 * l->n_rows * rb;	/* n_rows <= 2^26, rb <= 2^22: no overflow */
	if (*t > MAX_TOTAL)
		return g4_err("snapshot of more than %llu bytes is absurd", (unsigned long long)MAX_TOTAL);
	return 0;
}

/* Checks everything that determines sizes; *total gets the content bytes. */
static int check_shape(uint32_t kv_type, uint64_t n_tokens, uint32_t n_layers, uint32_t n_vocab,
		       const g4_snap_layer *L, uint64_t *total)
{
	if (check_counts(kv_type, n_tokens, n_layers, n_vocab) < 0)
		return -1;
	uint64_t t = fixed_bytes(n_tokens, n_layers, n_vocab);
	for (uint32_t i = 0; i < n_layers; i++)
		if (check_layer(kv_type, n_tokens, i, &L[i], i ? &L[i - 1] : NULL, &t) < 0)
			return -1;
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
	unsigned char fh[FRAME_HDR_MAX];	/* the first bytes of the frame */
	size_t fhn;
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
	if (z->fhn < sizeof z->fh) {	/* keep the frame header for its content size */
		size_t k = sizeof z->fh - z->fhn < got ? sizeof z->fh - z->fhn : got;
		memcpy(z->fh + z->fhn, z->in, k);
		z->fhn += k;
	}
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

/* Reads n bytes of content into a new array that grows as the bytes
 * arrive (a megabyte, then doubling), so a size the input does not hold
 * costs no more than the input does.  NULL on error. */
#define GROW0 ((uint64_t)1 << 20)
static void *zr_read_new(zr *z, uint64_t n, const char *what)
{
	uint64_t cap = n < GROW0 ? n : GROW0, got = 0;
	unsigned char *p = malloc(cap ? (size_t)cap : 1);
	for (;;) {
		if (!p) {
			zr_fail(z, "out of memory (%s: %llu bytes)", what, (unsigned long long)cap);
			return NULL;
		}
		if (zr_read(z, p + got, (size_t)(cap - got), what) < 0) {
			free(p);
			return NULL;
		}
		got = cap;
		if (got == n)
			return p;
		cap = 2 * cap < n ? 2 * cap : n;
		unsigned char *q = realloc(p, (size_t)cap);
		if (!q)
			free(p);
		p = q;
	}
}

static void get_entry(const unsigned char *e, g4_snap_layer *l)
{
	memset(l, 0, sizeof *l);
	l->layer = get32(e);
	l->n_head_kv = get32(e + 4);
	l->head_dim = get32(e + 8);
	l->pos0 = get64(e + 16);
	l->n_rows = get64(e + 24);
}

/* The header's counts against the model (messages: what is wrong). */
static int want_counts(const g4_snap_want *w, uint64_t n_tokens, uint32_t n_layers, uint32_t n_vocab)
{
	if (w->max_tokens && n_tokens > w->max_tokens)
		return g4_err("%llu positions of history, more than the model's context of %llu",
			      (unsigned long long)n_tokens, (unsigned long long)w->max_tokens);
	if (w->layers && n_layers != w->n_layers)
		return g4_err("K/V of %u layers, the model owns K/V in %u", n_layers, w->n_layers);
	if (w->n_vocab && n_vocab && n_vocab != w->n_vocab)
		return g4_err("logits of %u values, the model's vocabulary is %u", n_vocab, w->n_vocab);
	return 0;
}

/* Layer table entry i against the model's KV layer i. */
static int want_layer(const g4_snap_want *w, uint64_t n_tokens, uint32_t i, const g4_snap_layer *l)
{
	const g4_snap_kv *k = &w->layers[i];
	if (l->layer != k->layer)
		return g4_err("layer table entry %u is layer %u, the model's K/V layer %u is layer %u", i,
			      l->layer, i, k->layer);
	if (l->n_head_kv != k->n_head_kv || l->head_dim != k->head_dim)
		return g4_err("layer %u: K/V of %u heads of dim %u, the model has %u heads of dim %u", l->layer,
			      l->n_head_kv, l->head_dim, k->n_head_kv, k->head_dim);
	uint64_t keep = n_tokens < k->window ? n_tokens : k->window;
	if (l->n_rows != keep)
		return g4_err("layer %u: %llu rows stored, the model keeps %llu of a history of %llu", l->layer,
			      (unsigned long long)l->n_rows, (unsigned long long)keep,
			      (unsigned long long)n_tokens);
	return 0;
}

/* A frame's content, after the header: at most a block still inside the
 * decoder, and each further block (at most 128 KiB) takes at least 4 bytes
 * of input (an RLE block).  For a regular file that bounds what is left. */
static int check_input_size(zr *z, uint64_t rest)
{
	struct stat st;
	int fd = fileno(z->f);
	off_t at = ftello(z->f);
	if (fd < 0 || at < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < at)
		return 0;
	uint64_t left = (uint64_t)(st.st_size - at);
	uint64_t most = (left / 4 + 2) * BLOCK_MAX;
	if (rest > most)
		return zr_fail(z, "truncated snapshot: the header describes %llu more bytes, the %llu bytes left "
			       "in the file hold at most %llu", (unsigned long long)rest, (unsigned long long)left,
			       (unsigned long long)most);
	return 0;
}

static int read_body(zr *z, g4_snap *s, const g4_snap_want *w)
{
	unsigned char hb[HDR_BYTES];
	unsigned char tb[LAYER_BYTES * MAX_LAYERS + 8];
	if (zr_read(z, hb, HDR_BYTES, "header") < 0)
		return -1;
	if (memcmp(hb, magic, 8))
		return zr_fail(z, "not a KV snapshot (a zstd frame, but not a g4 snapshot)");
	uint32_t ver = get32(hb + 8);
	if (ver == 0 || ver > SNAP_VERSION)
		return zr_fail(z, "snapshot version %u is not supported (this reader knows 1..%u)", ver,
			       SNAP_VERSION);
	uint32_t kv_type = get32(hb + 12);
	uint64_t n_tokens = get64(hb + 48);
	uint32_t n_layers = get32(hb + 56), n_vocab = get32(hb + 60);
	if (get64(hb + 64))
		return zr_fail(z, "bad snapshot header: reserved field is not zero");
	if (n_layers > MAX_LAYERS)
		return zr_fail(z, "bad snapshot header: %u layers is absurd (limit %u)", n_layers, MAX_LAYERS);

	/* the table (at most 32 KiB, on the stack) and the check over both */
	size_t tn = (size_t)LAYER_BYTES * n_layers;
	if (zr_read(z, tb, tn + 8, "layer table") < 0)
		return -1;
	g4_sha256 sh;
	uint8_t d[32];
	g4_sha256_init(&sh);
	g4_sha256_update(&sh, hb, HDR_BYTES);
	g4_sha256_update(&sh, tb, tn);
	g4_sha256_final(&sh, d);
	if (memcmp(d, tb + tn, 8))
		return zr_fail(z, "corrupt snapshot: header check does not match (bit flip?)");
	if (w && w->fingerprint && memcmp(w->fingerprint, hb + 16, 32)) {
		char a[17], b[17];
		fp_hex(hb + 16, a);
		fp_hex(w->fingerprint, b);
		return zr_fail(z, "snapshot was made by another model (snapshot fingerprint %s..., this model %s...)",
			       a, b);
	}

	/* every size, before anything is allocated */
	if (check_counts(kv_type, n_tokens, n_layers, n_vocab) < 0)
		return g4_err_ctx("%s: bad snapshot: ", z->name);
	if (w && want_counts(w, n_tokens, n_layers, n_vocab) < 0)
		return g4_err_ctx("%s: snapshot does not fit the model: ", z->name);
	uint64_t total = fixed_bytes(n_tokens, n_layers, n_vocab);
	g4_snap_layer l, prev;
	for (uint32_t i = 0; i < n_layers; i++) {
		if (get32(tb + (size_t)LAYER_BYTES * i + 12))
			return zr_fail(z, "bad snapshot: layer table entry %u: reserved field is not zero", i);
		get_entry(tb + (size_t)LAYER_BYTES * i, &l);
		if (check_layer(kv_type, n_tokens, i, &l, i ? &prev : NULL, &total) < 0)
			return g4_err_ctx("%s: bad snapshot: ", z->name);
		if (w && w->layers && want_layer(w, n_tokens, i, &l) < 0)
			return g4_err_ctx("%s: snapshot does not fit the model: ", z->name);
		prev = l;
	}
	unsigned long long fcs = ZSTD_getFrameContentSize(z->fh, z->fhn);
	if (fcs == ZSTD_CONTENTSIZE_UNKNOWN || fcs == ZSTD_CONTENTSIZE_ERROR)
		return zr_fail(z, "bad snapshot: the zstd frame does not declare its content size");
	if (fcs != total)
		return zr_fail(z, "bad snapshot: the header describes %llu bytes of content, the zstd frame declares %llu",
			       (unsigned long long)total, fcs);
	if (check_input_size(z, total - (HDR_BYTES + tn + 8)) < 0)
		return -1;

	/* the header is what the model wants and what the frame holds */
	memcpy(s->fingerprint, hb + 16, 32);
	s->kv_type = kv_type;
	s->n_tokens = n_tokens;
	s->n_vocab = n_vocab;
	if (!(s->layers = calloc(n_layers ? n_layers : 1, sizeof *s->layers)))
		return zr_fail(z, "out of memory");
	s->n_layers = n_layers;
	for (uint32_t i = 0; i < n_layers; i++)
		get_entry(tb + (size_t)LAYER_BYTES * i, &s->layers[i]);

	if (!(s->tokens = zr_read_new(z, 4 * n_tokens, "token history")))
		return -1;
	uint32_t nv = w && w->n_vocab ? w->n_vocab : n_vocab;
	for (uint64_t i = 0; i < n_tokens; i++)
		if (s->tokens[i] < -3 || (nv && s->tokens[i] >= (int32_t)nv))
			return zr_fail(z, "bad snapshot: history position %llu holds id %d (vocabulary %u)",
				       (unsigned long long)i, (int)s->tokens[i], nv);
	for (uint32_t i = 0; i < n_layers; i++) {
		g4_snap_layer *e = &s->layers[i];
		uint64_t n = e->n_rows * g4_row_bytes(kv_type, (int64_t)e->n_head_kv * e->head_dim);
		if (!(e->k = zr_read_new(z, n, "K rows")) || !(e->v = zr_read_new(z, n, "V rows")))
			return -1;
	}
	if (!(s->logits = zr_read_new(z, 4ull * n_vocab, "logits")))
		return -1;
	return zr_finish(z);
}

int g4_snap_read_want(FILE *f, g4_snap *s, const g4_snap_want *want, const char *name)
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
	memcpy(z.fh, m, 4);
	z.fhn = 4;
	z.ib = (ZSTD_inBuffer){ z.in, 4, 0 };
	z.nin = 4;
	if (read_body(&z, s, want) < 0) {
		g4_snap_free(s);
		goto out;
	}
	rc = 1;
out:
	free(z.in);
	ZSTD_freeDCtx(z.dc);
	return rc;
}

int g4_snap_read(FILE *f, g4_snap *s, const uint8_t *fingerprint, const char *name)
{
	g4_snap_want w = { .fingerprint = fingerprint };
	return g4_snap_read_want(f, s, &w, name);
}

int g4_snap_read_model(FILE *f, g4_snap *s, const g4_model *m, const char *name)
{
	memset(s, 0, sizeof *s);
	g4_snap_kv *kv = calloc(m->n_layer_kv > 0 ? (size_t)m->n_layer_kv : 1, sizeof *kv);
	if (!kv)
		return g4_err("out of memory");
	for (int l = 0; l < m->n_layer; l++) {
		const g4_layer *L = &m->layers[l];
		if (!L->has_kv || L->kv_slot < 0 || L->kv_slot >= m->n_layer_kv)
			continue;
		g4_snap_kv *k = &kv[L->kv_slot];
		k->layer = (uint32_t)l;
		k->n_head_kv = (uint32_t)L->nkv;
		k->head_dim = (uint32_t)L->hd;
		k->window = L->swa ? (uint64_t)(m->window - 1) : UINT64_MAX;	/* as the decoder keeps them */
	}
	g4_snap_want w = {
		.fingerprint = m->fingerprint,
		.max_tokens = m->n_ctx_train > 0 ? (uint64_t)m->n_ctx_train : 0,
		.n_vocab = (uint32_t)m->n_vocab,
		.n_layers = (uint32_t)m->n_layer_kv,
		.layers = kv,
	};
	int rc = g4_snap_read_want(f, s, &w, name);
	free(kv);
	return rc;
}
