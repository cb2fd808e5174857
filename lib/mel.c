/* mel.c - log-mel features (see mel.h; spec gemma4-audio.md §2).
 *
 * Per frame i: buf[j] = w[j] * x[160 i - 160 + j] (float32 product, zero
 * for negative indices), j < 320, zero-padded to 512; X = rfft(buf) in
 * float32 (fftw3f); |X[k]| and the mel product sum_k |X[k]| W[k][m] in
 * double, then ln(mel + 0.001) rounded to float32. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <fftw3.h>

#include "err.h"
#include "mel.h"

#define NBIN (G4_MEL_NFFT / 2 + 1)	/* 257 */

static struct {
	float win[G4_MEL_WIN];
	double w[G4_MEL_BINS][NBIN];	/* filter m, bin k */
	int lo[G4_MEL_BINS], hi[G4_MEL_BINS];	/* non-zero bins: lo..hi-1 */
	fftwf_plan plan;
	int ready;
} M;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static double hz_to_mel(double f) { return 2595.0 * log10(1.0 + f / 700.0); }
static double mel_to_hz(double m) { return 700.0 * (pow(10.0, m / 2595.0) - 1.0); }

static void build_bank(void)
{
	double fp[G4_MEL_BINS + 2];
	double mhi = hz_to_mel(8000.0), mlo = hz_to_mel(0.0);
	for (int i = 0; i < G4_MEL_BINS + 2; i++)
		fp[i] = mel_to_hz(mlo + (mhi - mlo) * i / (G4_MEL_BINS + 1));
	for (int m = 0; m < G4_MEL_BINS; m++) {
		M.lo[m] = NBIN;
		M.hi[m] = 0;
		for (int k = 0; k < NBIN; k++) {
			double fk = k * (8000.0 / (NBIN - 1));
			double up = (fk - fp[m]) / (fp[m + 1] - fp[m]);
			double down = (fp[m + 2] - fk) / (fp[m + 2] - fp[m + 1]);
			double v = up < down ? up : down;
			M.w[m][k] = v > 0 ? v : 0;
			if (M.w[m][k] > 0) {
				if (k < M.lo[m]) M.lo[m] = k;
				M.hi[m] = k + 1;
			}
		}
		if (M.hi[m] == 0)
			M.lo[m] = 0;	/* filter 0 is empty */
	}
	for (int j = 0; j < G4_MEL_WIN; j++)
		M.win[j] = (float)(0.5 - 0.5 * cos(2.0 * M_PI * j / G4_MEL_WIN));
}

static int init(void)
{
	int rc = 0;
	pthread_mutex_lock(&lock);
	if (!M.ready) {
		build_bank();
		float *in = fftwf_malloc(G4_MEL_NFFT * sizeof *in);
		fftwf_complex *out = fftwf_malloc(NBIN * sizeof *out);
		if (in && out)
			M.plan = fftwf_plan_dft_r2c_1d(G4_MEL_NFFT, in, out, FFTW_ESTIMATE);
		fftwf_free(in);
		fftwf_free(out);
		if (M.plan)
			M.ready = 1;
		else
			rc = g4_err("log-mel: cannot make an FFT plan");
	}
	pthread_mutex_unlock(&lock);
	return rc;
}

double g4_mel_weight(int k, int m)
{
	if (init() || k < 0 || k >= NBIN || m < 0 || m >= G4_MEL_BINS)
		return 0;
	return M.w[m][k];
}

size_t g4_mel_frames(size_t n)
{
	return n > G4_MEL_HOP ? (n - 1) / G4_MEL_HOP : 0;
}

int g4_mel(const float *x, size_t n, float *out)
{
	if (init())
		return -1;
	size_t T = g4_mel_frames(n);
	int fail = 0;
	#pragma omp parallel if (T >= 32)
	{
		/* fftwf_malloc gives the alignment the plan was made for */
		float *buf = fftwf_malloc(G4_MEL_NFFT * sizeof *buf);
		fftwf_complex *X = fftwf_malloc(NBIN * sizeof *X);
		double mag[NBIN];
		if (!buf || !X) {
			#pragma omp atomic write
			fail = 1;
		}
		#pragma omp for schedule(static)
		for (size_t i = 0; i < T; i++) {
			if (!buf || !X)
				continue;
			long s0 = (long)(i * G4_MEL_HOP) - G4_MEL_HOP;
			for (int j = 0; j < G4_MEL_NFFT; j++) {
				long s = s0 + j;
				buf[j] = (j < G4_MEL_WIN && s >= 0) ? M.win[j] * x[s] : 0.0f;
			}
			fftwf_execute_dft_r2c(M.plan, buf, X);
			for (int k = 0; k < NBIN; k++) {
				double re = X[k][0], im = X[k][1];
				mag[k] = sqrt(re * re + im * im);
			}
			float *o = out + i * G4_MEL_BINS;
			for (int m = 0; m < G4_MEL_BINS; m++) {
				double s = 0;
				for (int k = M.lo[m]; k < M.hi[m]; k++)
					s += mag[k] * M.w[m][k];
				o[m] = (float)log(s + 1e-3);
			}
		}
		fftwf_free(buf);
		fftwf_free(X);
	}
	if (fail)
		return g4_err("log-mel: out of memory");
	return 0;
}
