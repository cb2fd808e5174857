/* Tests of the KV snapshot (lib/snapshot.c): round trip for every kv_type,
 * snapshot streams (file and pipe, no over-read), truncation at every byte,
 * bit flips, a foreign fingerprint, non-snapshot input, inconsistent
 * content built by hand (which also checks the documented byte layout). */
#include <stdint.h>
#include <zstd.h>

#include "t.h"
#include "tlimit.h"
#include "err.h"
#include "model.h"
#include "qtypes.h"
#include "sha256.h"
#include "snapshot.h"

static uint64_t rng_state;
static uint32_t rnd(void)
{
	rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(rng_state >> 33);
}

/* A snapshot with n_tokens of history, three KV layers (one a sliding
 * window of at most 5 rows), random K/V bytes (compressible when
 * `compressible`), and logits. */
static void make_snap(g4_snap *s, uint32_t kv_type, uint64_t n_tokens, uint32_t n_vocab, int compressible)
{
	memset(s, 0, sizeof *s);
	for (int i = 0; i < 32; i++)
		s->fingerprint[i] = (uint8_t)(i * 7 + 1);
	s->kv_type = kv_type;
	s->n_tokens = n_tokens;
	s->tokens = malloc(4 * n_tokens + 4);
	for (uint64_t i = 0; i < n_tokens; i++)
		s->tokens[i] = i % 17 == 3 ? -2 : (int32_t)(rnd() % n_vocab);
	s->n_layers = 3;
	s->layers = calloc(3, sizeof *s->layers);
	uint32_t heads[3] = { 2, 1, 4 }, dims[3] = { 32, 64, 16 }, ids[3] = { 0, 3, 4 };
	for (int i = 0; i < 3; i++) {
		g4_snap_layer *l = &s->layers[i];
		l->layer = ids[i];
		l->n_head_kv = heads[i];
		l->head_dim = dims[i];
		l->n_rows = i == 1 && n_tokens > 5 ? 5 : n_tokens;
		l->pos0 = n_tokens - l->n_rows;
		size_t n = l->n_rows * g4_row_bytes(kv_type, heads[i] * dims[i]);
		l->k = malloc(n + 1);
		l->v = malloc(n + 1);
		for (size_t j = 0; j < n; j++) {
			((uint8_t *)l->k)[j] = compressible ? (uint8_t)(j % 5) : (uint8_t)rnd();
			((uint8_t *)l->v)[j] = (uint8_t)rnd();
		}
	}
	s->n_vocab = n_vocab;
	s->logits = malloc(4ull * n_vocab + 4);
	for (uint32_t i = 0; i < n_vocab; i++)
		s->logits[i] = (float)(int)(rnd() % 2001 - 1000) / 37.0f;
}

/* 1 if a and b are equal in every field and byte. */
static int snap_eq(const g4_snap *a, const g4_snap *b)
{
	if (memcmp(a->fingerprint, b->fingerprint, 32) || a->kv_type != b->kv_type ||
	    a->n_tokens != b->n_tokens || a->n_layers != b->n_layers || a->n_vocab != b->n_vocab)
		return 0;
	if ((a->n_tokens && memcmp(a->tokens, b->tokens, 4 * a->n_tokens)) ||
	    (a->n_vocab && memcmp(a->logits, b->logits, 4ull * a->n_vocab)))
		return 0;
	for (uint32_t i = 0; i < a->n_layers; i++) {
		const g4_snap_layer *x = &a->layers[i], *y = &b->layers[i];
		if (x->layer != y->layer || x->n_head_kv != y->n_head_kv || x->head_dim != y->head_dim ||
		    x->pos0 != y->pos0 || x->n_rows != y->n_rows)
			return 0;
		size_t n = x->n_rows * g4_row_bytes(a->kv_type, x->n_head_kv * x->head_dim);
		if (memcmp(x->k, y->k, n) || memcmp(x->v, y->v, n))
			return 0;
	}
	return 1;
}

typedef struct {
	char *p;
	size_t n;
} buf;

static int write_mem(buf *b, const g4_snap *s)
{
	FILE *f = open_memstream(&b->p, &b->n);
	int rc = g4_snap_write(f, s, "mem");
	fclose(f);
	return rc;
}

static FILE *rd(const void *p, size_t n)
{
	return n ? fmemopen((void *)p, n, "r") : tmpfile();	/* empty */
}

/* Reads one snapshot from p[0..n). */
static int read_mem(const void *p, size_t n, g4_snap *s, const uint8_t *fp)
{
	FILE *f = rd(p, n);
	int rc = g4_snap_read(f, s, fp, "mem");
	fclose(f);
	return rc;
}

static void test_roundtrip_types(void)
{
	uint32_t types[] = { G4_F32, G4_F16, G4_BF16, G4_Q8_0 };
	for (int t = 0; t < 4; t++) {
		g4_snap a, b;
		make_snap(&a, types[t], 37, 1000, 0);
		buf m = { 0 };
		CHECK(write_mem(&m, &a) == 0, "%s: write: %s", g4_type_name(types[t]), g4_errmsg());
		CHECK(ZSTD_getFrameContentSize(m.p, m.n) != ZSTD_CONTENTSIZE_UNKNOWN, "content size pledged");
		CHECK(ZSTD_findFrameCompressedSize(m.p, m.n) == m.n, "exactly one frame");
		int rc = read_mem(m.p, m.n, &b, a.fingerprint);
		CHECK(rc == 1, "%s: read: %d %s", g4_type_name(types[t]), rc, g4_errmsg());
		if (rc == 1) {
			CHECK(snap_eq(&a, &b), "%s: differs after the round trip", g4_type_name(types[t]));
			g4_snap_free(&b);
			CHECK(b.layers == NULL && b.n_layers == 0, "free zeroes");
		}
		/* no fingerprint given: no check */
		CHECK(read_mem(m.p, m.n, &b, NULL) == 1, "read without fingerprint");
		g4_snap_free(&b);
		g4_snap_free(&a);
		free(m.p);
	}
	/* empty history, no layers, no logits */
	g4_snap a = { 0 }, b;
	a.kv_type = G4_F16;
	buf m = { 0 };
	CHECK(write_mem(&m, &a) == 0, "empty: %s", g4_errmsg());
	CHECK(read_mem(m.p, m.n, &b, a.fingerprint) == 1 && snap_eq(&a, &b), "empty snapshot: %s", g4_errmsg());
	g4_snap_free(&b);
	free(m.p);
}

static void test_stream_file(void)
{
	g4_snap a[3], b;
	make_snap(&a[0], G4_F16, 20, 500, 1);
	make_snap(&a[1], G4_Q8_0, 9, 300, 0);
	make_snap(&a[2], G4_F32, 1, 100, 1);
	FILE *f = tmpfile();
	long ends[3];
	for (int i = 0; i < 3; i++) {
		CHECK(g4_snap_write(f, &a[i], "tmp") == 0, "write %d: %s", i, g4_errmsg());
		ends[i] = ftell(f);
	}
	rewind(f);
	for (int i = 0; i < 3; i++) {
		int rc = g4_snap_read(f, &b, NULL, "tmp");
		CHECK(rc == 1 && snap_eq(&a[i], &b), "snapshot %d: %d %s", i, rc, g4_errmsg());
		CHECK(ftell(f) == ends[i], "after snapshot %d the file is at %ld, the frame ends at %ld", i,
		      ftell(f), ends[i]);
		g4_snap_free(&b);
	}
	CHECK(g4_snap_read(f, &b, NULL, "tmp") == 0, "clean end");
	fclose(f);
	for (int i = 0; i < 3; i++)
		g4_snap_free(&a[i]);
}

/* Through a pipe, with snapshots of several zstd blocks each, and a byte
 * after them that must still be there. */
static void test_stream_pipe(void)
{
	int fd[2];
	if (pipe(fd)) {
		CHECK(0, "pipe");
		return;
	}
	rng_state = 42;
	g4_snap a[2];
	make_snap(&a[0], G4_F32, 3000, 4000, 0);	/* ~2.5 MB of K/V: many blocks */
	make_snap(&a[1], G4_BF16, 700, 262144, 1);
	pid_t pid = fork();
	if (pid == 0) {
		close(fd[0]);
		FILE *f = fdopen(fd[1], "w");
		int rc = g4_snap_write(f, &a[0], "pipe") | g4_snap_write(f, &a[1], "pipe");
		fputc('!', f);
		_exit(rc == 0 && fclose(f) == 0 ? 0 : 1);
	}
	close(fd[1]);
	FILE *f = fdopen(fd[0], "r");
	g4_snap b;
	for (int i = 0; i < 2; i++) {
		int rc = g4_snap_read(f, &b, a[i].fingerprint, "pipe");
		CHECK(rc == 1 && snap_eq(&a[i], &b), "snapshot %d: %d %s", i, rc, g4_errmsg());
		g4_snap_free(&b);
	}
	CHECK(getc(f) == '!' && getc(f) == EOF, "the byte after the last frame was consumed");
	fclose(f);
	int st;
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "writer failed");
	g4_snap_free(&a[0]);
	g4_snap_free(&a[1]);
}

static void test_truncated(void)
{
	g4_snap a, b;
	rng_state = 7;
	make_snap(&a, G4_F16, 12, 64, 0);
	buf m = { 0 };
	write_mem(&m, &a);
	int bad = 0;
	for (size_t cut = 0; cut < m.n && bad < 5; cut++) {
		int rc = read_mem(m.p, cut, &b, NULL);
		if (cut == 0 ? rc != 0 : rc != -1 || !strstr(g4_errmsg(), "truncated")) {
			CHECK(0, "cut at %zu of %zu: %d '%s'", cut, m.n, rc, g4_errmsg());
			bad++;
		}
		if (rc == 1)
			g4_snap_free(&b);
	}
	g4_snap_free(&a);
	free(m.p);
}

static void test_bitflips(void)
{
	g4_snap a, b;
	rng_state = 9;
	make_snap(&a, G4_Q8_0, 10, 50, 1);
	buf m = { 0 };
	write_mem(&m, &a);
	char *p = malloc(m.n);
	int silent = 0, tolerated = 0;
	for (size_t i = 0; i < m.n; i++)
		for (int bit = 0; bit < 8; bit++) {
			memcpy(p, m.p, m.n);
			p[i] ^= (char)(1 << bit);
			int rc = read_mem(p, m.n, &b, NULL);
			if (rc == 1) {
				/* a flip the frame tolerates (e.g. a larger window) must give the same snapshot */
				if (!snap_eq(&a, &b))
					silent++;
				else
					tolerated++;
				g4_snap_free(&b);
			} else if (rc != -1 || strncmp(g4_errmsg(), "mem: ", 5))
				silent++;
		}
	CHECK(silent == 0, "%d bit flips gave a different snapshot or no clear error", silent);
	/* zstd ignores a few bits (window size, unused table bits): rare */
	CHECK(tolerated < (int)m.n / 10, "%d of %zu flips tolerated", tolerated, 8 * m.n);
	/* a flipped content-checksum byte: the checksum message */
	memcpy(p, m.p, m.n);
	p[m.n - 1] ^= 0x10;
	CHECK(read_mem(p, m.n, &b, NULL) == -1 && strstr(g4_errmsg(), "checksum"), "checksum: %s", g4_errmsg());
	free(p);
	g4_snap_free(&a);
	free(m.p);
}

static void test_foreign(void)
{
	g4_snap a, b;
	make_snap(&a, G4_F16, 5, 20, 1);
	buf m = { 0 };
	write_mem(&m, &a);
	uint8_t other[32];
	memcpy(other, a.fingerprint, 32);
	other[31] ^= 1;
	CHECK(read_mem(m.p, m.n, &b, other) == -1 && strstr(g4_errmsg(), "made by another model"),
	      "foreign: %s", g4_errmsg());
	CHECK(b.layers == NULL && b.tokens == NULL, "nothing left allocated");
	g4_snap_free(&a);
	free(m.p);
}

static void test_not_snapshot(void)
{
	g4_snap b;
	CHECK(read_mem("", 0, &b, NULL) == 0, "empty input: clean end");
	CHECK(read_mem("hello world", 11, &b, NULL) == -1 && strstr(g4_errmsg(), "not a KV snapshot"),
	      "text: %s", g4_errmsg());
	CHECK(read_mem("\x89G4S\r\n\x1a\n\1\0\0\0", 12, &b, NULL) == -1 && strstr(g4_errmsg(), "token stream"),
	      "token stream: %s", g4_errmsg());
	CHECK(read_mem("\x28\xb5", 2, &b, NULL) == -1 && strstr(g4_errmsg(), "truncated"), "2 bytes: %s", g4_errmsg());
	char z[256];
	const char *msg = "a zstd frame holding something else entirely, long enough for a header........";
	size_t zn = ZSTD_compress(z, sizeof z, msg, strlen(msg), 1);
	CHECK(read_mem(z, zn, &b, NULL) == -1 && strstr(g4_errmsg(), "not a g4 snapshot"), "other zstd: %s",
	      g4_errmsg());
	zn = ZSTD_compress(z, sizeof z, "abc", 3, 1);
	CHECK(read_mem(z, zn, &b, NULL) == -1 && strstr(g4_errmsg(), "frame ends inside the header"),
	      "short zstd: %s", g4_errmsg());
}

/* Random bytes after the zstd magic, and random damage to a real frame. */
static void test_random(void)
{
	g4_snap a, b;
	rng_state = 11;
	make_snap(&a, G4_F32, 8, 30, 0);
	buf m = { 0 };
	write_mem(&m, &a);
	char *p = malloc(m.n);
	int bad = 0;
	for (int it = 0; it < 2000; it++) {
		size_t n = m.n;
		if (it % 2) {
			memcpy(p, "\x28\xb5\x2f\xfd", 4);
			for (size_t i = 4; i < n; i++)
				p[i] = (char)rnd();
		} else {
			memcpy(p, m.p, n);
			for (int k = 0; k < 1 + it % 5; k++)
				p[rnd() % n] = (char)rnd();
			n -= rnd() % 2 ? rnd() % n : 0;
		}
		int rc = read_mem(p, n, &b, NULL);
		if (rc == 1) {
			bad += !snap_eq(&a, &b);
			g4_snap_free(&b);
		} else
			bad += rc != -1 && !(rc == 0 && n == 0);
	}
	CHECK(bad == 0, "%d damaged inputs read as something else", bad);
	free(p);
	g4_snap_free(&a);
	free(m.p);
}

/* Header, layer table and check of s, from the documented layout. */
static size_t header_bytes(const g4_snap *s, unsigned char *o, int bad_check)
{
	size_t n = 0;
	memcpy(o, "\x89G4K\r\n\x1a\n", 8);
	uint32_t v32 = 1;
	memcpy(o + 8, &v32, 4);
	memcpy(o + 12, &s->kv_type, 4);
	memcpy(o + 16, s->fingerprint, 32);
	memcpy(o + 48, &s->n_tokens, 8);
	memcpy(o + 56, &s->n_layers, 4);
	memcpy(o + 60, &s->n_vocab, 4);
	memset(o + 64, 0, 8);
	n = 72;
	for (uint32_t i = 0; i < s->n_layers; i++) {
		const g4_snap_layer *l = &s->layers[i];
		memcpy(o + n, &l->layer, 4);
		memcpy(o + n + 4, &l->n_head_kv, 4);
		memcpy(o + n + 8, &l->head_dim, 4);
		memset(o + n + 12, 0, 4);
		memcpy(o + n + 16, &l->pos0, 8);
		memcpy(o + n + 24, &l->n_rows, 8);
		n += 32;
	}
	uint8_t d[32];
	g4_sha256 sh;
	g4_sha256_init(&sh);
	g4_sha256_update(&sh, o, n);
	g4_sha256_final(&sh, d);
	memcpy(o + n, d, 8);
	o[n] ^= (unsigned char)bad_check;
	return n + 8;
}

/* The frame content, built here from the documented layout. */
static size_t raw_content(const g4_snap *s, unsigned char *o, int bad_check)
{
	size_t n = header_bytes(s, o, bad_check);
	memcpy(o + n, s->tokens, 4 * s->n_tokens);
	n += 4 * s->n_tokens;
	for (uint32_t i = 0; i < s->n_layers; i++) {
		const g4_snap_layer *l = &s->layers[i];
		size_t rb = l->n_rows * g4_row_bytes(s->kv_type, l->n_head_kv * l->head_dim);
		memcpy(o + n, l->k, rb);
		memcpy(o + n + rb, l->v, rb);
		n += 2 * rb;
	}
	memcpy(o + n, s->logits, 4ull * s->n_vocab);
	return n + 4ull * s->n_vocab;
}

static size_t frame(const void *c, size_t n, void *out, size_t cap)
{
	ZSTD_CCtx *cc = ZSTD_createCCtx();
	ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, 1);
	size_t r = ZSTD_compress2(cc, out, cap, c, n);
	ZSTD_freeCCtx(cc);
	return r;
}

static void test_layout_and_inconsistent(void)
{
	g4_snap a, b;
	rng_state = 3;
	make_snap(&a, G4_BF16, 6, 40, 1);
	static unsigned char c[65536], c2[65536], z[70000];
	size_t n = raw_content(&a, c, 0);
	/* the writer's frame decompresses to exactly the documented bytes */
	buf m = { 0 };
	write_mem(&m, &a);
	size_t dn = ZSTD_decompress(c2, sizeof c2, m.p, m.n);
	CHECK(dn == n && !memcmp(c, c2, n), "content differs from the documented layout (%zu vs %zu bytes)", dn, n);
	free(m.p);
	/* a hand-made frame is read */
	size_t zn = frame(c, n, z, sizeof z);
	CHECK(read_mem(z, zn, &b, NULL) == 1 && snap_eq(&a, &b), "hand-made: %s", g4_errmsg());
	g4_snap_free(&b);

	/* the frame declares its content size: more or less than the header
	 * describes is refused at the header */
	struct { size_t len; int bad_check; const char *want; } cases[] = {
		{ n + 4, 0, "bytes of content, the zstd frame declares" },
		{ n - 4, 0, "bytes of content, the zstd frame declares" },
		{ n, 1, "header check does not match" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		raw_content(&a, c, cases[i].bad_check);
		zn = frame(c, cases[i].len, z, sizeof z);
		CHECK(read_mem(z, zn, &b, NULL) == -1 && strstr(g4_errmsg(), cases[i].want),
		      "case %zu: '%s', wanted '%s'", i, g4_errmsg(), cases[i].want);
	}
	/* consistent checks but impossible shapes: refused before allocating */
	g4_snap e = a;
	g4_snap_layer L[3];
	memcpy(L, a.layers, sizeof L);
	e.layers = L;
	const char *want[] = { "absurd", "do not end at the history length", "not a KV type",
			       "does not follow", "cannot be stored as q8_0", "holds id" };
	for (int k = 0; k < 6; k++) {
		memcpy(L, a.layers, sizeof L);
		e.n_tokens = a.n_tokens;
		e.kv_type = a.kv_type;
		int32_t saved = a.tokens[0];
		switch (k) {
		case 0: e.n_tokens = 1ull << 40; break;
		case 1: L[0].pos0 = 1; break;
		case 2: e.kv_type = G4_Q4_K; break;
		case 3: L[2].layer = 3; break;
		case 4: e.kv_type = G4_Q8_0; L[2].head_dim = 17; break;
		case 5: a.tokens[0] = 40; break;
		}
		/* the writer refuses it too */
		buf w = { 0 };
		CHECK(write_mem(&w, &e) == -1 && strstr(g4_errmsg(), want[k]), "writer, shape %d: %s", k, g4_errmsg());
		free(w.p);
		e.n_tokens = k == 0 ? 0 : e.n_tokens;	/* keep the raw copy small, then patch */
		n = raw_content(&e, c, 0);
		if (k == 0) {	/* patch n_tokens and redo the check */
			uint64_t big = 1ull << 40;
			memcpy(c + 48, &big, 8);
			uint8_t d[32];
			g4_sha256 sh;
			g4_sha256_init(&sh);
			g4_sha256_update(&sh, c, 72 + 32 * 3);
			g4_sha256_final(&sh, d);
			memcpy(c + 72 + 32 * 3, d, 8);
		}
		zn = frame(c, n, z, sizeof z);
		CHECK(read_mem(z, zn, &b, NULL) == -1 && strstr(g4_errmsg(), want[k]), "reader, shape %d: %s", k,
		      g4_errmsg());
		a.tokens[0] = saved;
	}
	g4_snap_free(&a);
}

/* ---- forged headers ---------------------------------------------------- */

/* Content bytes s describes. */
static uint64_t content_size(const g4_snap *s)
{
	uint64_t t = 72 + 32ull * s->n_layers + 8 + 4 * s->n_tokens + 4ull * s->n_vocab;
	for (uint32_t i = 0; i < s->n_layers; i++)
		t += 2 * s->layers[i].n_rows *
		     g4_row_bytes(s->kv_type, (int64_t)s->layers[i].n_head_kv * s->layers[i].head_dim);
	return t;
}

#define NO_FCS UINT64_MAX
/* A zstd frame by hand: a header declaring the content size fcs (NO_FCS:
 * none), a 128 KiB window and a checksum, then c[0..n) as raw blocks none
 * of which is the last: the frame goes on past the end of the input. */
static size_t hand_frame(const unsigned char *c, size_t n, uint64_t fcs, unsigned char *o)
{
	size_t k = 4;
	memcpy(o, "\x28\xb5\x2f\xfd", 4);
	o[k++] = fcs == NO_FCS ? 0x04 : 0xC4;	/* checksum; FCS field of 8 bytes or none */
	o[k++] = (17 - 10) << 3;		/* window 2^17 */
	if (fcs != NO_FCS) {
		memcpy(o + k, &fcs, 8);
		k += 8;
	}
	while (n) {
		size_t b = n > 65536 ? 65536 : n;
		uint32_t bh = (uint32_t)b << 3;	/* raw block, not last */
		o[k++] = bh & 255;
		o[k++] = bh >> 8 & 255;
		o[k++] = bh >> 16 & 255;
		memcpy(o + k, c, b);
		k += b;
		c += b;
		n -= b;
	}
	return k;
}

/* Reads p[0..n) (from a regular temporary file when `file`, else from
 * memory) in a child process whose address space may grow by at most
 * 48 MiB, so a reader that allocates what a forged header claims fails
 * there (plain build: malloc returns NULL and the message is "out of
 * memory"; sanitizer build: the allocator aborts the child).  msg gets the
 * child's return value and message; returns -1 if the child did not finish. */
#define HEADROOM ((size_t)48 << 20)

typedef struct {
	const void *p;
	size_t n;
	int file;
	const g4_snap_want *w;
} forged;

static int read_job(void *arg, char *out, size_t cap)
{
	const forged *a = arg;
	FILE *f = a->file ? tmpfile() : fmemopen((void *)a->p, a->n, "r");
	if (!f)
		return 1;
	if (a->file) {
		fwrite(a->p, 1, a->n, f);
		rewind(f);
	}
	g4_snap s;
	int rc = g4_snap_read_want(f, &s, a->w, "forged");
	snprintf(out, cap, "%d %s", rc, rc < 0 ? g4_errmsg() : "");
	return 0;
}

/* Reads p[0..n) (from a file, or from memory) in a child process whose
 * address space may grow by at most HEADROOM; msg gets "RC MESSAGE". */
static int read_limited(const void *p, size_t n, int file, const g4_snap_want *w, char *msg, size_t cap)
{
	forged f = { p, n, file, w };
	return t_run_limited(HEADROOM, read_job, &f, msg, cap);
}

static int alloc_job(void *arg, char *out, size_t cap)
{
	(void)arg;
	void *volatile big = getenv("G4_SANITIZED") ? NULL : malloc(256u << 20);
	snprintf(out, cap, "%s", big ? "allocated" : "refused");
	return 0;
}

/* A model of two KV layers: layer 0 global (2 heads of 64), layer 3
 * sliding (1 head of 32, window 8); context 2^21, vocabulary 1000. */
static uint8_t model_fp[32];
static const g4_snap_kv model_kv[2] = { { 0, 2, 64, UINT64_MAX }, { 3, 1, 32, 8 } };

static void test_forged_headers(void)
{
	for (int i = 0; i < 32; i++)
		model_fp[i] = (uint8_t)(i * 7 + 1);
	const g4_snap_want model = { model_fp, 1u << 21, 1000, 2, model_kv };
	const g4_snap_want any = { NULL, 0, 0, 0, NULL };
	static unsigned char c[65536], z[70000];
	struct {
		const char *what;
		uint64_t n_tokens;
		uint32_t n_vocab, n_layers, heads0, rows1;
		int other_fp, file, fcs_delta, no_fcs;
		const g4_snap_want *w;
		const char *want;
	} cases[] = {
		{ "history past the context", 1ull << 26, 1000, 2, 2, 8, 0, 0, 0, 0, &model,
		  "forged: snapshot does not fit the model: 67108864 positions of history, more than the model's context of 2097152" },
		{ "K/V widths", 1ull << 20, 1000, 2, 4, 8, 0, 0, 0, 0, &model,
		  "forged: snapshot does not fit the model: layer 0: K/V of 4 heads of dim 64, the model has 2 heads of dim 64" },
		{ "sliding window rows", 1ull << 20, 1000, 2, 2, 1u << 20, 0, 0, 0, 0, &model,
		  "forged: snapshot does not fit the model: layer 3: 1048576 rows stored, the model keeps 8 of a history of 1048576" },
		{ "layer count", 1ull << 20, 1000, 3, 2, 8, 0, 0, 0, 0, &model,
		  "forged: snapshot does not fit the model: K/V of 3 layers, the model owns K/V in 2" },
		{ "vocabulary", 1ull << 20, 1u << 24, 2, 2, 8, 0, 0, 0, 0, &model,
		  "forged: snapshot does not fit the model: logits of 16777216 values, the model's vocabulary is 1000" },
		{ "fingerprint", 1ull << 26, 1000, 2, 2, 8, 1, 0, 0, 0, &model,
		  "forged: snapshot was made by another model" },
		{ "no model, a stream", 1ull << 26, 1000, 2, 2, 8, 0, 0, 0, 0, &any,
		  "forged: truncated snapshot: the stream ends" },
		{ "no model, a file", 1ull << 26, 1000, 2, 2, 8, 0, 1, 0, 0, &any,
		  "forged: truncated snapshot: the header describes" },
		{ "content size lie", 1ull << 20, 1000, 2, 2, 8, 0, 0, 1, 0, &any,
		  "forged: bad snapshot: the header describes" },
		{ "no content size", 1ull << 20, 1000, 2, 2, 8, 0, 0, 0, 1, &any,
		  "forged: bad snapshot: the zstd frame does not declare its content size" },
	};
	for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
		g4_snap s = { 0 };
		g4_snap_layer L[3] = { { 0 } };
		memcpy(s.fingerprint, model_fp, 32);
		s.fingerprint[5] ^= (uint8_t)cases[k].other_fp;
		s.kv_type = G4_F16;
		s.n_tokens = cases[k].n_tokens;
		s.n_vocab = cases[k].n_vocab;
		s.n_layers = cases[k].n_layers;
		s.layers = L;
		uint32_t ids[3] = { 0, 3, 5 }, heads[3] = { cases[k].heads0, 1, 1 }, dims[3] = { 64, 32, 32 };
		for (int i = 0; i < 3; i++) {
			L[i].layer = ids[i];
			L[i].n_head_kv = heads[i];
			L[i].head_dim = dims[i];
			L[i].n_rows = i == 1 ? cases[k].rows1 : s.n_tokens;
			L[i].pos0 = s.n_tokens - L[i].n_rows;
		}
		size_t n = header_bytes(&s, c, 0);
		uint64_t fcs = cases[k].no_fcs ? NO_FCS : content_size(&s) + (uint64_t)cases[k].fcs_delta;
		size_t zn = hand_frame(c, n, fcs, z);
		char msg[800];
		int ok = read_limited(z, zn, cases[k].file, cases[k].w, msg, sizeof msg);
		CHECK(ok == 0, "%s: the reading process failed (%s)", cases[k].what, msg);
		CHECK(!strncmp(msg, "-1 ", 3) && strstr(msg + 3, cases[k].want) == msg + 3,
		      "%s: got '%s', wanted '%s'", cases[k].what, msg, cases[k].want);
		CHECK(!strchr(msg, '\n'), "%s: not one line", cases[k].what);
	}
	/* the child's limit is real: a reader that does allocate fails there */
	char msg[800];
	CHECK(t_run_limited(HEADROOM, alloc_job, NULL, msg, sizeof msg) == 0 && !strcmp(msg, "refused"),
	      "256 MiB under the limit: %s", msg);
}

/* Against a real model (g4_snap_read_model): its fingerprint, context,
 * vocabulary and KV layers, sliding ones keeping window - 1 rows. */
static void test_read_model(void)
{
	g4_model *m = g4_model_load(t_data("micro-e2b-f32.gguf"));
	CHECK(m != NULL, "load: %s", g4_errmsg());
	if (!m)
		return;
	const uint64_t T = 20;
	g4_snap a = { 0 }, b;
	memcpy(a.fingerprint, m->fingerprint, 32);
	a.kv_type = G4_F32;
	a.n_tokens = T;
	a.tokens = calloc(T, 4);
	a.n_layers = (uint32_t)m->n_layer_kv;
	a.layers = calloc(a.n_layers, sizeof *a.layers);
	a.n_vocab = (uint32_t)m->n_vocab;
	a.logits = calloc(a.n_vocab, 4);
	int swa_slot = -1;
	for (int l = 0; l < m->n_layer; l++) {
		const g4_layer *L = &m->layers[l];
		if (!L->has_kv)
			continue;
		g4_snap_layer *e = &a.layers[L->kv_slot];
		e->layer = (uint32_t)l;
		e->n_head_kv = (uint32_t)L->nkv;
		e->head_dim = (uint32_t)L->hd;
		e->n_rows = L->swa && T > (uint64_t)m->window - 1 ? (uint64_t)m->window - 1 : T;
		e->pos0 = T - e->n_rows;
		e->k = calloc(e->n_rows, 4 * L->nkv * L->hd);
		e->v = calloc(e->n_rows, 4 * L->nkv * L->hd);
		if (L->swa)
			swa_slot = L->kv_slot;
	}
	CHECK(swa_slot >= 0 && m->window - 1 < (int)T, "the micro model should have a sliding layer of window < %d", (int)T);
	buf w = { 0 };
	CHECK(write_mem(&w, &a) == 0, "write: %s", g4_errmsg());
	FILE *f = rd(w.p, w.n);
	CHECK(g4_snap_read_model(f, &b, m, "mem") == 1 && snap_eq(&a, &b), "read: %s", g4_errmsg());
	g4_snap_free(&b);
	fclose(f);
	free(w.p);

	/* the same shape with one more head, all rows of the sliding layer, an id
	 * past the vocabulary without logits, a history past the context */
	static unsigned char c[65536], z[70000];
	for (int k = 0; k < 4; k++) {
		g4_snap e = a;
		g4_snap_layer L[64];
		memcpy(L, a.layers, a.n_layers * sizeof *L);
		e.layers = L;
		const char *want = NULL;
		size_t zn;
		if (k == 0) {
			L[0].n_head_kv++;
			want = "mem: snapshot does not fit the model: layer 0: K/V of 2 heads of dim";
		} else if (k == 1) {
			L[swa_slot].n_rows = T;
			L[swa_slot].pos0 = 0;
			want = "rows stored, the model keeps 7 of a history of 20";
		} else if (k == 2) {
			e.n_vocab = 0;
			a.tokens[3] = m->n_vocab;
			want = "mem: bad snapshot: history position 3 holds id";
		} else {
			e.n_tokens = (uint64_t)m->n_ctx_train + 1;
			for (uint32_t i = 0; i < e.n_layers; i++) {
				L[i].n_rows = (int)i == swa_slot ? L[i].n_rows : e.n_tokens;
				L[i].pos0 = e.n_tokens - L[i].n_rows;
			}
			want = "more than the model's context of 131072";
		}
		if (k == 2) {
			size_t n = raw_content(&e, c, 0);
			zn = frame(c, n, z, sizeof z);
			a.tokens[3] = 0;
		} else {
			size_t n = header_bytes(&e, c, 0);
			zn = hand_frame(c, n, content_size(&e), z);
		}
		f = rd(z, zn);
		int rc = g4_snap_read_model(f, &b, m, "mem");
		CHECK(rc == -1 && strstr(g4_errmsg(), want), "case %d: %d '%s', wanted '%s'", k, rc, g4_errmsg(), want);
		if (rc == 1)
			g4_snap_free(&b);
		fclose(f);
	}
	g4_snap_free(&a);
	g4_model_free(m);
}

int main(void)
{
	rng_state = 1;
	RUN(test_roundtrip_types);
	RUN(test_stream_file);
	RUN(test_stream_pipe);
	RUN(test_truncated);
	RUN(test_bitflips);
	RUN(test_foreign);
	RUN(test_not_snapshot);
	RUN(test_random);
	RUN(test_layout_and_inconsistent);
	RUN(test_forged_headers);
	RUN(test_read_model);
	return t_done();
}
