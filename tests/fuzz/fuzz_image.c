/* fuzz_image - libFuzzer target: PNG and JPEG decoding (g4_image_decode,
 * with its EXIF orientation) and a resize of what decodes.  An odd-sized
 * input is decoded with G4_IMG_ALPHA_WHITE.  Built and run by `make fuzz`. */
#include <stdint.h>
#include <stdlib.h>

#include "err.h"
#include "image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g4_image im;
	if (g4_image_decode(data, size, "fuzz", (size & 1) ? G4_IMG_ALPHA_WHITE : 0, &im) == 0) {
		if (im.w <= 0 || im.h <= 0 || !im.rgb)
			abort();
		volatile uint8_t last = im.rgb[(size_t)im.w * im.h * 3 - 1];
		(void)last;
		g4_image small;
		if ((size_t)im.w * im.h <= (1u << 20) && g4_image_resize(&im, 7, 5, &small) == 0)
			g4_image_free(&small);
		g4_image_free(&im);
	}
	g4_err_clear();
	return 0;
}
