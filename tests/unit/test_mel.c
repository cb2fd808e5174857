/* Tests of lib/mel.c (log-mel) and lib/audio.c (decode, mix, resample). */
#include <unistd.h>
#include <sndfile.h>

#include "t.h"
#include "tutil.h"
#include "audio.h"
#include "err.h"
#include "mel.h"
#include "par.h"

static void test_frames(void)
{
	size_t n[] = { 0, 1, 160, 161, 320, 321, 16000, 38560, 48000, 48800, 99360, 480000 };
	size_t T[] = { 0, 0, 0, 1, 1, 2, 99, 240, 299, 304, 620, 2999 };
	for (size_t i = 0; i < sizeof n / sizeof *n; i++)
		CHECK(g4_mel_frames(n[i]) == T[i], "n=%zu: %zu frames, want %zu", n[i], g4_mel_frames(n[i]), T[i]);
	/* tokens = ceil(T / 4): 25 per second */
	CHECK((g4_mel_frames(16000) + 3) / 4 == 25, "1 s is not 25 tokens");
	CHECK((g4_mel_frames(480000) + 3) / 4 == 750, "30 s is not 750 tokens");
}

static void test_bank(void)
{
	for (int k = 0; k < 257; k++)
		CHECK(g4_mel_weight(k, 0) == 0, "filter 0 bin %d = %g", k, g4_mel_weight(k, 0));
	CHECK(fabs(g4_mel_weight(1, 1) - 0.766008) < 1e-6, "filter 1 bin 1 = %.7f", g4_mel_weight(1, 1));
	CHECK(fabs(g4_mel_weight(31, 44) - 0.469318) < 1e-6, "filter 44 bin 31 = %.7f", g4_mel_weight(31, 44));
	CHECK(fabs(g4_mel_weight(32, 44) - 0.580871) < 1e-6, "filter 44 bin 32 = %.7f", g4_mel_weight(32, 44));
	for (int m = 1; m < 128; m++) {
		double s = 0;
		for (int k = 0; k < 257; k++) s += g4_mel_weight(k, m);
		CHECK(s > 0, "filter %d is empty", m);
	}
}

/* spec §2.7: 1 s of a 1 kHz sine (double, rounded to float) */
static void test_sine(void)
{
	static float x[16000], f[99 * 128];
	for (int i = 0; i < 16000; i++) x[i] = (float)sin(2 * M_PI * 1000.0 * i / 16000.0);
	CHECK(g4_mel(x, 16000, f) == 0, "%s", g4_errmsg());
	const float f0[8] = { -6.90776, 0.65748, -0.52725, 0.45571, -0.05201, 0.36891, 0.09400, 0.41481 };
	const float f50[8] = { 0.11781, 0.68882, 2.62679, 3.82051, 4.32362, 4.29832, 3.70078, 2.14924 };
	const float lk[5] = { -6.908, -5.195, -6.037, -5.551, -5.902 };
	for (int m = 0; m < 8; m++) {
		CHECK(fabsf(f[m] - f0[m]) < 2e-5, "frame 0 bin %d: %.6f want %.5f", m, f[m], f0[m]);
		CHECK(fabsf(f[50 * 128 + 40 + m] - f50[m]) < 2e-5, "frame 50 bin %d: %.6f want %.5f",
		      40 + m, f[50 * 128 + 40 + m], f50[m]);
		CHECK(fabsf(f[98 * 128 + 40 + m] - f50[m]) < 2e-5, "frame 98 bin %d: %.6f", 40 + m,
		      f[98 * 128 + 40 + m]);
	}
	for (int m = 0; m < 5; m++)
		CHECK(fabsf(f[50 * 128 + m] - lk[m]) < 0.02, "frame 50 leakage bin %d: %.4f want %.3f",
		      m, f[50 * 128 + m], lk[m]);
	int am = 0;
	for (int m = 0; m < 128; m++) if (f[50 * 128 + m] > f[50 * 128 + am]) am = m;
	CHECK(am == 44, "arg-max bin %d", am);
}

static void test_silence(void)
{
	static float x[4000], f[24 * 128];
	CHECK(g4_mel(x, 4000, f) == 0, "%s", g4_errmsg());
	for (int i = 0; i < 24 * 128; i++)
		if (fabsf(f[i] - -6.907755f) > 1e-6) { CHECK(0, "value %d = %.7f", i, f[i]); break; }
}

/* mel of a golden WAV through the whole front end vs golden/audio */
static void golden_mel(const char *wav, const char *melf, size_t want_n, float tol)
{
	float *x; size_t n;
	CHECK(g4_audio_load(t_data(wav), G4_AUDIO_MAX_SAMPLES, &x, &n) == 0, "%s", g4_errmsg());
	if (!x) return;
	CHECK(n == want_n, "%s: %zu samples, want %zu", wav, n, want_n);
	size_t nb = 0; float *ref = t_slurp(t_data(melf), &nb);
	size_t T = g4_mel_frames(n);
	if (ref && nb == T * 128 * 4) {
		float *f = malloc(T * 128 * 4), d; size_t at = 0;
		CHECK(g4_mel(x, n, f) == 0, "%s", g4_errmsg());
		d = t_maxdiff(f, ref, T * 128, &at);
		CHECK(d <= tol, "%s: max |d| %.3g at frame %zu bin %zu", wav, d, at / 128, at % 128);
		printf("  # %s: log-mel max |d| %.3g\n", wav, d);
		free(f);
	} else CHECK(0, "%s: %zu bytes, want %zu", melf, nb, T * 128 * 4);
	free(ref); free(x);
}

static void test_golden_mel(void)
{
	golden_mel("audio/aud1-chirp-noise-16k-mono.wav", "audio/aud1.mel.f32", 20800, 1e-3);
	golden_mel("audio/aud3-am-16k-stereo.wav", "audio/aud3.mel.f32", 16000, 1e-3);
	/* from the golden 16 kHz waveform of aud2 (resampler out of the way) */
	size_t nw, nb; float *w = t_slurp(t_data("audio/aud2.wave16k.f32"), &nw);
	float *ref = t_slurp(t_data("audio/aud2.mel.f32"), &nb);
	if (w && ref) {
		CHECK(nb == 69 * 128 * 4 && nw == 11200 * 4, "sizes %zu %zu", nb, nw);
		float f[69 * 128]; size_t at = 0;
		CHECK(g4_mel(w, 11200, f) == 0, "%s", g4_errmsg());
		float d = t_maxdiff(f, ref, 69 * 128, &at);
		CHECK(d <= 1e-3, "aud2 from wave16k: max |d| %.3g at frame %zu bin %zu", d, at / 128, at % 128);
		printf("  # aud2 from wave16k: log-mel max |d| %.3g\n", d);
	}
	free(w); free(ref);
}

/* the same features for any thread count, bit for bit */
static void test_threads(void)
{
	size_t nw; float *w = t_slurp(t_data("audio/aud2.wave16k.f32"), &nw);
	if (!w) return;
	static float a[69 * 128], b[69 * 128];
	g4_set_threads(1);
	g4_mel(w, 11200, a);
	g4_set_threads(2);
	g4_mel(w, 11200, b);
	g4_set_threads(0);
	CHECK(!memcmp(a, b, sizeof a), "1 vs 2 threads differ");
	free(w);
}

/* aud2: 44.1 kHz stereo through libsoxr vs the golden polyphase resampling */
static void test_resample(void)
{
	float *x; size_t n;
	CHECK(g4_audio_load(t_data("audio/aud2-tones-44k1-stereo.wav"), 0, &x, &n) == 0, "%s", g4_errmsg());
	if (!x) return;
	CHECK(n == 11200, "%zu samples, want 11200", n);
	size_t nw; float *w = t_slurp(t_data("audio/aud2.wave16k.f32"), &nw);
	if (w && n == 11200) {
		size_t at = 0;
		float d = t_maxdiff(x, w, n, &at);
		/* interior: away from the first/last 10 ms where the two
		 * resamplers' edge handling differs */
		float di = t_maxdiff(x + 160, w + 160, n - 320, NULL);
		printf("  # aud2 resampled: max |d| %.3g (at %zu), interior %.3g\n", d, at, di);
		/* libsoxr HQ vs scipy resample_poly (Kaiser): measured 4.9e-3 */
		CHECK(di < 1e-2, "interior max |d| %.3g", di);
		CHECK(d < 1e-2, "max |d| %.3g at %zu", d, at);
	}
	free(w); free(x);
}

static int write_wav(const char *path, int rate, int ch, int fmt, const float *x, size_t frames)
{
	SF_INFO info = { .samplerate = rate, .channels = ch, .format = fmt };
	SNDFILE *sf = sf_open(path, SFM_WRITE, &info);
	if (!sf) return -1;
	sf_writef_float(sf, x, (sf_count_t)frames);
	sf_close(sf);
	return 0;
}

static void test_formats(void)
{
	/* stereo 16 kHz float WAV: the mean of the channels exactly */
	static float st[2 * 1000], *x; size_t n;
	for (int i = 0; i < 1000; i++) { st[2 * i] = 0.25f * (i % 7); st[2 * i + 1] = -0.5f; }
	const char *p = t_tmp("st.wav");
	CHECK(write_wav(p, 16000, 2, SF_FORMAT_WAV | SF_FORMAT_FLOAT, st, 1000) == 0, "write");
	CHECK(g4_audio_load(p, 0, &x, &n) == 0, "%s", g4_errmsg());
	CHECK(n == 1000, "%zu samples", n);
	for (size_t i = 0; x && i < n; i++)
		if (x[i] != (0.25f * (i % 7) - 0.5f) / 2) { CHECK(0, "sample %zu = %g", i, x[i]); break; }
	free(x);
	/* FLAC and OGG/Vorbis of a 440 Hz tone at 44.1 kHz: 1 s -> 16000 samples */
	static float tone[44100];
	for (int i = 0; i < 44100; i++) tone[i] = 0.5f * (float)sin(2 * M_PI * 440 * i / 44100.0);
	const char *fl = t_tmp("t.flac"), *og = t_tmp("t.ogg");
	CHECK(write_wav(fl, 44100, 1, SF_FORMAT_FLAC | SF_FORMAT_PCM_16, tone, 44100) == 0, "flac");
	CHECK(write_wav(og, 44100, 1, SF_FORMAT_OGG | SF_FORMAT_VORBIS, tone, 44100) == 0, "ogg");
	const char *files[2] = { fl, og };
	for (int f = 0; f < 2; f++) {
		CHECK(g4_audio_load(files[f], 0, &x, &n) == 0, "%s", g4_errmsg());
		CHECK(n == 16000, "%s: %zu samples", files[f], n);
		double e = 0;
		for (size_t i = 1000; x && i < 15000 && i < n; i++) {
			double d = x[i] - 0.5 * sin(2 * M_PI * 440 * i / 16000.0);
			e += d * d;
		}
		e = sqrt(e / 14000);
		CHECK(e < (f ? 0.02 : 1e-3), "%s: rms error %.3g vs the tone", files[f], e);
		free(x);
	}
	/* 5 channels at 44.1 kHz are read in shorter chunks than mono: the
	 * same samples as the mono file of their mean */
	enum { F5 = 40000 };
	float *five = malloc(sizeof(float) * 5 * F5), *mean = malloc(sizeof(float) * F5), *y = NULL;
	for (int i = 0; i < F5; i++)
		for (int c = 0; c < 5; c++)
			five[5 * i + c] = 0.1f * (float)sin(0.01 * i * (c + 1));
	g4_audio_mixdown(five, F5, 5, mean);
	const char *p5 = t_tmp("five.wav"), *p1 = t_tmp("mean.wav");
	CHECK(write_wav(p5, 44100, 5, SF_FORMAT_WAV | SF_FORMAT_FLOAT, five, F5) == 0, "5 channels");
	CHECK(write_wav(p1, 44100, 1, SF_FORMAT_WAV | SF_FORMAT_FLOAT, mean, F5) == 0, "mean");
	size_t n1 = 0;
	CHECK(g4_audio_load(p5, 0, &x, &n) == 0 && g4_audio_load(p1, 0, &y, &n1) == 0, "%s", g4_errmsg());
	CHECK(x && y && n == n1 && !memcmp(x, y, n * sizeof *x), "5 channels: %zu samples, mono %zu, differ", n, n1);
	free(x);
	free(y);
	free(five);
	free(mean);
	/* MP3, where this libsndfile has it (1.1+ with mpg123/lame) */
	SF_INFO mi = { .samplerate = 44100, .channels = 1, .format = SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III };
	const char *mp = t_tmp("t.mp3");
	if (sf_format_check(&mi) && write_wav(mp, 44100, 1, mi.format, tone, 44100) == 0) {
		CHECK(g4_audio_load(mp, 0, &x, &n) == 0, "%s", g4_errmsg());
		/* the encoder adds padding: about 1 s at 16 kHz */
		CHECK(n > 15000 && n < 18000, "mp3: %zu samples", n);
		free(x);
		unlink(mp);
	} else
		printf("  # MP3 not available in this libsndfile\n");
	/* max_samples keeps a prefix of exactly what the whole file gives */
	const char *cl[2] = { "audio/aud1-chirp-noise-16k-mono.wav", "audio/aud2-tones-44k1-stereo.wav" };
	for (int f = 0; f < 2; f++) {
		float *a, *b; size_t na, nb2;
		CHECK(g4_audio_load(t_data(cl[f]), 0, &a, &na) == 0, "%s", g4_errmsg());
		CHECK(g4_audio_load(t_data(cl[f]), 5000, &b, &nb2) == 0, "%s", g4_errmsg());
		CHECK(nb2 == 5000 && na > 5000, "%s: %zu and %zu samples", cl[f], na, nb2);
		CHECK(!memcmp(a, b, 5000 * sizeof *a), "%s: prefix differs", cl[f]);
		free(a); free(b);
	}
	/* cut at 30 s; split into pieces */
	CHECK(g4_audio_n_pieces(480001, 1) == 2 && g4_audio_piece_len(480001, 1, 1) == 1, "split");
	CHECK(g4_audio_n_pieces(480001, 0) == 1 && g4_audio_piece_len(480001, 0, 0) == 480000, "cut");
	CHECK(g4_audio_n_pieces(0, 1) == 1 && g4_audio_piece_len(0, 1, 0) == 0, "empty");
	/* a float WAV with a NaN sample is refused */
	st[777] = NAN;
	CHECK(write_wav(p, 16000, 2, SF_FORMAT_WAV | SF_FORMAT_FLOAT, st, 1000) == 0, "write");
	CHECK(g4_audio_load(p, 0, &x, &n) == -1, "NaN sample accepted");
	CHECK(strstr(g4_errmsg(), "finite") != NULL, "message: %s", g4_errmsg());
	unlink(p); unlink(fl); unlink(og);
}

static void test_bad_files(void)
{
	float *x = (float *)1; size_t n = 7;
	CHECK(g4_audio_load(t_tmp("does-not-exist.wav"), 0, &x, &n) == -1, "missing file accepted");
	CHECK(x == NULL && n == 0, "outputs not cleared");
	CHECK(strstr(g4_errmsg(), "does-not-exist.wav") != NULL, "message: %s", g4_errmsg());
	/* garbage bytes, a truncated RIFF header, a GGUF */
	const char *p = t_tmp("bad.wav");
	FILE *f = fopen(p, "wb");
	fputs("this is not audio at all, just text; no RIFF here\n", f);
	fclose(f);
	CHECK(g4_audio_load(p, 0, &x, &n) == -1, "text file accepted");
	size_t nb = 0; unsigned char *w = t_slurp(t_data("audio/aud1-chirp-noise-16k-mono.wav"), &nb);
	if (w) {
		size_t cuts[] = { 4, 12, 20, 30, 40 };
		for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
			f = fopen(p, "wb"); fwrite(w, 1, cuts[i], f); fclose(f);
			int rc = g4_audio_load(p, 0, &x, &n);
			CHECK(rc == -1, "WAV cut at %zu bytes accepted", cuts[i]);
			if (!rc) free(x);
		}
		/* a WAV whose data is cut short still decodes what is there */
		f = fopen(p, "wb"); fwrite(w, 1, 44 + 2 * 1000, f); fclose(f);
		CHECK(g4_audio_load(p, 0, &x, &n) == 0, "short data: %s", g4_errmsg());
		CHECK(n == 1000, "short data: %zu samples", n);
		free(x);
		/* absurd channel count in the header */
		memcpy(w + 22, "\xff\x7f", 2);
		f = fopen(p, "wb"); fwrite(w, 1, nb, f); fclose(f);
		CHECK(g4_audio_load(p, 0, &x, &n) == -1, "32767 channels accepted");
		free(w);
	}
	unlink(p);
}

/* damaged headers: every byte of the WAV header and the first data bytes
 * set to 0x00, 0xff and 0x80 in turn: an error or a clean decode, never a
 * crash or an absurd size */
static void test_header_flips(void)
{
	size_t nb; unsigned char *w = t_slurp(t_data("audio/aud2-tones-44k1-stereo.wav"), &nb);
	if (!w) return;
	const char *p = t_tmp("flip.wav");
	const unsigned char vals[3] = { 0x00, 0xff, 0x80 };
	int ok = 0, err = 0;
	for (size_t i = 0; i < 48; i++)
		for (int v = 0; v < 3; v++) {
			unsigned char keep = w[i];
			w[i] = vals[v];
			FILE *f = fopen(p, "wb");
			fwrite(w, 1, nb, f);
			fclose(f);
			w[i] = keep;
			float *x; size_t n;
			if (g4_audio_load(p, G4_AUDIO_MAX_SAMPLES, &x, &n) == 0) {
				ok++;
				CHECK(n <= G4_AUDIO_MAX_SAMPLES, "byte %zu = %02x: %zu samples", i, vals[v], n);
				for (size_t j = 0; j < n; j++)
					if (!isfinite(x[j])) { CHECK(0, "byte %zu: sample %zu not finite", i, j); break; }
				free(x);
			} else {
				err++;
				CHECK(strstr(g4_errmsg(), "flip.wav") != NULL, "message without the file: %s", g4_errmsg());
			}
		}
	printf("  # header flips: %d decoded, %d refused\n", ok, err);
	unlink(p);
	free(w);
}

int main(void)
{
	RUN(test_frames);
	RUN(test_bank);
	RUN(test_sine);
	RUN(test_silence);
	RUN(test_golden_mel);
	RUN(test_threads);
	RUN(test_resample);
	RUN(test_formats);
	RUN(test_bad_files);
	RUN(test_header_flips);
	return t_done();
}
