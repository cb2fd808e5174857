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
#define CHUNK 16384		/* frames decoded per read (fewer past 2 channels) */

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

/* output samples, growing, capped at lim (more is counted, not kept) */
typedef struct {
	float *y;
	size_t n, cap, lim, seen;
} obuf;

static int push(obuf *o, const float *p, size_t k)
{
	o->seen += k;
	if (o->n + k > o->lim)
		k = o->lim - o->n;
	if (k == 0)
		return 0;	/* o->y may still be NULL: no pointer arithmetic on it */
	if (o->n + k > o->cap) {
		size_t nc = o->cap ? o->cap * 2 : 65536;
		while (nc < o->n + k)
			nc *= 2;
		if (nc > o->lim)
			nc = o->lim;
		float *q = realloc(o->y, nc * sizeof *q);
		if (!q)
			return g4_err("out of memory (%zu samples)", nc);
		o->y = q;
		o->cap = nc;
	}
	memcpy(o->y + o->n, p, k * sizeof *p);
	o->n += k;
	return 0;
}

/* Decodes chunk by chunk: mix each chunk to mono and feed it to a streaming
 * resampler, so memory holds only the 16 kHz result. */
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
	int ch = info.channels, rate = info.samplerate, rc = 0;
	size_t in_frames = 0;
	obuf o = { .lim = max_samples ? max_samples : G4_AUDIO_LIMIT_SAMPLES + 1 };
	size_t ocap = (size_t)CHUNK * G4_AUDIO_RATE / rate + 1024;
	const sf_count_t nf = ch > 2 ? 2 * CHUNK / ch : CHUNK;
	float *buf = malloc((size_t)nf * ch * sizeof *buf);
	float *mono = malloc((size_t)CHUNK * sizeof *mono);
	float *out = malloc(ocap * sizeof *out);
	soxr_t rs = NULL;
	if (!buf || !mono || !out) {
		rc = g4_err("%s: out of memory", path);
		goto done;
	}
	if (rate != G4_AUDIO_RATE) {
		soxr_error_t e = NULL;
		soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
		soxr_quality_spec_t q = soxr_quality_spec(SOXR_HQ, 0);
		soxr_runtime_spec_t rt = soxr_runtime_spec(1);	/* same samples for any -t */
		rs = soxr_create(rate, G4_AUDIO_RATE, 1, &e, &io, &q, &rt);
		if (!rs || e) {
			rc = g4_err("%s: resampler: %s", path, e ? e : "cannot create");
			goto done;
		}
	}
	for (;;) {
		sf_count_t got = sf_readf_float(sf, buf, nf);
		if (got <= 0)
			break;
		g4_audio_mixdown(buf, (size_t)got, ch, mono);
		for (sf_count_t i = 0; i < got; i++)
			if (!isfinite(mono[i])) {
				rc = g4_err("%s: frame %zu is not a finite number", path,
					    in_frames + (size_t)i);
				goto done;
			}
		in_frames += (size_t)got;
		if (!rs) {
			if (push(&o, mono, (size_t)got))
				goto fail;
		} else {
			size_t fed = 0;
			while (fed < (size_t)got) {
				size_t idone = 0, odone = 0;
				soxr_error_t e = soxr_process(rs, mono + fed, (size_t)got - fed, &idone,
							      out, ocap, &odone);
				if (e) {
					rc = g4_err("%s: resampling: %s", path, e);
					goto done;
				}
				fed += idone;
				if (push(&o, out, odone))
					goto fail;
			}
		}
		if (o.seen >= o.lim)
			break;	/* enough (or too much) */
	}
	if (sf_error(sf)) {
		rc = g4_err("%s: decoding failed: %s", path, sf_strerror(sf));
		goto done;
	}
	if (rs && o.seen < o.lim)	/* end of input: drain the filter */
		for (;;) {
			size_t odone = 0;
			soxr_error_t e = soxr_process(rs, NULL, 0, NULL, out, ocap, &odone);
			if (e) {
				rc = g4_err("%s: resampling: %s", path, e);
				goto done;
			}
			if (!odone)
				break;
			if (push(&o, out, odone))
				goto fail;
		}
	if (!max_samples && o.seen > G4_AUDIO_LIMIT_SAMPLES) {
		rc = g4_err("%s: longer than %zu s (the limit of one run)", path,
			    (size_t)G4_AUDIO_LIMIT_SAMPLES / G4_AUDIO_RATE);
		goto done;
	}
	*x = o.y ? o.y : malloc(sizeof(float));
	*n = o.n;
	o.y = NULL;
	if (!*x)
		rc = g4_err("out of memory");
	goto done;
fail:
	rc = g4_err_ctx("%s: ", path);
done:
	if (rs)
		soxr_delete(rs);
	free(o.y);
	free(buf);
	free(mono);
	free(out);
	sf_close(sf);
	return rc;
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
