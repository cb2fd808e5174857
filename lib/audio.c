/* audio.c - decode (libsndfile), mix to mono, resample to 16 kHz (libsoxr).
 * See audio.h. */
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sndfile.h>
#include <soxr.h>

#include "audio.h"
#include "err.h"

#define MAX_CHANNELS 256
#define MIN_RATE 1000
#define MAX_RATE 1000000
#define CHUNK 16384		/* frames decoded per read */

void g4_audio_mixdown(const float *in, size_t frames, int ch, float *mono)
{
	if (ch == 1) {
		memmove(mono, in, frames * sizeof *mono);
		return;
	}
	for (size_t i = 0; i < frames; i++) {
		double s = 0;
		for (int c = 0; c < ch; c++)
			s += in[i * (size_t)ch + c];
		mono[i] = (float)(s / ch);
	}
}

int g4_audio_resample(const float *in, size_t n, double rate_in, float **out, size_t *n_out)
{
	*out = NULL;
	*n_out = 0;
	if (!(rate_in >= MIN_RATE && rate_in <= MAX_RATE))
		return g4_err("sample rate %g Hz is not in %d..%d", rate_in, MIN_RATE, MAX_RATE);
	double want = floor((double)n * G4_AUDIO_RATE / rate_in + 0.5);
	if (want > (double)G4_AUDIO_LIMIT_SAMPLES + 1)
		return g4_err("audio too long: %.0f samples at 16 kHz (limit %zu)", want,
			      (size_t)G4_AUDIO_LIMIT_SAMPLES);
	size_t olen = (size_t)want;
	float *y = malloc((olen ? olen : 1) * sizeof *y);
	if (!y)
		return g4_err("out of memory (%zu samples)", olen);
	if (rate_in == G4_AUDIO_RATE) {
		memcpy(y, in, n * sizeof *y);
		*out = y;
		*n_out = n;
		return 0;
	}
	if (n == 0) {
		*out = y;
		return 0;
	}
	soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
	soxr_quality_spec_t q = soxr_quality_spec(SOXR_HQ, 0);
	soxr_runtime_spec_t rt = soxr_runtime_spec(1);	/* same samples for any -t */
	size_t done = 0;
	soxr_error_t e = soxr_oneshot(rate_in, G4_AUDIO_RATE, 1, in, n, NULL,
				      y, olen, &done, &io, &q, &rt);
	if (e) {
		free(y);
		return g4_err("resampling %g Hz -> 16000 Hz: %s", rate_in, e);
	}
	for (size_t i = done; i < olen; i++)	/* soxr delivers all; be safe */
		y[i] = 0;
	*out = y;
	*n_out = olen;
	return 0;
}

int g4_audio_load(const char *path, size_t max_samples, float **x, size_t *n)
{
	*x = NULL;
	*n = 0;
	SF_INFO info;
	memset(&info, 0, sizeof info);
	SNDFILE *sf = sf_open(path, SFM_READ, &info);
	if (!sf)
		return g4_err("%s: cannot read audio: %s", path, sf_strerror(NULL));
	if (info.channels < 1 || info.channels > MAX_CHANNELS) {
		sf_close(sf);
		return g4_err("%s: %d channels (1..%d supported)", path, info.channels, MAX_CHANNELS);
	}
	if (info.samplerate < MIN_RATE || info.samplerate > MAX_RATE) {
		sf_close(sf);
		return g4_err("%s: sample rate %d Hz (%d..%d supported)", path, info.samplerate,
			      MIN_RATE, MAX_RATE);
	}
	/* input frames to decode at most: what max_samples (or the limit)
	 * needs, plus 0.1 s so the resampler's filter sees real signal
	 * around the cut */
	double ratio = (double)info.samplerate / G4_AUDIO_RATE;
	size_t lim_out = max_samples ? max_samples : G4_AUDIO_LIMIT_SAMPLES;
	size_t lim_in = (size_t)ceil((double)lim_out * ratio) + (size_t)info.samplerate / 10 + 64;
	int ch = info.channels;
	size_t cap = 0, len = 0;
	float *mono = NULL;
	float *buf = malloc((size_t)CHUNK * ch * sizeof *buf);
	if (!buf) {
		sf_close(sf);
		return g4_err("out of memory");
	}
	int too_long = 0;
	for (;;) {
		sf_count_t got = sf_readf_float(sf, buf, CHUNK);
		if (got <= 0)
			break;
		if (len + (size_t)got > lim_in) {
			got = (sf_count_t)(lim_in - len);
			too_long = 1;
		}
		if (len + (size_t)got > cap) {
			size_t nc = cap ? cap * 2 : (size_t)CHUNK * 4;
			while (nc < len + (size_t)got)
				nc *= 2;
			if (nc > lim_in)
				nc = lim_in;
			float *p = realloc(mono, nc * sizeof *p);
			if (!p) {
				free(mono);
				free(buf);
				sf_close(sf);
				return g4_err("%s: out of memory (%zu samples)", path, nc);
			}
			mono = p;
			cap = nc;
		}
		g4_audio_mixdown(buf, (size_t)got, ch, mono + len);
		len += (size_t)got;
		if (too_long)
			break;
	}
	int sferr = sf_error(sf);
	const char *sfmsg = sferr ? sf_strerror(sf) : NULL;
	char msg[256] = "";
	if (sfmsg)
		snprintf(msg, sizeof msg, "%s", sfmsg);
	free(buf);
	sf_close(sf);
	if (sferr) {
		free(mono);
		return g4_err("%s: decoding failed: %s", path, msg);
	}
	if (too_long && !max_samples) {
		free(mono);
		return g4_err("%s: longer than %zu s (the limit of one run)", path,
			      (size_t)G4_AUDIO_LIMIT_SAMPLES / G4_AUDIO_RATE);
	}
	float *y;
	size_t ny;
	if (g4_audio_resample(mono ? mono : (float[1]){0}, len, info.samplerate, &y, &ny)) {
		free(mono);
		return g4_err_ctx("%s: ", path);
	}
	free(mono);
	if (max_samples && ny > max_samples)
		ny = max_samples;
	*x = y;
	*n = ny;
	return 0;
}

size_t g4_audio_n_pieces(size_t n, int split)
{
	if (!split)
		return 1;
	return n ? (n + G4_AUDIO_MAX_SAMPLES - 1) / G4_AUDIO_MAX_SAMPLES : 1;
}

size_t g4_audio_piece_len(size_t n, int split, size_t i)
{
	size_t s = i * (size_t)G4_AUDIO_MAX_SAMPLES;
	if (!split)
		return i == 0 ? (n < G4_AUDIO_MAX_SAMPLES ? n : G4_AUDIO_MAX_SAMPLES) : 0;
	if (s >= n)
		return 0;
	return n - s < G4_AUDIO_MAX_SAMPLES ? n - s : G4_AUDIO_MAX_SAMPLES;
}
