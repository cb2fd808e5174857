/* image.c - PNG (libpng) and JPEG (libjpeg) to 8-bit RGB, EXIF orientation,
 * and Pillow's antialiased bicubic resize.  See image.h. */
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>
#include <jpeglib.h>
#include <jerror.h>

#include "err.h"
#include "fileio.h"
#include "image.h"

void g4_image_free(g4_image *im)
{
	if (!im)
		return;
	free(im->rgb);
	im->rgb = NULL;
	im->w = im->h = 0;
}

static int check_size(const char *name, const char *fmt, uint64_t w, uint64_t h)
{
	if (w == 0 || h == 0)
		return g4_err("%s: %s image of %llux%llu pixels", name, fmt,
			      (unsigned long long)w, (unsigned long long)h);
	if (w > G4_IMAGE_MAX_SIDE || h > G4_IMAGE_MAX_SIDE || w * h > G4_IMAGE_MAX_PIXELS)
		return g4_err("%s: %s image of %llux%llu pixels is too large (limit %d per side, %u pixels)",
			      name, fmt, (unsigned long long)w, (unsigned long long)h,
			      G4_IMAGE_MAX_SIDE, G4_IMAGE_MAX_PIXELS);
	return 0;
}

static int image_alloc(g4_image *im, int w, int h, const char *name)
{
	im->w = w;
	im->h = h;
	im->rgb = malloc((size_t)w * h * 3);
	if (!im->rgb)
		return g4_err("%s: out of memory for a %dx%d image", name, w, h);
	return 0;
}

/* ---- EXIF -------------------------------------------------------------- */

static unsigned rd16(const uint8_t *p, int le) { return le ? p[0] | p[1] << 8 : p[0] << 8 | p[1]; }
static uint32_t rd32(const uint8_t *p, int le)
{
	return le ? (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24
		  : (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int g4_exif_orientation(const uint8_t *p, size_t n)
{
	if (n >= 6 && !memcmp(p, "Exif\0\0", 6)) {
		p += 6;
		n -= 6;
	}
	if (n < 8)
		return 1;
	int le;
	if (p[0] == 'I' && p[1] == 'I')
		le = 1;
	else if (p[0] == 'M' && p[1] == 'M')
		le = 0;
	else
		return 1;
	if (rd16(p + 2, le) != 42)
		return 1;
	uint32_t ifd = rd32(p + 4, le);
	if (ifd > n || n - ifd < 2)
		return 1;
	unsigned cnt = rd16(p + ifd, le);
	if ((n - ifd - 2) / 12 < cnt)
		cnt = (unsigned)((n - ifd - 2) / 12);
	for (unsigned i = 0; i < cnt; i++) {
		const uint8_t *e = p + ifd + 2 + 12 * i;
		if (rd16(e, le) != 0x0112)
			continue;
		unsigned type = rd16(e + 2, le);
		unsigned v;
		if (type == 3)		/* SHORT, inline */
			v = rd16(e + 8, le);
		else if (type == 4 || type == 9)	/* LONG / SLONG */
			v = rd32(e + 8, le);
		else
			return 1;
		return v >= 1 && v <= 8 ? (int)v : 1;
	}
	return 1;
}

int g4_image_orient(g4_image *im, int o)
{
	if (o < 2 || o > 8)
		return 0;
	int W = im->w, H = im->h;
	int swap = o >= 5;
	int ow = swap ? H : W, oh = swap ? W : H;
	uint8_t *dst = malloc((size_t)W * H * 3);
	if (!dst)
		return g4_err("out of memory rotating a %dx%d image", W, H);
	for (int y = 0; y < oh; y++)
		for (int x = 0; x < ow; x++) {
			int sx, sy;
			switch (o) {
			case 2: sx = W - 1 - x; sy = y; break;		/* mirror */
			case 3: sx = W - 1 - x; sy = H - 1 - y; break;	/* 180 */
			case 4: sx = x; sy = H - 1 - y; break;		/* flip */
			case 5: sx = y; sy = x; break;			/* transpose */
			case 6: sx = y; sy = H - 1 - x; break;		/* 90 clockwise */
			case 7: sx = W - 1 - y; sy = H - 1 - x; break;	/* transverse */
			default: sx = W - 1 - y; sy = x; break;		/* 8: 90 counter-clockwise */
			}
			memcpy(dst + ((size_t)y * ow + x) * 3, im->rgb + ((size_t)sy * W + sx) * 3, 3);
		}
	free(im->rgb);
	im->rgb = dst;
	im->w = ow;
	im->h = oh;
	return 0;
}

/* ---- PNG --------------------------------------------------------------- */

typedef struct {
	const uint8_t *p;
	size_t n, off;
	const char *name;
	char msg[200];
	jmp_buf jb;
} png_src;

static void png_err_fn(png_structp png, png_const_charp m)
{
	png_src *s = png_get_error_ptr(png);
	snprintf(s->msg, sizeof s->msg, "%s", m);
	longjmp(s->jb, 1);
}

static void png_warn_fn(png_structp png, png_const_charp m) { (void)png; (void)m; }

static void png_read_fn(png_structp png, png_bytep out, size_t n)
{
	png_src *s = png_get_io_ptr(png);
	if (n > s->n - s->off) {
		snprintf(s->msg, sizeof s->msg, "truncated file (needed %zu bytes at offset %zu, file has %zu)",
			 n, s->off, s->n);
		longjmp(s->jb, 1);
	}
	memcpy(out, s->p + s->off, n);
	s->off += n;
}

/* One row in png's layout (after the transformations) to 8-bit RGB. */
/* Pillow's mode I;16 to RGB: big-endian, every value above 255 is 255 */
static uint8_t gray16_value(const uint8_t *q) { return q[0] ? 255 : q[1]; }

static void png_row_rgb(const uint8_t *row, uint8_t *d, png_uint_32 w, int gray16, int ch, int white)
{
	for (png_uint_32 x = 0; x < w; x++, d += 3) {
		if (gray16) {
			d[0] = d[1] = d[2] = gray16_value(row + (size_t)x * 2);
			continue;
		}
		const uint8_t *q = row + (size_t)x * ch;
		if (ch == 4 && white) {
			/* a*c + (255-a)*255, rounded, as torchvision's blend on uint8 */
			unsigned a = q[3];
			for (int c = 0; c < 3; c++)
				d[c] = (uint8_t)((q[c] * a + 255 * (255 - a) + 127) / 255);
		} else {
			d[0] = q[0];
			d[1] = q[1];
			d[2] = q[2];
		}
	}
}

/* buf (cap bytes, or NULL) made to hold at least need bytes of a picture of
 * at most max bytes: pictures grow as their rows arrive, so a header that
 * claims more rows than the data hold costs nothing.  NULL when memory is
 * short (buf is still the caller's then). */
static uint8_t *grow_picture(uint8_t *buf, size_t *cap, size_t need, size_t max)
{
	if (need <= *cap)
		return buf;
	size_t nc = *cap ? 2 * *cap : (size_t)1 << 20;
	if (nc < need)
		nc = need;
	if (nc > max)
		nc = max;
	uint8_t *q = realloc(buf, nc);
	if (q)
		*cap = nc;
	return q;
}

/* Deflate gives at most 1032 bytes per byte (a 258-byte match in two bits). */
#define DEFLATE_MAX_RATIO 1032

static int decode_png(const uint8_t *buf, size_t n, const char *name, int flags, g4_image *out)
{
	png_src s = {.p = buf, .n = n, .name = name};
	png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &s, png_err_fn, png_warn_fn);
	png_infop info = png ? png_create_info_struct(png) : NULL;
	uint8_t *volatile row = NULL;
	uint8_t *volatile rgb = NULL;
	png_bytep *volatile rows = NULL;
	if (!png || !info) {
		png_destroy_read_struct(png ? &png : NULL, NULL, NULL);
		return g4_err("%s: out of memory", name);
	}
	if (setjmp(s.jb)) {
		png_free(png, rows);	/* png_read_image failed half-way */
		png_destroy_read_struct(&png, &info, NULL);
		free(row);
		free(rgb);
		return g4_err("%s: bad PNG: %s", name, s.msg);
	}
	png_set_read_fn(png, &s, png_read_fn);
	png_set_crc_action(png, PNG_CRC_ERROR_QUIT, PNG_CRC_ERROR_QUIT);
	png_set_user_limits(png, G4_IMAGE_MAX_SIDE, G4_IMAGE_MAX_SIDE);
	png_set_chunk_malloc_max(png, 64u << 20);
	png_read_info(png, info);

	png_uint_32 w, h;
	int depth, ctype, interlace;
	png_get_IHDR(png, info, &w, &h, &depth, &ctype, &interlace, NULL, NULL);
	if (check_size(name, "PNG", w, h)) {
		png_destroy_read_struct(&png, &info, NULL);
		return -1;
	}
	/* the pixels the header claims must fit in the file, deflated */
	uint64_t raw = ((uint64_t)w * h * (uint64_t)(png_get_channels(png, info) * depth) + 7) / 8;
	if (raw / DEFLATE_MAX_RATIO > n) {
		png_destroy_read_struct(&png, &info, NULL);
		return g4_err("%s: bad PNG: %lux%lu pixels need %llu bytes of image data, more than the %zu bytes "
			      "of the file can hold (truncated?)", name, (unsigned long)w, (unsigned long)h,
			      (unsigned long long)raw, n);
	}
	int orient = 1;
#ifdef PNG_eXIf_SUPPORTED
	png_uint_32 ne = 0;
	png_bytep ex = NULL;
	if (png_get_eXIf_1(png, info, &ne, &ex) && ex)
		orient = g4_exif_orientation(ex, ne);
#endif
	/* Pillow's convert("RGB"): 16-bit RGB, RGBA and grey+alpha keep the
	 * high byte; 16-bit grey goes through Pillow's mode I;16, whose
	 * conversion saturates every value above 255 to 255; palettes and grey
	 * expand; tRNS transparency is ignored. */
	int gray16 = ctype == PNG_COLOR_TYPE_GRAY && depth == 16;
	if (depth == 16 && !gray16)
		png_set_strip_16(png);
	if (ctype == PNG_COLOR_TYPE_PALETTE)
		png_set_palette_to_rgb(png);
	if (ctype == PNG_COLOR_TYPE_GRAY && depth < 8)
		png_set_expand_gray_1_2_4_to_8(png);
	if ((ctype == PNG_COLOR_TYPE_GRAY && !gray16) || ctype == PNG_COLOR_TYPE_GRAY_ALPHA)
		png_set_gray_to_rgb(png);
	png_set_interlace_handling(png);
	png_read_update_info(png, info);
	int ch = png_get_channels(png, info);
	size_t rb = png_get_rowbytes(png, info);
	if (gray16 ? (ch != 1 || rb != (size_t)w * 2) : ((ch != 3 && ch != 4) || rb != (size_t)w * ch))
		png_error(png, "unexpected pixel layout after conversion");
	int white = (flags & G4_IMG_ALPHA_WHITE) != 0;
	size_t out_row = (size_t)w * 3;
	if (interlace == PNG_INTERLACE_NONE) {
		size_t cap = 0;
		row = malloc(rb);
		if (!row)
			png_error(png, "out of memory");
		for (png_uint_32 y = 0; y < h; y++) {
			uint8_t *g = grow_picture(rgb, &cap, (size_t)(y + 1) * out_row, (size_t)h * out_row);
			if (!g)
				png_error(png, "out of memory");
			rgb = g;
			png_read_row(png, row, NULL);
			png_row_rgb(row, rgb + (size_t)y * out_row, w, gray16, ch, white);
		}
	} else {
		/* Adam7 fills the rows pass by pass: the whole picture in png's
		 * layout, turned into RGB in the same buffer.  Rows of RGB are
		 * never longer than png's except for 16-bit grey (2 -> 3 bytes a
		 * pixel), which goes last pixel first so no byte is overwritten
		 * before it is read. */
		size_t stride = rb > out_row ? rb : out_row;
		rgb = malloc((size_t)h * stride);
		if (!rgb)
			png_error(png, "out of memory");
		rows = png_malloc(png, sizeof(png_bytep) * h);
		for (png_uint_32 y = 0; y < h; y++)
			rows[y] = rgb + (size_t)y * stride;
		png_read_image(png, rows);
		png_free(png, rows);
		rows = NULL;
		if (gray16) {
			for (size_t i = (size_t)h * w; i-- > 0;) {
				size_t y = i / w, x = i % w;
				uint8_t v = gray16_value(rgb + y * stride + 2 * x), *d = rgb + 3 * i;
				d[0] = d[1] = d[2] = v;
			}
		} else {
			for (png_uint_32 y = 0; y < h; y++)
				png_row_rgb(rgb + (size_t)y * stride, rgb + (size_t)y * out_row, w, 0, ch, white);
		}
	}
	png_destroy_read_struct(&png, &info, NULL);
	free(row);
	out->w = (int)w;
	out->h = (int)h;
	out->rgb = rgb;
	if (!(flags & G4_IMG_NO_EXIF) && g4_image_orient(out, orient)) {
		g4_image_free(out);
		return g4_err_ctx("%s: ", name);
	}
	return 0;
}

/* ---- JPEG -------------------------------------------------------------- */

typedef struct {
	struct jpeg_error_mgr pub;
	jmp_buf jb;
	char msg[JMSG_LENGTH_MAX];
} jpg_err;

static void jpg_error_exit(j_common_ptr c)
{
	jpg_err *e = (jpg_err *)c->err;
	if (c->err->msg_code == JERR_NO_BACKING_STORE)
		snprintf(e->msg, sizeof e->msg, "its coefficients need more than the %ld bytes of memory "
			 "a file of this size is allowed", c->mem->max_memory_to_use);
	else
		c->err->format_message(c, e->msg);
	longjmp(e->jb, 1);
}

/* Warnings: premature end of data is an error (Pillow: "image file is
 * truncated"); other warnings about damaged data are tolerated. */
static void jpg_emit(j_common_ptr c, int level)
{
	jpg_err *e = (jpg_err *)c->err;
	if (level == -1 && c->err->msg_code == JWRN_JPEG_EOF) {
		snprintf(e->msg, sizeof e->msg, "truncated file (premature end of JPEG data)");
		longjmp(e->jb, 1);
	}
}

/* A progressive JPEG keeps the whole picture's coefficients (2 bytes each),
 * allocated before any of its data is read.  libjpeg's own memory is bounded
 * by what the file can justify: 64 MB, or 4096 bytes a byte of file (a
 * photograph needs 10 to 50); past it libjpeg stops ("backing store not
 * supported"). */
static long jpeg_mem_limit(size_t n)
{
	const size_t floor = (size_t)64 << 20, per = 4096;
	size_t lim = n > floor / per ? n * per : floor;
	return n > (size_t)LONG_MAX / per ? LONG_MAX : (long)lim;
}

static int decode_jpeg(const uint8_t *buf, size_t n, const char *name, int flags, g4_image *out)
{
	struct jpeg_decompress_struct cinfo;
	jpg_err je;
	uint8_t *volatile rgb = NULL;
	uint8_t *volatile line = NULL;
	memset(&cinfo, 0, sizeof cinfo);
	cinfo.err = jpeg_std_error(&je.pub);
	je.pub.error_exit = jpg_error_exit;
	je.pub.emit_message = jpg_emit;
	if (setjmp(je.jb)) {
		jpeg_destroy_decompress(&cinfo);
		free(rgb);
		free(line);
		return g4_err("%s: bad JPEG: %s", name, je.msg);
	}
	jpeg_create_decompress(&cinfo);
	cinfo.mem->max_memory_to_use = jpeg_mem_limit(n);
	jpeg_mem_src(&cinfo, buf, n);
	jpeg_save_markers(&cinfo, JPEG_APP0 + 1, 0xffff);
	jpeg_read_header(&cinfo, TRUE);
	if (check_size(name, "JPEG", cinfo.image_width, cinfo.image_height)) {
		jpeg_destroy_decompress(&cinfo);
		return -1;
	}
	int orient = 1;
	for (jpeg_saved_marker_ptr m = cinfo.marker_list; m; m = m->next)
		if (m->marker == JPEG_APP0 + 1 && m->data_length >= 6 && !memcmp(m->data, "Exif\0\0", 6)) {
			orient = g4_exif_orientation(m->data, m->data_length);
			break;
		}
	int cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
	cinfo.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
	jpeg_start_decompress(&cinfo);
	int w = (int)cinfo.output_width, h = (int)cinfo.output_height, ch = cinfo.output_components;
	if ((cmyk && ch != 4) || (!cmyk && ch != 3)) {
		snprintf(je.msg, sizeof je.msg, "unexpected %d output components", ch);
		longjmp(je.jb, 1);
	}
	size_t cap = 0;
	line = malloc((size_t)w * ch);
	if (!line) {
		snprintf(je.msg, sizeof je.msg, "out of memory");
		longjmp(je.jb, 1);
	}
	while (cinfo.output_scanline < cinfo.output_height) {
		JSAMPROW r = line;
		size_t y = cinfo.output_scanline;
		uint8_t *g = grow_picture(rgb, &cap, (y + 1) * w * 3, (size_t)h * w * 3);
		if (!g) {
			snprintf(je.msg, sizeof je.msg, "out of memory");
			longjmp(je.jb, 1);
		}
		rgb = g;
		if (jpeg_read_scanlines(&cinfo, &r, 1) != 1) {
			snprintf(je.msg, sizeof je.msg, "cannot read scanline %zu", y);
			longjmp(je.jb, 1);
		}
		uint8_t *d = rgb + y * w * 3;
		if (!cmyk) {
			memcpy(d, line, (size_t)w * 3);
			continue;
		}
		/* Pillow: Adobe CMYK is stored inverted ("CMYK;I"); then
		 * convert("RGB") gives (255-k) - c*(255-k)/255, rounded. */
		for (int x = 0; x < w; x++) {
			const uint8_t *q = line + 4 * x;
			unsigned inv = cinfo.saw_Adobe_marker ? 255 : 0;
			unsigned k = q[3] ^ inv, nk = 255 - k;
			for (int c = 0; c < 3; c++) {
				unsigned v = (q[c] ^ inv) * nk + 128;
				v = ((v >> 8) + v) >> 8;
				d[3 * x + c] = (uint8_t)(nk - v);
			}
		}
	}
	jpeg_finish_decompress(&cinfo);
	jpeg_destroy_decompress(&cinfo);
	free(line);
	out->w = w;
	out->h = h;
	out->rgb = rgb;
	if (!(flags & G4_IMG_NO_EXIF) && g4_image_orient(out, orient)) {
		g4_image_free(out);
		return g4_err_ctx("%s: ", name);
	}
	return 0;
}

int g4_image_decode(const void *buf, size_t n, const char *name, int flags, g4_image *out)
{
	const uint8_t *p = buf;
	memset(out, 0, sizeof *out);
	if (n >= 8 && !memcmp(p, "\x89PNG\r\n\x1a\n", 8))
		return decode_png(p, n, name, flags, out);
	if (n >= 3 && p[0] == 0xff && p[1] == 0xd8 && p[2] == 0xff)
		return decode_jpeg(p, n, name, flags, out);
	if (n == 0)
		return g4_err("%s: empty file, not an image", name);
	return g4_err("%s: not a PNG or JPEG file (unknown signature %02x %02x %02x %02x)", name,
		      p[0], n > 1 ? p[1] : 0, n > 2 ? p[2] : 0, n > 3 ? p[3] : 0);
}

int g4_image_load(const char *path, int flags, g4_image *out)
{
	char *buf;
	size_t n;
	memset(out, 0, sizeof *out);
	if (g4_slurp(path, (size_t)1 << 30, &buf, &n))
		return -1;
	int rc = g4_image_decode(buf, n, path, flags, out);
	free(buf);
	return rc;
}

/* ---- Pillow's resample ---------------------------------------------------
 *
 * Per axis: the kernel is widened by the scale when shrinking (antialias);
 * double weights are normalised to sum 1 and then turned into fixed point
 * with 22 fraction bits (Pillow's PRECISION_BITS for 8-bit images). */

#define PREC 22

static double cubic(double x)
{
	const double a = -0.5;
	if (x < 0.0)
		x = -x;
	if (x < 1.0)
		return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
	if (x < 2.0)
		return (((x - 5) * x + 8) * x - 4) * a;
	return 0.0;
}

/* For each output index: first input index, count, and ksize weights. */
static int coeffs(int in, int outn, int *ksize_out, int **bounds_out, int32_t **k_out)
{
	double scale = (double)in / outn;
	double fs = scale < 1.0 ? 1.0 : scale;
	double support = 2.0 * fs;
	int ksize = (int)ceil(support) * 2 + 1;
	double *kd = malloc(sizeof(double) * ksize);
	int *bounds = malloc(sizeof(int) * 2 * outn);
	int32_t *k = calloc((size_t)outn * ksize, sizeof(int32_t));
	if (!kd || !bounds || !k) {
		free(kd); free(bounds); free(k);
		return g4_err("out of memory for resize coefficients");
	}
	double ss = 1.0 / fs;
	for (int i = 0; i < outn; i++) {
		double center = (i + 0.5) * scale;
		int lo = (int)(center - support + 0.5);
		if (lo < 0)
			lo = 0;
		int hi = (int)(center + support + 0.5);
		if (hi > in)
			hi = in;
		int cnt = hi - lo;
		double ww = 0.0;
		for (int j = 0; j < cnt; j++) {
			double w = cubic((j + lo - center + 0.5) * ss);
			kd[j] = w;
			ww += w;
		}
		for (int j = 0; j < cnt; j++) {
			double w = ww != 0.0 ? kd[j] / ww : kd[j];
			k[(size_t)i * ksize + j] = w < 0 ? (int32_t)(-0.5 + w * (1 << PREC))
						       : (int32_t)(0.5 + w * (1 << PREC));
		}
		bounds[2 * i] = lo;
		bounds[2 * i + 1] = cnt;
	}
	free(kd);
	*ksize_out = ksize;
	*bounds_out = bounds;
	*k_out = k;
	return 0;
}

static inline uint8_t clip8(int32_t v)
{
	v >>= PREC;
	return v < 0 ? 0 : v > 255 ? 255 : (uint8_t)v;
}

/* One pass along x (horizontal) or y (vertical): src w*h -> dst. */
static int pass(const uint8_t *src, int w, int h, int horiz, int outn, uint8_t *dst)
{
	int ksize, *b;
	int32_t *k;
	if (coeffs(horiz ? w : h, outn, &ksize, &b, &k))
		return -1;
	int ow = horiz ? outn : w, oh = horiz ? h : outn;
	#pragma omp parallel for schedule(static)
	for (int y = 0; y < oh; y++)
		for (int x = 0; x < ow; x++) {
			int i = horiz ? x : y;
			int lo = b[2 * i], cnt = b[2 * i + 1];
			const int32_t *kk = k + (size_t)i * ksize;
			int32_t s0 = 1 << (PREC - 1), s1 = s0, s2 = s0;
			for (int j = 0; j < cnt; j++) {
				const uint8_t *p = horiz ? src + ((size_t)y * w + lo + j) * 3
							 : src + ((size_t)(lo + j) * w + x) * 3;
				s0 += p[0] * kk[j];
				s1 += p[1] * kk[j];
				s2 += p[2] * kk[j];
			}
			uint8_t *d = dst + ((size_t)y * ow + x) * 3;
			d[0] = clip8(s0);
			d[1] = clip8(s1);
			d[2] = clip8(s2);
		}
	free(b);
	free(k);
	return 0;
}

int g4_image_resize(const g4_image *src, int w, int h, g4_image *out)
{
	memset(out, 0, sizeof *out);
	if (w <= 0 || h <= 0 || check_size("resize", "target", (uint64_t)w, (uint64_t)h))
		return g4_err("cannot resize to %dx%d", w, h);
	if (image_alloc(out, w, h, "resize"))
		return -1;
	if (w == src->w && h == src->h) {
		memcpy(out->rgb, src->rgb, (size_t)w * h * 3);
		return 0;
	}
	const uint8_t *cur = src->rgb;
	uint8_t *tmp = NULL;
	if (w != src->w) {
		uint8_t *dst = h == src->h ? out->rgb : (tmp = malloc((size_t)w * src->h * 3));
		if (!dst) {
			g4_image_free(out);
			return g4_err("out of memory resizing to %dx%d", w, h);
		}
		if (pass(cur, src->w, src->h, 1, w, dst)) {
			free(tmp);
			g4_image_free(out);
			return -1;
		}
		cur = dst;
	}
	if (h != src->h && pass(cur, w, src->h, 0, h, out->rgb)) {
		free(tmp);
		g4_image_free(out);
		return -1;
	}
	free(tmp);
	return 0;
}
