/* mel.h - the Gemma 4 log-mel front end (spec gemma4-audio.md §2).
 *
 * 16 kHz mono float32 in, float32 [T][128] out, frame-major, exactly the
 * transformers feature extractor: 160 zeros prepended ("semicausal"),
 * 320-sample frames every 160 samples (a frame exists only if the sample
 * after it is real audio: T = floor((n - 1) / 160)), periodic Hann window of
 * 320, |FFT| of 512 points (fftw3f), 128 HTK mel filters over 0..8 kHz
 * without normalisation (float64), ln(mel + 0.001).  No dither, no
 * pre-emphasis, no per-bin normalisation.
 */
#ifndef G4_MEL_H
#define G4_MEL_H
#include <stddef.h>

#define G4_MEL_BINS 128
#define G4_MEL_HOP 160
#define G4_MEL_WIN 320
#define G4_MEL_NFFT 512

/* Frames of a clip of n samples: floor((n - 1) / 160), 0 for n <= 160. */
size_t g4_mel_frames(size_t n);

/* Log-mel features of x[0..n-1] into out[g4_mel_frames(n)][128].
 * OpenMP over frames; the result does not depend on the thread count.
 * -1 with a message on error (FFT plan, memory). */
int g4_mel(const float *x, size_t n, float *out);

/* The filter bank: weight of FFT bin k (0..256) in mel filter m (0..127),
 * float64 as transformers keeps it (for tests). */
double g4_mel_weight(int k, int m);

#endif
