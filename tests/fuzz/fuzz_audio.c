/* fuzz_audio - libFuzzer target: audio files through libsndfile, mixdown
 * and resampling to 16 kHz (g4_audio_load, first 30 s).  The input is
 * written to a memory file (memfd) and opened by its /proc/self/fd path.
 * Built and run by `make fuzz`. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "audio.h"
#include "err.h"

static int audio_fd = -1;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (audio_fd < 0 && (audio_fd = memfd_create("fuzz-audio", 0)) < 0)
		abort();
	if (ftruncate(audio_fd, 0) || pwrite(audio_fd, data, size, 0) != (ssize_t)size)
		abort();
	char path[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", audio_fd);
	float *x = NULL;
	size_t n = 0;
	if (g4_audio_load(path, G4_AUDIO_MAX_SAMPLES, &x, &n) == 0) {
		if (n > G4_AUDIO_MAX_SAMPLES || (n && !x))
			abort();
		volatile float last = n ? x[n - 1] : 0;
		(void)last;
		free(x);
	}
	g4_err_clear();
	return 0;
}
