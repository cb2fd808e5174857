/* image.h - decoding PNG and JPEG to 8-bit RGB, and Pillow's resampling.
 *
 * Decoding follows what transformers sees through Pillow: the EXIF
 * orientation (JPEG APP1, PNG eXIf) is applied, then the picture is converted
 * to RGB the way Pillow's convert("RGB") does: grey is replicated, palettes
 * are expanded, alpha (and tRNS transparency) is dropped, 16-bit samples keep
 * their high byte, except 16-bit grey, which Pillow saturates to 255 above
 * 255 (as its I;16 to RGB conversion does).  With G4_IMG_ALPHA_WHITE alpha is instead blended over
 * white (the video processor's rule).  Anything that is neither PNG nor JPEG
 * is an error that says so; damaged files (bad CRC, truncation, absurd sizes)
 * are errors too, never a partial picture.
 *
 * Resizing is Pillow's antialiased bicubic (Image.resize(BICUBIC)) on 8-bit
 * channels, bit for bit: separable, horizontal pass first, fixed-point
 * weights with 22 fractional bits, clipped to 0..255 after each pass.
 *
 *   g4_image im;
 *   if (g4_image_load("cat.jpg", 0, &im)) die(g4_errmsg());
 *   g4_image small;
 *   g4_image_resize(&im, 432, 336, &small);
 *   g4_image_free(&im); g4_image_free(&small);
 */
#ifndef G4_IMAGE_H
#define G4_IMAGE_H
#include <stddef.h>
#include <stdint.h>

/* Largest picture accepted: each side, and width*height. */
#define G4_IMAGE_MAX_SIDE 65535
#define G4_IMAGE_MAX_PIXELS 178956970u	/* Pillow refuses more (decompression bomb) */

enum {
	G4_IMG_ALPHA_WHITE = 1,	/* blend alpha over white instead of dropping it */
	G4_IMG_NO_EXIF = 2,	/* ignore the EXIF orientation */
};

typedef struct {
	int w, h;		/* columns, rows */
	uint8_t *rgb;		/* h rows of w pixels R,G,B */
} g4_image;

/* Decodes a file ("-" = stdin) / a buffer; name is used in messages. */
int g4_image_load(const char *path, int flags, g4_image *out);
int g4_image_decode(const void *buf, size_t n, const char *name, int flags, g4_image *out);
void g4_image_free(g4_image *im);

/* Pillow's antialiased bicubic resize to w x h (copies when the size is
 * unchanged). */
int g4_image_resize(const g4_image *src, int w, int h, g4_image *out);

/* EXIF orientation (1..8) from a TIFF/EXIF block ("Exif\0\0" prefix optional);
 * 1 when there is none or the block is malformed. */
int g4_exif_orientation(const uint8_t *p, size_t n);
/* Applies orientation o (2..8) in place, as Pillow's ImageOps.exif_transpose. */
int g4_image_orient(g4_image *im, int o);

#endif
