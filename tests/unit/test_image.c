/* Tests of lib/image.c and the preprocessing of lib/vision.c: PNG and JPEG
 * decoding (every PNG colour type and depth, EXIF orientation, damaged
 * files), Pillow's bicubic against the golden pixels, the resize rule. */
#include <setjmp.h>
#include <stdint.h>
#include <png.h>
#include <jpeglib.h>

#include "t.h"
#include "tlimit.h"
#include "err.h"
#include "image.h"
#include "sha256.h"
#include "vision.h"

/* ---- writing test files in memory ---- */

typedef struct { uint8_t *p; size_t n, cap; } mbuf;

static void mb_put(mbuf *b, const void *p, size_t n)
{
	if (b->n + n > b->cap) {
		b->cap = (b->n + n) * 2;
		b->p = realloc(b->p, b->cap);
	}
	memcpy(b->p + b->n, p, n);
	b->n += n;
}

static void png_wr(png_structp png, png_bytep d, size_t n) { mb_put(png_get_io_ptr(png), d, n); }
static void png_fl(png_structp png) { (void)png; }

/* A w x h PNG of colour type ct and depth bd; samples from f(x, y, channel). */
static int png_interlace;
static const uint8_t *png_exif;
static int png_exif_n;

static mbuf make_png(int w, int h, int ct, int bd, unsigned (*f)(int, int, int), int with_trns)
{
	mbuf b = {0};
	png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	png_infop info = png_create_info_struct(png);
	if (setjmp(png_jmpbuf(png))) { free(b.p); b.p = NULL; b.n = 0; return b; }
	png_set_write_fn(png, &b, png_wr, png_fl);
	png_set_IHDR(png, info, w, h, bd, ct, png_interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
		     PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	if (png_exif)
		png_set_eXIf_1(png, info, (png_uint_32)png_exif_n, (png_bytep)png_exif);
	if (ct == PNG_COLOR_TYPE_PALETTE) {
		png_color pal[16];
		for (int i = 0; i < 16; i++) {
			pal[i].red = (png_byte)(i * 16);
			pal[i].green = (png_byte)(255 - i * 16);
			pal[i].blue = (png_byte)(i * 7);
		}
		png_set_PLTE(png, info, pal, 16);
		if (with_trns) {
			png_byte tr[16];
			for (int i = 0; i < 16; i++) tr[i] = (png_byte)(i * 10);
			png_set_tRNS(png, info, tr, 16, NULL);
		}
	}
	png_write_info(png, info);
	int passes = png_interlace ? png_set_interlace_handling(png) : 1;
	int ch = ct == PNG_COLOR_TYPE_GRAY || ct == PNG_COLOR_TYPE_PALETTE ? 1
	       : ct == PNG_COLOR_TYPE_GRAY_ALPHA ? 2 : ct == PNG_COLOR_TYPE_RGB ? 3 : 4;
	size_t rb = ((size_t)w * ch * bd + 7) / 8;
	uint8_t *row = calloc(rb, 1);
	for (int pass = 0; pass < passes; pass++)
	for (int y = 0; y < h; y++) {
		memset(row, 0, rb);
		for (int x = 0; x < w; x++)
			for (int c = 0; c < ch; c++) {
				unsigned v = f(x, y, c);
				size_t bit = ((size_t)x * ch + c) * bd;
				if (bd == 16) {
					row[bit / 8] = (uint8_t)(v >> 8);
					row[bit / 8 + 1] = (uint8_t)v;
				} else if (bd == 8) {
					row[bit / 8] = (uint8_t)v;
				} else {
					row[bit / 8] |= (uint8_t)(v << (8 - bd - bit % 8));
				}
			}
		png_write_row(png, row);
	}
	png_write_end(png, info);
	png_destroy_write_struct(&png, &info);
	free(row);
	return b;
}

static unsigned f16(int x, int y, int c) { return (unsigned)(x * 1000 + y * 77 + c * 5003) & 0xffff; }
static unsigned g16(int x, int y, int c) { (void)c; return (x * y) & 1 ? (unsigned)(x * 37 + y) : (unsigned)(x * 1000 + y * 77 + 300); }
static unsigned f8(int x, int y, int c) { return (unsigned)(x * 10 + y * 3 + c * 50) & 0xff; }
static unsigned f4(int x, int y, int c) { (void)c; return (unsigned)(x + y) & 15; }
static unsigned f2(int x, int y, int c) { (void)c; return (unsigned)(x + 2 * y) & 3; }
static unsigned f1(int x, int y, int c) { (void)c; return (unsigned)(x ^ y) & 1; }

static void test_png_types(void)
{
	struct { int ct, bd; unsigned (*f)(int, int, int); const char *what; } cases[] = {
		{PNG_COLOR_TYPE_RGB, 8, f8, "rgb8"}, {PNG_COLOR_TYPE_RGB, 16, f16, "rgb16"},
		{PNG_COLOR_TYPE_RGB_ALPHA, 8, f8, "rgba8"}, {PNG_COLOR_TYPE_RGB_ALPHA, 16, f16, "rgba16"},
		{PNG_COLOR_TYPE_GRAY, 8, f8, "gray8"}, {PNG_COLOR_TYPE_GRAY, 16, g16, "gray16"},
		{PNG_COLOR_TYPE_GRAY, 4, f4, "gray4"}, {PNG_COLOR_TYPE_GRAY, 2, f2, "gray2"},
		{PNG_COLOR_TYPE_GRAY, 1, f1, "gray1"},
		{PNG_COLOR_TYPE_GRAY_ALPHA, 8, f8, "la8"}, {PNG_COLOR_TYPE_GRAY_ALPHA, 16, f16, "la16"},
		{PNG_COLOR_TYPE_PALETTE, 8, f4, "pal8"}, {PNG_COLOR_TYPE_PALETTE, 4, f4, "pal4"},
	};
	/* each plain and interlaced (Adam7 is converted in its own buffer) */
	const int w = 13, h = 11;
	for (size_t k = 0; k < 2 * sizeof cases / sizeof cases[0]; k++) {
		png_interlace = k & 1;
		mbuf b = make_png(w, h, cases[k / 2].ct, cases[k / 2].bd, cases[k / 2].f, 1);
		png_interlace = 0;
		g4_image im;
		char what[32];
		snprintf(what, sizeof what, "%s%s", cases[k / 2].what, k & 1 ? " adam7" : "");
		int rc = g4_image_decode(b.p, b.n, what, 0, &im);
		CHECK(rc == 0, "%s: %s", what, g4_errmsg());
		if (rc) { free(b.p); continue; }
		CHECK(im.w == w && im.h == h, "%s: size %dx%d", what, im.w, im.h);
		int bad = 0;
		for (int y = 0; y < h; y++)
			for (int x = 0; x < w; x++)
				for (int c = 0; c < 3; c++) {
					unsigned want, ct = (unsigned)cases[k / 2].ct, bd = (unsigned)cases[k / 2].bd;
					int sc = (ct == PNG_COLOR_TYPE_GRAY || ct == PNG_COLOR_TYPE_GRAY_ALPHA) ? 0 : c;
					if (ct == PNG_COLOR_TYPE_PALETTE) {
						unsigned i = cases[k / 2].f(x, y, 0);
						want = c == 0 ? i * 16 : c == 1 ? 255 - i * 16 : i * 7;
					} else {
						unsigned v = cases[k / 2].f(x, y, sc);
						want = bd == 16 ? v >> 8 : bd == 8 ? v : v * (255 / ((1u << bd) - 1));
						if (bd == 16 && ct == PNG_COLOR_TYPE_GRAY)	/* Pillow's I;16 -> RGB */
							want = v > 255 ? 255 : v;
					}
					if (im.rgb[(y * w + x) * 3 + c] != want)
						bad++;
				}
		CHECK(bad == 0, "%s: %d samples differ", what, bad);
		g4_image_free(&im);
		free(b.p);
	}
}

static unsigned fa(int x, int y, int c) { return c == 3 ? (unsigned)(x * 40) : (unsigned)(100 + y * 10 + c); }

static void test_png_alpha(void)
{
	mbuf b = make_png(6, 3, PNG_COLOR_TYPE_RGB_ALPHA, 8, fa, 0);
	g4_image im, wh;
	CHECK(g4_image_decode(b.p, b.n, "a", 0, &im) == 0, "%s", g4_errmsg());
	CHECK(g4_image_decode(b.p, b.n, "a", G4_IMG_ALPHA_WHITE, &wh) == 0, "%s", g4_errmsg());
	/* dropped: the colour as stored; over white: blended */
	CHECK(im.rgb[0] == 100 && im.rgb[(1 * 6 + 0) * 3 + 2] == 112, "alpha not dropped: %d", im.rgb[0]);
	CHECK(wh.rgb[0] == 255, "alpha 0 over white gives %d", wh.rgb[0]);
	int x = 3, a = 120, c = 100;
	int want = (c * a + 255 * (255 - a) + 127) / 255;
	CHECK(wh.rgb[x * 3] == want, "blend %d, wanted %d", wh.rgb[x * 3], want);
	/* the same, interlaced */
	png_interlace = 1;
	mbuf bi = make_png(6, 3, PNG_COLOR_TYPE_RGB_ALPHA, 8, fa, 0);
	png_interlace = 0;
	g4_image imi, whi;
	CHECK(g4_image_decode(bi.p, bi.n, "ai", 0, &imi) == 0, "%s", g4_errmsg());
	CHECK(g4_image_decode(bi.p, bi.n, "ai", G4_IMG_ALPHA_WHITE, &whi) == 0, "%s", g4_errmsg());
	CHECK(imi.rgb && whi.rgb && !memcmp(imi.rgb, im.rgb, 6 * 3 * 3) && !memcmp(whi.rgb, wh.rgb, 6 * 3 * 3),
	      "interlaced RGBA decodes differently");
	g4_image_free(&imi);
	g4_image_free(&whi);
	free(bi.p);
	g4_image_free(&im);
	g4_image_free(&wh);
	free(b.p);
}

/* crc32 for hand-built chunks */
static uint32_t crc32_(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffffu;
	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
	}
	return c ^ 0xffffffffu;
}

static void put32(uint8_t *p, uint32_t v) { p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v; }

static void test_png_interlace_exif(void)
{
	png_interlace = 1;
	mbuf b = make_png(13, 11, PNG_COLOR_TYPE_RGB, 8, f8, 0);
	png_interlace = 0;
	g4_image im;
	CHECK(g4_image_decode(b.p, b.n, "adam7", 0, &im) == 0, "%s", g4_errmsg());
	int bad = 0;
	for (int y = 0; y < 11 && im.rgb; y++)
		for (int x = 0; x < 13; x++)
			for (int c = 0; c < 3; c++)
				bad += im.rgb[(y * 13 + x) * 3 + c] != f8(x, y, c);
	CHECK(bad == 0, "interlaced: %d samples differ", bad);
	g4_image_free(&im);
	free(b.p);
	/* eXIf orientation 6 (rotate 90 clockwise) */
	const uint8_t ex[] = "MM\0\x2a\0\0\0\x08\0\x01\x01\x12\0\x03\0\0\0\x01\0\x06\0\0\0\0\0\0";
	png_exif = ex;
	png_exif_n = sizeof ex - 1;
	b = make_png(13, 11, PNG_COLOR_TYPE_RGB, 8, f8, 0);
	png_exif = NULL;
	CHECK(g4_image_decode(b.p, b.n, "exif.png", 0, &im) == 0, "%s", g4_errmsg());
	CHECK(im.w == 11 && im.h == 13, "eXIf orientation not applied: %dx%d", im.w, im.h);
	/* source (x, y) lands at (H-1-y, x) */
	if (im.rgb && im.w == 11)
		CHECK(im.rgb[((size_t)2 * 11 + (11 - 1 - 3)) * 3] == f8(2, 3, 0), "eXIf: pixel misplaced");
	g4_image_free(&im);
	free(b.p);
}

static void test_png_bad(void)
{
	size_t n;
	uint8_t *good = t_slurp(t_data("vision/img1-gradient-64x48.png"), &n);
	if (!good) return;
	g4_image im;
	CHECK(g4_image_decode(good, n, "ok", 0, &im) == 0, "good file: %s", g4_errmsg());
	CHECK(im.w == 64 && im.h == 48, "size %dx%d", im.w, im.h);
	g4_image_free(&im);
	/* truncated at several places */
	size_t cuts[] = {0, 5, 8, 20, 33, 60, n / 2, n - 13};
	for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
		int rc = g4_image_decode(good, cuts[i], "cut.png", 0, &im);
		CHECK(rc == -1 && im.rgb == NULL, "cut at %zu accepted", cuts[i]);
		CHECK(strstr(g4_errmsg(), "cut.png") != NULL, "message without the name: %s", g4_errmsg());
	}
	uint8_t *bad = malloc(n);
	/* bad CRC in IHDR */
	memcpy(bad, good, n);
	bad[29] ^= 0x55;
	CHECK(g4_image_decode(bad, n, "crc.png", 0, &im) == -1, "bad IHDR CRC accepted");
	/* corrupt IDAT data */
	memcpy(bad, good, n);
	for (size_t i = 60; i < 90 && i < n; i++) bad[i] ^= 0xa5;
	CHECK(g4_image_decode(bad, n, "data.png", 0, &im) == -1, "corrupt IDAT accepted");
	/* huge dimensions, valid CRC */
	memcpy(bad, good, n);
	put32(bad + 16, 100000);
	put32(bad + 20, 100000);
	put32(bad + 29, crc32_(bad + 12, 17));
	CHECK(g4_image_decode(bad, n, "huge.png", 0, &im) == -1, "100000x100000 accepted");
	memcpy(bad, good, n);
	put32(bad + 16, 60000);
	put32(bad + 20, 60000);
	put32(bad + 29, crc32_(bad + 12, 17));
	CHECK(g4_image_decode(bad, n, "big.png", 0, &im) == -1, "60000x60000 accepted");
	CHECK(strstr(g4_errmsg(), "too large") != NULL, "message: %s", g4_errmsg());
	/* not an image at all */
	CHECK(g4_image_decode("GIF89a....", 10, "x.gif", 0, &im) == -1, "GIF accepted");
	CHECK(strstr(g4_errmsg(), "not a PNG or JPEG") != NULL, "message: %s", g4_errmsg());
	CHECK(g4_image_decode("", 0, "empty", 0, &im) == -1, "empty accepted");
	free(bad);
	free(good);
}

/* ---- JPEG ---- */

/* A quality-100 JPEG of w x h with ncomp components: 1 gray, 3 RGB (flat
 * 8x8 blocks of distinct levels survive quality 100), 4 CMYK (one colour);
 * an Exif Orientation when orient != 0. */
static int jpeg_progressive;

static mbuf make_jpeg_n(int w, int h, int ncomp, int orient)
{
	struct jpeg_compress_struct c;
	struct jpeg_error_mgr e;
	unsigned char *out = NULL;
	unsigned long outn = 0;
	c.err = jpeg_std_error(&e);
	jpeg_create_compress(&c);
	jpeg_mem_dest(&c, &out, &outn);
	c.image_width = w;
	c.image_height = h;
	c.input_components = ncomp;
	c.in_color_space = ncomp == 1 ? JCS_GRAYSCALE : ncomp == 3 ? JCS_RGB : JCS_CMYK;
	jpeg_set_defaults(&c);
	jpeg_set_quality(&c, 100, TRUE);
	if (jpeg_progressive)
		jpeg_simple_progression(&c);
	jpeg_start_compress(&c, TRUE);
	if (orient) {
		/* Exif, big-endian TIFF, one IFD entry: Orientation SHORT */
		uint8_t ex[6 + 8 + 2 + 12 + 4] = "Exif\0\0MM\0\x2a\0\0\0\x08";
		uint8_t *e1 = ex + 14;
		e1[0] = 0; e1[1] = 1;
		uint8_t ent[12] = {0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, (uint8_t)orient, 0, 0};
		memcpy(e1 + 2, ent, 12);
		jpeg_write_marker(&c, JPEG_APP0 + 1, ex, sizeof ex);
	}
	unsigned char *row = malloc((size_t)w * ncomp);
	while (c.next_scanline < c.image_height) {
		int y = c.next_scanline;
		for (int x = 0; x < w; x++) {
			int v = ((x / 8) * 60 + (y / 8) * 120) % 256;
			if (ncomp == 1) {
				row[x] = (unsigned char)v;
			} else if (ncomp == 3) {
				row[3 * x] = (unsigned char)v; row[3 * x + 1] = (unsigned char)v; row[3 * x + 2] = (unsigned char)v;
			} else {
				/* libjpeg writes an Adobe marker for CMYK: stored values
				 * are inverted in Pillow's reading (C=255-stored) */
				row[4 * x] = 255 - 40; row[4 * x + 1] = 255 - 0; row[4 * x + 2] = 255 - 200; row[4 * x + 3] = 255 - 50;
			}
		}
		jpeg_write_scanlines(&c, &row, 1);
	}
	jpeg_finish_compress(&c);
	jpeg_destroy_compress(&c);
	free(row);
	mbuf b = {out, outn, outn};
	return b;
}

static mbuf make_jpeg(int w, int h, int gray, int orient)
{
	return make_jpeg_n(w, h, gray ? 1 : 3, orient);
}

static mbuf make_cmyk_jpeg(int w, int h)
{
	return make_jpeg_n(w, h, 4, 0);
}

/* ---- forged PNG headers ---- */

/* A PNG by hand: IHDR (w x h, depth, colour type, interlace), one IDAT
 * holding the zlib stream of `raw` (stored blocks), IEND. */
static mbuf hand_png(uint32_t w, uint32_t h, int depth, int ctype, int interlace, const uint8_t *raw, size_t rn)
{
	mbuf b = { 0 }, z = { 0 };
	uint8_t hd[25];
	mb_put(&b, "\x89PNG\r\n\x1a\n", 8);
	put32(hd, 13);
	memcpy(hd + 4, "IHDR", 4);
	put32(hd + 8, w);
	put32(hd + 12, h);
	hd[16] = (uint8_t)depth;
	hd[17] = (uint8_t)ctype;
	hd[18] = hd[19] = 0;
	hd[20] = (uint8_t)interlace;
	put32(hd + 21, crc32_(hd + 4, 17));
	mb_put(&b, hd, 25);
	/* zlib: header, stored blocks, adler32 */
	mb_put(&z, "IDAT\x78\x01", 6);
	uint32_t a = 1, bb = 0;
	size_t off = 0;
	do {
		size_t k = rn - off > 65535 ? 65535 : rn - off;
		uint8_t bh[5] = { (uint8_t)(off + k == rn), (uint8_t)k, (uint8_t)(k >> 8), (uint8_t)~k,
				  (uint8_t)(~k >> 8) };
		mb_put(&z, bh, 5);
		mb_put(&z, raw + off, k);
		for (size_t i = 0; i < k; i++) {
			a = (a + raw[off + i]) % 65521;
			bb = (bb + a) % 65521;
		}
		off += k;
	} while (off < rn);
	uint8_t ad[4];
	put32(ad, bb << 16 | a);
	mb_put(&z, ad, 4);
	uint8_t len[4], crc[4];
	put32(len, (uint32_t)(z.n - 4));
	put32(crc, crc32_(z.p, z.n));
	mb_put(&b, len, 4);
	mb_put(&b, z.p, z.n);
	mb_put(&b, crc, 4);
	mb_put(&b, "\0\0\0\0IEND\xae\x42\x60\x82", 12);
	free(z.p);
	return b;
}

typedef struct {
	const void *p;
	size_t n;
} forged;

static int decode_job(void *arg, char *out, size_t cap)
{
	const forged *f = arg;
	g4_image im;
	int rc = g4_image_decode(f->p, f->n, "forged.png", 0, &im);
	snprintf(out, cap, "%d %s", rc, rc < 0 ? g4_errmsg() : "");
	return 0;
}

/* Decodes p[0..n) in a child process whose address space may grow by at
 * most 48 MiB; msg gets "RC MESSAGE".  0 if the child finished. */
static int decode_limited(const void *p, size_t n, char *msg, size_t cap)
{
	forged f = { p, n };
	return t_run_limited((size_t)48 << 20, decode_job, &f, msg, cap);
}

/* A header claiming 20000 x 8000 pixels (under the pixel limit) over a few
 * bytes of data: refused by what the file can hold, or (when the file is
 * big enough for a bitonal picture) failing at the missing rows, in both
 * cases without allocating the picture first. */
static void test_png_forged(void)
{
	static uint8_t raw[20000];	/* zero rows: filter 0, black */
	char msg[800];
	mbuf b = hand_png(20000, 8000, 8, PNG_COLOR_TYPE_RGB, 0, raw, 10);
	CHECK(decode_limited(b.p, b.n, msg, sizeof msg) == 0, "RGB: the decoding process failed (%s)", msg);
	char want[300];
	snprintf(want, sizeof want, "-1 forged.png: bad PNG: 20000x8000 pixels need 480000000 bytes of image data, "
		 "more than the %zu bytes of the file can hold (truncated?)", b.n);
	CHECK(!strcmp(msg, want), "RGB: got '%s', wanted '%s'", msg, want);
	free(b.p);
	/* 1 bit grey: 20 MB of pixels fit in 20 KB of deflate; the rows run out */
	b = hand_png(20000, 8000, 1, PNG_COLOR_TYPE_GRAY, 0, raw, sizeof raw);
	CHECK(decode_limited(b.p, b.n, msg, sizeof msg) == 0, "grey: the decoding process failed (%s)", msg);
	CHECK(!strncmp(msg, "-1 forged.png: bad PNG: ", 24) && !strstr(msg, "memory"), "grey: got '%s'", msg);
	free(b.p);
	/* a bitonal picture with all its rows decodes (the picture grows
	 * from 1 MiB to 12 MB as the rows arrive) */
	uint8_t *all = calloc(1000, 501);
	for (int y = 0; y < 1000; y++)
		all[(size_t)y * 501 + 1 + y % 500] = 0x80;	/* pixel (8 * (y % 500), y) white */
	b = hand_png(4000, 1000, 1, PNG_COLOR_TYPE_GRAY, 0, all, (size_t)1000 * 501);
	g4_image im;
	int bad = -1;
	if (g4_image_decode(b.p, b.n, "whole.png", G4_IMG_NO_EXIF, &im) == 0 && im.w == 4000 && im.h == 1000) {
		bad = 0;
		for (size_t y = 0; y < 1000; y++)
			for (size_t x = 0; x < 4000; x++)
				bad += im.rgb[(y * 4000 + x) * 3 + 1] != (x == 8 * (y % 500) ? 255 : 0);
	}
	CHECK(bad == 0, "whole bitonal: %d wrong pixels (%s)", bad, g4_errmsg());
	g4_image_free(&im);
	free(all);
	free(b.p);
}

/* A JPEG of 64 x 64 whose frame header claims 6000 x 6000 (108 MB of
 * pixels or, progressive, of coefficients), its end marker cut off:
 * refused, or failing at the missing data, without allocating the picture
 * first. */
static void test_jpeg_forged(void)
{
	for (int prog = 0; prog < 2; prog++) {
		jpeg_progressive = prog;
		mbuf b = make_jpeg(64, 64, 0, 0);
		jpeg_progressive = 0;
		size_t i = 2;
		while (i + 9 < b.n && !(b.p[i] == 0xff && b.p[i + 1] == (prog ? 0xc2 : 0xc0)))
			i++;
		CHECK(i + 9 < b.n, "no frame header");
		if (i + 9 >= b.n) {
			free(b.p);
			continue;
		}
		b.p[i + 5] = 6000 >> 8;	/* Y, X: big-endian */
		b.p[i + 6] = 6000 & 255;
		b.p[i + 7] = 6000 >> 8;
		b.p[i + 8] = 6000 & 255;
		b.n -= 2;
		char msg[800];
		CHECK(decode_limited(b.p, b.n, msg, sizeof msg) == 0, "%s: the decoding process failed (%s)",
		      prog ? "progressive" : "baseline", msg);
		const char *want = prog ? "-1 forged.png: bad JPEG: its coefficients need more than the 67108864 bytes"
					: "-1 forged.png: bad JPEG: truncated file";
		CHECK(!strncmp(msg, want, strlen(want)), "%s: got '%s'", prog ? "progressive" : "baseline", msg);
		free(b.p);
	}
}

static void test_jpeg_cmyk(void)
{
	mbuf b = make_cmyk_jpeg(16, 8);
	g4_image im;
	CHECK(g4_image_decode(b.p, b.n, "cmyk.jpg", 0, &im) == 0, "%s", g4_errmsg());
	if (im.rgb) {
		/* c=40 m=0 y=200 k=50: r = 205 - 40*205/255 = 173, g = 205, b = 205 - 161 = 44 */
		int r = im.rgb[0], g = im.rgb[1], bl = im.rgb[2];
		CHECK(abs(r - 173) <= 2 && abs(g - 205) <= 2 && abs(bl - 44) <= 2, "CMYK -> %d %d %d", r, g, bl);
	}
	g4_image_free(&im);
	free(b.p);
}

static int px(const g4_image *im, int x, int y) { return im->rgb[((size_t)y * im->w + x) * 3]; }

static void test_jpeg(void)
{
	mbuf b = make_jpeg(24, 16, 0, 0);
	g4_image base;
	CHECK(g4_image_decode(b.p, b.n, "j", 0, &base) == 0, "%s", g4_errmsg());
	CHECK(base.w == 24 && base.h == 16, "size %dx%d", base.w, base.h);
	int ok = base.rgb != NULL && abs(px(&base, 0, 0) - 0) <= 2 && abs(px(&base, 8, 0) - 60) <= 2 &&
		 abs(px(&base, 0, 8) - 120) <= 2;
	CHECK(ok, "JPEG levels %d %d %d", px(&base, 0, 0), px(&base, 8, 0), px(&base, 0, 8));
	/* each orientation maps corners as Pillow's exif_transpose */
	for (int o = 1; o <= 8; o++) {
		mbuf j = make_jpeg(24, 16, o & 1, o);
		g4_image im;
		if (g4_image_decode(j.p, j.n, "jo", 0, &im)) {
			CHECK(0, "orientation %d: %s", o, g4_errmsg());
			free(j.p);
			continue;
		}
		int sw = o >= 5;
		CHECK(im.w == (sw ? 16 : 24) && im.h == (sw ? 24 : 16), "orientation %d: size %dx%d", o, im.w, im.h);
		/* where does source pixel (x, y) land? */
		int W = 24, H = 16, bad = 0;
		for (int y = 0; y < H; y += 5)
			for (int x = 0; x < W; x += 7) {
				int dx, dy;
				switch (o) {
				case 1: dx = x; dy = y; break;
				case 2: dx = W - 1 - x; dy = y; break;
				case 3: dx = W - 1 - x; dy = H - 1 - y; break;
				case 4: dx = x; dy = H - 1 - y; break;
				case 5: dx = y; dy = x; break;
				case 6: dx = H - 1 - y; dy = x; break;
				case 7: dx = H - 1 - y; dy = W - 1 - x; break;
				default: dx = y; dy = W - 1 - x; break;
				}
				if (abs(px(&im, dx, dy) - px(&base, x, y)) > 3) bad++;
			}
		CHECK(bad == 0, "orientation %d: %d pixels misplaced", o, bad);
		g4_image_free(&im);
		/* the same file with G4_IMG_NO_EXIF keeps the stored layout */
		if (g4_image_decode(j.p, j.n, "jo", G4_IMG_NO_EXIF, &im) == 0) {
			CHECK(im.w == 24, "NO_EXIF rotated anyway");
			g4_image_free(&im);
		}
		free(j.p);
	}
	/* truncated and damaged */
	g4_image im;
	size_t cuts[] = {3, 20, b.n / 2, b.n - 2};
	for (size_t i = 0; i < 4; i++)
		CHECK(g4_image_decode(b.p, cuts[i], "cut.jpg", 0, &im) == -1, "JPEG cut at %zu accepted", cuts[i]);
	uint8_t *bad = malloc(b.n);
	memcpy(bad, b.p, b.n);
	for (size_t i = 2; i < 40; i++) bad[i] = 0xff;
	CHECK(g4_image_decode(bad, b.n, "bad.jpg", 0, &im) == -1, "broken JPEG header accepted");
	free(bad);
	g4_image_free(&base);
	free(b.p);
}

static void test_exif_parse(void)
{
	const uint8_t le[] = "II\x2a\0\x08\0\0\0\x01\0\x12\x01\x03\0\x01\0\0\0\x06\0\0\0";
	CHECK(g4_exif_orientation(le, sizeof le - 1) == 6, "little-endian");
	CHECK(g4_exif_orientation(le, 12) == 1, "truncated IFD must give 1");
	const uint8_t bad[] = "II\x2a\0\xff\xff\0\0";
	CHECK(g4_exif_orientation(bad, 8) == 1, "IFD offset past the end");
	CHECK(g4_exif_orientation((const uint8_t *)"Exif\0\0", 6) == 1, "empty");
}

/* ---- resize rule and Pillow bicubic ---- */

static void test_target_size(void)
{
	/* transformers' test vectors: (p, max_patches, k, H, W) -> (Ht, Wt) */
	int v[][7] = {
		{16, 256, 1, 256, 256, 256, 256}, {16, 256, 1, 512, 512, 256, 256},
		{10, 200, 1, 50, 10000, 10, 2000}, {10, 200, 1, 25, 10000, 10, 2000},
		{16, 2304, 6, 2785, 34, 6144, 96}, {10, 200, 1, 25, 20000, 10, 2000},
		{4, 64, 2, 50, 1000, 8, 128}, {5, 100, 3, 100, 100, 45, 45}, {5, 20, 3, 5, 100, 15, 30},
	};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		int Ht = -1, Wt = -1;
		int rc = g4_vision_target_size_ex(v[i][0], v[i][1], v[i][2], v[i][3], v[i][4], &Ht, &Wt);
		CHECK(rc == 0 && Ht == v[i][5] && Wt == v[i][6], "vector %zu: %dx%d, wanted %dx%d (%s)", i,
		      Ht, Wt, v[i][5], v[i][6], rc ? g4_errmsg() : "");
	}
	/* the spec's production examples (S, H, W) -> (Ht, Wt) */
	int e[][5] = {
		{280, 480, 640, 672, 912}, {280, 768, 1024, 672, 912}, {280, 1080, 1920, 576, 1056},
		{280, 224, 224, 768, 768}, {280, 1024, 1024, 768, 768}, {280, 2000, 500, 1584, 384},
		{280, 300, 4000, 192, 2928}, {70, 768, 1024, 336, 432}, {140, 1024, 1024, 528, 528},
		{560, 768, 1024, 960, 1296}, {1120, 1024, 1024, 1584, 1584}, {70, 1080, 1920, 288, 528},
		{70, 48, 64, 336, 432}, {70, 120, 200, 288, 480}, {70, 340, 500, 288, 480},
	};
	for (size_t i = 0; i < sizeof e / sizeof e[0]; i++) {
		int Ht = -1, Wt = -1;
		int rc = g4_vision_target_size(e[i][0], e[i][1], e[i][2], &Ht, &Wt);
		CHECK(rc == 0 && Ht == e[i][3] && Wt == e[i][4], "S=%d %dx%d: %dx%d, wanted %dx%d", e[i][0],
		      e[i][1], e[i][2], Ht, Wt, e[i][3], e[i][4]);
		CHECK(Ht / 48 * (Wt / 48) <= e[i][0], "over budget");
	}
	int Ht, Wt;
	CHECK(g4_vision_target_size(100, 10, 10, &Ht, &Wt) == -1, "budget 100 accepted");
	CHECK(g4_vision_target_size(280, 1, 65535, &Ht, &Wt) == 0 && Ht == 48 && Wt == 280 * 48,
	      "1x65535: %dx%d", Ht, Wt);
}

static void golden_pixels(const char *png, const char *sha, int gh_want, int gw_want)
{
	g4_image im;
	if (g4_image_load(t_data(png), 0, &im)) {
		CHECK(0, "%s", g4_errmsg());
		return;
	}
	float *pix;
	int gh, gw;
	if (g4_vision_pixels(&im, 70, &pix, &gh, &gw)) {
		CHECK(0, "%s", g4_errmsg());
		g4_image_free(&im);
		return;
	}
	CHECK(gh == gh_want && gw == gw_want, "%s: grid %dx%d", png, gh, gw);
	char hex[65];
	g4_sha256_hex(pix, sizeof(float) * (size_t)gh * gw * 768, hex);
	CHECK(!strcmp(hex, sha), "%s: pixels differ from the golden set (sha256 %s)", png, hex);
	free(pix);
	g4_image_free(&im);
}

static void test_golden_pixels(void)
{
	golden_pixels("vision/img1-gradient-64x48.png",
		      "38c8e77263041e1722648b63c40f71e873262e38ef729257e32f453379058aaa", 21, 27);
	golden_pixels("vision/img2-palette-200x120.png",
		      "4efb5d1d22c29619e0a4b35155df079ed8dbac324e1d41a91a3db0b7c25be28a", 18, 30);
	golden_pixels("vision/img3-gray-alpha-500x340.png",
		      "365e64ef4e1f3176d867b9965de5ed4d617395db6bff6f1134639529ea97c2b8", 18, 30);
}

static void test_resize_basic(void)
{
	/* a constant picture stays constant; a same-size resize is a copy */
	g4_image a = {5, 4, malloc(5 * 4 * 3)}, r;
	memset(a.rgb, 77, 60);
	CHECK(g4_image_resize(&a, 13, 2, &r) == 0, "%s", g4_errmsg());
	int bad = 0;
	for (int i = 0; i < 13 * 2 * 3; i++) bad += r.rgb[i] != 77;
	CHECK(bad == 0, "constant image changed by resize");
	g4_image_free(&r);
	for (int i = 0; i < 60; i++) a.rgb[i] = (uint8_t)(i * 37);
	CHECK(g4_image_resize(&a, 5, 4, &r) == 0 && !memcmp(r.rgb, a.rgb, 60), "same-size resize is not a copy");
	g4_image_free(&r);
	CHECK(g4_image_resize(&a, 0, 4, &r) == -1, "zero width accepted");
	g4_image_free(&a);
}

int main(void)
{
	RUN(test_png_types);
	RUN(test_png_alpha);
	RUN(test_png_interlace_exif);
	RUN(test_png_bad);
	RUN(test_png_forged);
	RUN(test_jpeg);
	RUN(test_jpeg_cmyk);
	RUN(test_jpeg_forged);
	RUN(test_exif_parse);
	RUN(test_target_size);
	RUN(test_resize_basic);
	RUN(test_golden_pixels);
	return t_done();
}
