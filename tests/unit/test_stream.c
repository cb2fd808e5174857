/* Tests of the token stream (lib/stream.c): round trips of every record
 * kind and dtype, concatenation, decimal text, empty documents, truncation
 * at every byte, garbage, limits, a real pipe. */
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "t.h"
#include "tutil.h"
#include "err.h"
#include "stream.h"

/* A stream written into memory. */
typedef t_mem mem;

static g4_sw *mem_open(mem *m)
{
	return g4_sw_open(t_mem_open(m));
}

static void mem_close(mem *m, g4_sw *w)
{
	CHECK(g4_sw_close(w) == 0, "close: %s", g4_errmsg());
	t_mem_close(m);
}

/* A FILE reading n bytes of p. */
static FILE *rd(const void *p, size_t n)
{
	return n ? fmemopen((void *)p, n, "r") : tmpfile();	/* empty */
}

/* Reads all documents of p[0..n); returns the count, or -1 (message set). */
static int read_all(const void *p, size_t n, g4_doc *docs, int max)
{
	FILE *f = rd(p, n);
	g4_sr *r = g4_sr_open(f, "mem");
	g4_doc d = { 0 };
	int k = 0, rc;
	while ((rc = g4_sr_next_doc(r, &d)) > 0) {
		if (k < max) {
			docs[k] = d;
			memset(&d, 0, sizeof d);
		}
		k++;
	}
	g4_doc_free(&d);
	g4_sr_close(r);
	fclose(f);
	if (rc < 0)	/* keep the message, drop what was read */
		for (int i = 0; i < k && i < max; i++)
			g4_doc_free(&docs[i]);
	return rc < 0 ? -1 : k;
}

static void free_docs(g4_doc *docs, int n)
{
	for (int i = 0; i < n; i++)
		g4_doc_free(&docs[i]);
}

static int same_ids(const g4_seg *s, const int32_t *ids, size_t n)
{
	return s->kind == G4_SEG_TOKENS && s->n == n && !memcmp(s->ids, ids, n * 4);
}

static int same_bits(const float *a, const float *b, size_t n)
{
	return !memcmp(a, b, n * sizeof *a);
}

static void test_roundtrip_kinds(void)
{
	static const int32_t t1[] = { 2, 9259, 1902, 0, 2147483647 };
	static const float e32[] = { 0.5f, -1.25f, 3e-39f, 1e30f, -0.0f, 7.0f };	/* 3 x 2 */
	/* f16: 0.5, -2.25, 1024, 2^-24 (subnormal), 65504, -0 */
	static const uint16_t e16[] = { 0x3800, 0xC080, 0x6400, 0x0001, 0x7BFF, 0x8000 };
	const float x16[] = { 0.5f, -2.25f, 1024.0f, ldexpf(1, -24), 65504.0f, -0.0f };
	/* bf16: 0.5, -2.25, 1024, 2^-133 (subnormal), 3.3895e38, 1/3 rounded */
	static const uint16_t eb[] = { 0x3F00, 0xC010, 0x4480, 0x0001, 0x7F7F, 0x3EAB };
	const float xb[] = { 0.5f, -2.25f, 1024.0f, ldexpf(1, -133), ldexpf(255, 120), ldexpf(171, -9) };
	mem m;
	g4_sw *w = mem_open(&m);
	CHECK(g4_sw_tokens(w, t1, 5) == 0, "tokens");
	CHECK(g4_sw_embd(w, G4_MOD_IMAGE, 3, 2, G4_DT_F32, e32) == 0, "embd f32: %s", g4_errmsg());
	CHECK(g4_sw_slot(w, G4_MOD_AUDIO) == 0, "slot");
	CHECK(g4_sw_tokens(w, t1, 2) == 0, "tokens");
	CHECK(g4_sw_embd(w, G4_MOD_AUDIO, 2, 3, G4_DT_F16, e16) == 0, "embd f16: %s", g4_errmsg());
	CHECK(g4_sw_embd(w, G4_MOD_GENERIC, 1, 5, G4_DT_BF16, eb) == 0, "embd bf16 (odd count): %s", g4_errmsg());
	CHECK(g4_sw_embd(w, G4_MOD_IMAGE, 0, 4, G4_DT_F32, e32) == 0, "embd with 0 rows: %s", g4_errmsg());
	CHECK(g4_sw_slot(w, G4_MOD_IMAGE) == 0, "slot");
	CHECK(g4_sw_doc_end(w) == 0, "doc end");
	CHECK(g4_sw_tokens(w, t1 + 1, 1) == 0, "tokens");
	mem_close(&m, w);
	CHECK(m.n % 4 == 0, "stream length %zu is not a multiple of 4", m.n);

	g4_doc d[4] = { 0 };
	int n = read_all(m.p, m.n, d, 4);
	CHECK(n == 2, "documents: %d (%s)", n, g4_errmsg());
	if (n == 2) {
		CHECK(d[0].n_segs == 8, "segments: %zu", d[0].n_segs);
		if (d[0].n_segs == 8) {
			g4_seg *s = d[0].segs;
			CHECK(same_ids(&s[0], t1, 5), "tokens 0");
			CHECK(s[1].kind == G4_SEG_EMBD && s[1].modality == G4_MOD_IMAGE && s[1].n == 3 &&
			      s[1].width == 2 && same_bits(s[1].embd, e32, 6), "embd f32");
			CHECK(s[2].kind == G4_SEG_SLOT && s[2].modality == G4_MOD_AUDIO, "slot audio");
			CHECK(same_ids(&s[3], t1, 2), "tokens 3");
			CHECK(s[4].kind == G4_SEG_EMBD && s[4].modality == G4_MOD_AUDIO && s[4].n == 2 &&
			      s[4].width == 3 && same_bits(s[4].embd, x16, 6), "embd f16 values");
			CHECK(s[5].kind == G4_SEG_EMBD && s[5].modality == G4_MOD_GENERIC && s[5].n == 1 &&
			      s[5].width == 5 && same_bits(s[5].embd, xb, 5), "embd bf16 values");
			CHECK(s[6].kind == G4_SEG_EMBD && s[6].n == 0 && s[6].width == 4, "empty block");
			CHECK(s[7].kind == G4_SEG_SLOT && s[7].modality == G4_MOD_IMAGE, "slot image");
		}
		CHECK(d[0].n_pos == 5 + 3 + 1 + 2 + 2 + 1 + 0 + 1, "n_pos %zu", d[0].n_pos);
		CHECK(d[1].n_segs == 1 && same_ids(&d[1].segs[0], t1 + 1, 1), "second document");
		CHECK(d[1].n_pos == 1, "n_pos %zu", d[1].n_pos);

		/* g4_sw_doc writes a document back (embeddings as f32) */
		mem m2;
		g4_sw *w2 = mem_open(&m2);
		CHECK(g4_sw_doc(w2, &d[0]) == 0, "sw_doc");
		mem_close(&m2, w2);
		g4_doc e[2] = { 0 };
		CHECK(read_all(m2.p, m2.n, e, 2) == 1, "re-read");
		CHECK(e[0].n_segs == d[0].n_segs && e[0].n_pos == d[0].n_pos, "same shape");
		for (size_t i = 0; i < e[0].n_segs && i < d[0].n_segs; i++) {
			g4_seg *a = &d[0].segs[i], *b = &e[0].segs[i];
			CHECK(a->kind == b->kind && a->n == b->n && a->modality == b->modality &&
			      a->width == b->width, "segment %zu differs", i);
			if (a->kind == G4_SEG_TOKENS && a->n == b->n)
				CHECK(!memcmp(a->ids, b->ids, a->n * 4), "ids %zu", i);
			if (a->kind == G4_SEG_EMBD && a->n == b->n && a->width == b->width)
				CHECK(same_bits(a->embd, b->embd, a->n * a->width), "embd %zu", i);
		}
		free_docs(e, 1);
		free(m2.p);
	}
	free_docs(d, n > 0 ? (n < 4 ? n : 4) : 0);
	free(m.p);
}

/* Every finite f16 and bf16 value converts exactly. */
static void test_half_exhaustive(void)
{
	static uint16_t h16[65536], hb[65536];
	static float x16[65536], xb[65536];
	uint32_t n16 = 0, nb = 0;
	for (uint32_t h = 0; h < 65536; h++) {
		int s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
		if (e != 31) {
			float v = e ? ldexpf(1024 + m, e - 25) : ldexpf(m, -24);
			h16[n16] = (uint16_t)h;
			x16[n16++] = s ? -v : v;
		}
		int eb = (h >> 7) & 255, mb = h & 127;
		if (eb != 255) {
			float v = eb ? ldexpf(128 + mb, eb - 134) : ldexpf(mb, -133);
			hb[nb] = (uint16_t)h;
			xb[nb++] = s ? -v : v;
		}
	}
	mem m;
	g4_sw *w = mem_open(&m);
	CHECK(g4_sw_embd(w, 0, 1, n16, G4_DT_F16, h16) == 0, "f16: %s", g4_errmsg());
	CHECK(g4_sw_embd(w, 0, 1, nb, G4_DT_BF16, hb) == 0, "bf16: %s", g4_errmsg());
	mem_close(&m, w);
	g4_doc d[1] = { 0 };
	int k = read_all(m.p, m.n, d, 1);
	CHECK(k == 1 && d[0].n_segs == 2, "read: %s", g4_errmsg());
	if (k == 1 && d[0].n_segs == 2) {
		uint32_t bad = 0;
		for (uint32_t i = 0; i < n16; i++)
			bad += memcmp(&d[0].segs[0].embd[i], &x16[i], 4) != 0;
		CHECK(bad == 0, "%u f16 values differ", bad);
		bad = 0;
		for (uint32_t i = 0; i < nb; i++)
			bad += memcmp(&d[0].segs[1].embd[i], &xb[i], 4) != 0;
		CHECK(bad == 0, "%u bf16 values differ", bad);
	}
	free_docs(d, k > 0 ? 1 : 0);
	free(m.p);
}

static void test_doc_builders(void)
{
	g4_doc d = { 0 };
	int32_t a[] = { 1, 2, 3 }, b[] = { 4, 5 };
	float e[] = { 1, 2, 3, 4 };
	CHECK(g4_doc_add_tokens(&d, a, 3) == 0, "add");
	CHECK(g4_doc_add_tokens(&d, b, 2) == 0, "add");
	CHECK(d.n_segs == 1 && d.segs[0].n == 5 && d.segs[0].ids[4] == 5, "adjacent tokens merged");
	CHECK(g4_doc_add_embd(&d, G4_MOD_IMAGE, 2, 2, e) == 0, "embd");
	CHECK(g4_doc_add_slot(&d, G4_MOD_AUDIO) == 0, "slot");
	CHECK(g4_doc_add_tokens(&d, a, 1) == 0, "add");
	CHECK(d.n_segs == 4 && d.n_pos == 5 + 2 + 1 + 1, "segs %zu pos %zu", d.n_segs, d.n_pos);
	int32_t neg = -1;
	CHECK(g4_doc_add_tokens(&d, &neg, 1) < 0, "negative id accepted");
	CHECK(g4_doc_add_embd(&d, 7, 1, 1, e) < 0, "bad modality accepted");
	CHECK(g4_doc_add_embd(&d, 0, 1, 0, e) < 0, "zero width accepted");
	float nan = NAN;
	CHECK(g4_doc_add_embd(&d, 0, 1, 1, &nan) < 0, "NaN accepted");
	/* many appends: growth keeps the content */
	g4_doc_reset(&d);
	CHECK(d.n_segs == 0 && d.n_pos == 0, "reset");
	for (int32_t i = 0; i < 100000; i++)
		g4_doc_add_tokens(&d, &i, 1);
	int ok = d.n_segs == 1 && d.segs[0].n == 100000;
	for (int32_t i = 0; ok && i < 100000; i++)
		ok = d.segs[0].ids[i] == i;
	CHECK(ok, "100000 single appends");
	g4_doc_free(&d);
	CHECK(d.segs == NULL && d.n_segs == 0, "free");
}

static void test_concat(void)
{
	int32_t a[] = { 10, 11 }, b[] = { 12 }, c[] = { 13, 14 };
	float e[] = { 1.5f, 2.5f };
	mem m1, m2;
	g4_sw *w = mem_open(&m1);
	g4_sw_tokens(w, a, 2);
	g4_sw_doc_end(w);
	g4_sw_tokens(w, b, 1);
	mem_close(&m1, w);
	w = mem_open(&m2);
	g4_sw_tokens(w, c, 2);
	g4_sw_embd(w, G4_MOD_IMAGE, 1, 2, G4_DT_F32, e);
	mem_close(&m2, w);
	size_t n = m1.n + m2.n;
	char *cat = malloc(n);
	memcpy(cat, m1.p, m1.n);
	memcpy(cat + m1.n, m2.p, m2.n);
	g4_doc d[3] = { 0 };
	int k = read_all(cat, n, d, 3);
	CHECK(k == 2, "documents: %d (%s)", k, g4_errmsg());
	if (k == 2) {
		int32_t want[] = { 12, 13, 14 };
		CHECK(d[0].n_segs == 1 && same_ids(&d[0].segs[0], a, 2), "first document");
		CHECK(d[1].n_segs == 2 && same_ids(&d[1].segs[0], want, 3),
		      "a header in mid-stream is not a boundary; tokens merge across it");
		CHECK(d[1].n_segs == 2 && d[1].segs[1].kind == G4_SEG_EMBD, "block after the header");
	}
	free_docs(d, k > 0 ? k : 0);
	/* a header alone, and header + header: no documents */
	CHECK(read_all(m1.p, 12, d, 3) == 0, "header only");
	char hh[24];
	memcpy(hh, m1.p, 12);
	memcpy(hh + 12, m1.p, 12);
	CHECK(read_all(hh, 24, d, 3) == 0, "two headers");
	free(cat);
	free(m1.p);
	free(m2.p);
}

static void test_empty_docs(void)
{
	int32_t a[] = { 1 };
	mem m;
	g4_sw *w = mem_open(&m);
	g4_sw_doc_end(w);
	g4_sw_doc_end(w);
	g4_sw_tokens(w, a, 1);
	g4_sw_doc_end(w);
	g4_sw_doc_end(w);
	mem_close(&m, w);
	g4_doc d[8] = { 0 };
	int k = read_all(m.p, m.n, d, 8);
	CHECK(k == 4, "documents: %d, wanted 4 (empty, empty, [1], empty)", k);
	if (k == 4)
		CHECK(d[0].n_segs == 0 && d[1].n_segs == 0 && d[2].n_segs == 1 && d[3].n_segs == 0 &&
		      d[3].n_pos == 0, "shapes");
	free_docs(d, k > 0 ? k : 0);
	CHECK(read_all("", 0, d, 8) == 0, "empty input: no documents");
	free(m.p);
}

static void test_text(void)
{
	const char *s = "2 9259 1902\n\n   \n7\t8\r\n0 2147483647";
	g4_doc d[4] = { 0 };
	int k = read_all(s, strlen(s), d, 4);
	CHECK(k == 3, "documents: %d (%s)", k, g4_errmsg());
	if (k == 3) {
		int32_t a[] = { 2, 9259, 1902 }, b[] = { 7, 8 }, c[] = { 0, 2147483647 };
		CHECK(d[0].n_segs == 1 && same_ids(&d[0].segs[0], a, 3), "line 1");
		CHECK(d[1].n_segs == 1 && same_ids(&d[1].segs[0], b, 2), "line 4 (CRLF, tab)");
		CHECK(d[2].n_segs == 1 && same_ids(&d[2].segs[0], c, 2), "last line without newline");
	}
	free_docs(d, k > 0 ? k : 0);
	k = read_all("\n\n 5\n", 5, d, 4);
	CHECK(k == 1 && d[0].segs[0].ids[0] == 5, "leading blank lines");
	free_docs(d, k > 0 ? k : 0);

	struct { const char *in, *want; } bad[] = {
		{ "1 2 x3\n", "line 1: bad token 'x3'" },
		{ "1\n\n2\n3 -4\n", "line 4: bad token '-4'" },
		{ "5 2147483648", "line 1: token id 2147483648 is out of range" },
		{ "99999999999999999999999999", "line 1: token id 99999999999999999999..." },
		{ "1,2", "line 1: bad token '1,2'" },
		{ "7\n8 9\xff\n", "line 2: bad token '9?'" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		g4_doc e[4] = { 0 };
		k = read_all(bad[i].in, strlen(bad[i].in), e, 4);
		CHECK(k == -1, "'%s' accepted", bad[i].in);
		CHECK(strstr(g4_errmsg(), bad[i].want) && !strncmp(g4_errmsg(), "mem: ", 5),
		      "'%s': message '%s', wanted '%s'", bad[i].in, g4_errmsg(), bad[i].want);
		free_docs(e, 4);
	}
	/* the documents before a bad line are delivered, then the error */
	FILE *f = rd("1 2\nz\n", 6);
	g4_sr *r = g4_sr_open(f, "t");
	g4_doc x = { 0 };
	CHECK(g4_sr_next_doc(r, &x) == 1 && x.n_pos == 2, "first line");
	CHECK(g4_sr_next_doc(r, &x) == -1 && strstr(g4_errmsg(), "line 2"), "then: %s", g4_errmsg());
	CHECK(g4_sr_next_doc(r, &x) == -1, "stays failed");
	g4_doc_free(&x);
	g4_sr_close(r);
	fclose(f);
}

/* Writes a stream holding every record kind; bounds[] gets the offset after
 * each record (the places where a cut leaves a valid stream). */
static void sample_stream(mem *m, size_t *bounds, int *nb)
{
	int32_t t[] = { 5, 6, 7 };
	uint16_t h[] = { 0x3c00, 0x4000, 0x4200 };
	float e[] = { 1, 2, 3, 4 };
	g4_sw *w = mem_open(m);
	int k = 0;
	fflush(m->f), bounds[k++] = m->n;
	g4_sw_tokens(w, t, 3), fflush(m->f), bounds[k++] = m->n;
	g4_sw_embd(w, G4_MOD_IMAGE, 2, 2, G4_DT_F32, e), fflush(m->f), bounds[k++] = m->n;
	g4_sw_slot(w, G4_MOD_AUDIO), fflush(m->f), bounds[k++] = m->n;
	g4_sw_doc_end(w), fflush(m->f), bounds[k++] = m->n;
	g4_sw_embd(w, G4_MOD_AUDIO, 1, 3, G4_DT_F16, h), fflush(m->f), bounds[k++] = m->n;
	g4_sw_embd(w, G4_MOD_AUDIO, 3, 1, G4_DT_BF16, h), fflush(m->f), bounds[k++] = m->n;
	g4_sw_tokens(w, t, 1), fflush(m->f), bounds[k++] = m->n;
	mem_close(m, w);
	*nb = k;
}

static void test_truncation(void)
{
	mem m;
	size_t bounds[16];
	int nb;
	sample_stream(&m, bounds, &nb);
	int bad = 0;
	for (size_t cut = 0; cut < m.n; cut++) {
		int at_bound = cut == 0;
		for (int i = 0; i < nb; i++)
			at_bound |= bounds[i] == cut;
		g4_doc d[4] = { 0 };
		int k = read_all(m.p, cut, d, 4);
		if (at_bound && k < 0) {
			CHECK(0, "cut at record boundary %zu: %s", cut, g4_errmsg());
			bad++;
		}
		if (!at_bound && (k >= 0 || !strstr(g4_errmsg(), "truncated"))) {
			CHECK(0, "cut at %zu: %d documents, message '%s'", cut, k, g4_errmsg());
			bad++;
		}
		free_docs(d, k > 0 ? (k < 4 ? k : 4) : 0);
		if (bad > 5)
			break;
	}
	free(m.p);
}

static void test_garbage(void)
{
	mem m;
	size_t bounds[16];
	int nb;
	sample_stream(&m, bounds, &nb);
	/* every byte replaced by a few values: an error or a valid reading, never a crash */
	char *p = malloc(m.n);
	static const unsigned char vals[] = { 0x00, 0x01, 0x04, 0x7f, 0x89, 0xff };
	for (size_t i = 0; i < m.n; i++)
		for (size_t v = 0; v < sizeof vals; v++) {
			memcpy(p, m.p, m.n);
			p[i] = (char)vals[v];
			g4_doc d[4] = { 0 };
			int k = read_all(p, m.n, d, 4);
			CHECK(k >= -1 && k <= 4, "byte %zu = %02x: %d", i, vals[v], k);
			if (k < 0)
				CHECK(!strncmp(g4_errmsg(), "mem: byte ", 10), "message '%s'", g4_errmsg());
			free_docs(d, k > 0 ? (k < 4 ? k : 4) : 0);
		}
	free(p);

	struct { const char *in; size_t n; const char *want; } bad[] = {
		{ "hello", 5, "not a g4 token stream" },
		{ "\x89G4X\r\n\x1a\n\1\0\0\0", 12, "bad stream header" },
		{ "\x89G4S\r\n\x1a\n\2\0\0\0", 12, "version 2 is not supported" },
		{ "\x89G4S\r\n\x1a\n\1\0\0\0\x09\0\0\0", 16, "unknown record type 0x09" },
		{ "\x89G4S\r\n\x1a\n\1\0\0\0\x01\0\1\0\0\0\0\0", 20, "nonzero reserved" },
		/* a token count far beyond the data: truncated, nothing big allocated */
		{ "\x89G4S\r\n\x1a\n\1\0\0\0\x01\0\0\0\0\0\0\1\1\0\0\0", 24, "truncated" },
		{ "\x89G4S\r\n\x1a\n\1\0\0\0\x01\0\0\0\0\0\0\2", 20, "too large" },
		{ "\x89G4S\r\n\x1a\n\1\0\0\0\x01\0\0\0\1\0\0\0\xff\xff\xff\xff", 24, "negative token id -1" },
		/* embedding blocks: absurd width / rows, bad dtype / modality, NaN */
		{ "\x89G4S\r\n\x1a\n\1\0\0\0\x02\1\0\0\1\0\0\0\0\0\0\x10", 24, "width" },
		{ "\x89G4S\r\n\x1a\n\1\0\0\0\x02\1\0\0\0\0\0\x10\0\x10\0\0", 24, "too large" },
		{ "\x89G4S\r\n\x1a\n\1\0\0\0\x02\1\0\0\0\0\x10\0\0\x10\0\0", 24, "too large" },
		{ "\x89G4S\r\n\x1a\n\1\0\0\0\x02\1\3\0\1\0\0\0\1\0\0\0", 24, "bad dtype 3" },
		{ "\x89G4S\r\n\x1a\n\1\0\0\0\x02\7\0\0\1\0\0\0\1\0\0\0", 24, "bad modality 7" },
		{ "\x89G4S\r\n\x1a\n\1\0\0\0\x02\1\0\0\1\0\0\0\1\0\0\0\0\0\xc0\x7f", 28, "not finite" },
		{ "\x89G4S\r\n\x1a\n\1\0\0\0\x02\1\1\0\1\0\0\0\1\0\0\0\0\x7c\0\0", 28, "not finite" },
		{ "\x89G4S\r\n\x1a\n\1\0\0\0\x02\1\1\0\1\0\0\0\1\0\0\0\0\x3c\1\0", 28, "nonzero padding" },
		/* a large block whose data stops early */
		{ "\x89G4S\r\n\x1a\n\1\0\0\0\x02\1\0\0\0\1\0\0\0\x04\0\0\0\0\0\0", 28, "truncated" },
		{ "\x89G4S\r\n\x1a\n\1\0\0\0\x03\3\0\0", 16, "bad modality 3" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		g4_doc d[4] = { 0 };
		int k = read_all(bad[i].in, bad[i].n, d, 4);
		CHECK(k == -1, "case %zu accepted", i);
		CHECK(strstr(g4_errmsg(), bad[i].want), "case %zu: '%s', wanted '%s'", i, g4_errmsg(), bad[i].want);
		free_docs(d, 4);
	}
	free(m.p);
}

/* Random records after a header: an error or a reading, never a crash. */
static void test_random(void)
{
	uint64_t x = 88172645463325252ull;
	unsigned char b[256];
	int errors = 0, reads = 0;
	for (int it = 0; it < 4000; it++) {
		memcpy(b, "\x89G4S\r\n\x1a\n\1\0\0\0", 12);
		size_t n = 12 + 4 * (it % 50);
		for (size_t i = 12; i < n; i++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			b[i] = (unsigned char)x;
			if (i % 4 == 0)	/* mostly plausible record types */
				b[i] = (unsigned char)(x % 7 ? 1 + (x >> 8) % 4 : x >> 16);
			else if (x % 5)
				b[i] = 0;
		}
		g4_doc d[4] = { 0 };
		int k = read_all(b, n, d, 4);
		if (k < 0) {
			errors++;
			CHECK(strncmp(g4_errmsg(), "mem: byte ", 10) == 0, "message '%s'", g4_errmsg());
		} else
			reads++;
		free_docs(d, k > 0 ? (k < 4 ? k : 4) : 0);
	}
	CHECK(errors > 100 && reads > 100, "%d errors, %d readings: the generator is off", errors, reads);
}

static void test_writer_refuses(void)
{
	mem m;
	g4_sw *w = mem_open(&m);
	int32_t neg[] = { 3, -5 };
	float nan[] = { 1, NAN }, inf[] = { INFINITY };
	uint16_t hinf = 0x7c00, bnan = 0x7fc0;
	CHECK(g4_sw_tokens(w, neg, 2) < 0 && strstr(g4_errmsg(), "negative"), "negative id");
	CHECK(g4_sw_embd(w, 0, 1, 2, G4_DT_F32, nan) < 0 && strstr(g4_errmsg(), "finite"), "NaN");
	CHECK(g4_sw_embd(w, 0, 1, 1, G4_DT_F32, inf) < 0, "inf");
	CHECK(g4_sw_embd(w, 0, 1, 1, G4_DT_F16, &hinf) < 0, "f16 inf");
	CHECK(g4_sw_embd(w, 0, 1, 1, G4_DT_BF16, &bnan) < 0, "bf16 NaN");
	CHECK(g4_sw_embd(w, 0, 1, 1, 9, &hinf) < 0, "dtype");
	CHECK(g4_sw_embd(w, 3, 1, 1, G4_DT_F32, inf) < 0, "modality");
	CHECK(g4_sw_embd(w, 0, 1u << 21, 1, G4_DT_F32, inf) < 0 && strstr(g4_errmsg(), "too large"), "rows");
	CHECK(g4_sw_slot(w, -1) < 0, "slot modality");
	mem_close(&m, w);
	CHECK(m.n == 12, "nothing but the header was written (%zu bytes)", m.n);
	free(m.p);
	/* a write error is reported */
	FILE *f = fopen("/dev/full", "w");
	struct stat st;
	if (f && fstat(fileno(f), &st) == 0 && S_ISCHR(st.st_mode)) {
		w = g4_sw_open(f);
		int32_t t[4096] = { 0 };
		int rc = 0;
		for (int i = 0; i < 64 && w && rc == 0; i++)
			rc = g4_sw_tokens(w, t, 4096);
		CHECK(!w || rc < 0 || g4_sw_close(w) < 0, "/dev/full: no error");
		if (w && rc < 0)
			g4_sw_close(w);
	}
	if (f)
		fclose(f);
}

/* Through a real pipe: a child writes two documents, the parent reads. */
static void test_pipe(void)
{
	int fd[2];
	if (pipe(fd)) {
		CHECK(0, "pipe");
		return;
	}
	pid_t pid = fork();
	if (pid == 0) {
		close(fd[0]);
		FILE *f = fdopen(fd[1], "w");
		g4_sw *w = g4_sw_open(f);
		static int32_t big[300000];
		for (int i = 0; i < 300000; i++)
			big[i] = i;
		g4_sw_tokens(w, big, 300000);
		g4_sw_doc_end(w);
		g4_sw_tokens(w, big + 7, 1);
		_exit(g4_sw_close(w) == 0 && fclose(f) == 0 ? 0 : 1);
	}
	close(fd[1]);
	FILE *f = fdopen(fd[0], "r");
	g4_sr *r = g4_sr_open(f, "pipe");
	g4_doc d = { 0 };
	CHECK(g4_sr_next_doc(r, &d) == 1 && d.n_pos == 300000 && d.n_segs == 1 &&
	      d.segs[0].ids[299999] == 299999, "first document");
	CHECK(g4_sr_next_doc(r, &d) == 1 && d.n_pos == 1 && d.segs[0].ids[0] == 7, "second");
	CHECK(g4_sr_next_doc(r, &d) == 0, "end");
	g4_doc_free(&d);
	g4_sr_close(r);
	fclose(f);
	int st;
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "writer failed");
}

int main(void)
{
	RUN(test_roundtrip_kinds);
	RUN(test_half_exhaustive);
	RUN(test_doc_builders);
	RUN(test_concat);
	RUN(test_empty_docs);
	RUN(test_text);
	RUN(test_truncation);
	RUN(test_garbage);
	RUN(test_random);
	RUN(test_writer_refuses);
	RUN(test_pipe);
	return t_done();
}
