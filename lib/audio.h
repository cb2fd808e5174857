/* audio.h - audio files to the encoder's input: mono float32 at 16 kHz.
 *
 * Files are decoded with libsndfile (WAV, FLAC, OGG/Vorbis, Opus, MP3 and
 * whatever else the installed library reads), integer PCM scaled to [-1, 1)
 * (int16 k -> k/32768), mixed to mono by the arithmetic mean of the channels
 * and resampled to 16 kHz with libsoxr (high quality, linear phase, one
 * thread, so the samples never depend on -t), chunk by chunk: memory holds
 * only the 16 kHz result.
 *
 *   float *x; size_t n;
 *   if (g4_audio_load("clip.flac", G4_AUDIO_MAX_SAMPLES, &x, &n)) die(...);
 *
 * The encoder sees at most G4_AUDIO_MAX_SAMPLES (30 s) per clip: the
 * transformers reference keeps the first 30 s; g4_audio_pieces() cuts
 * longer audio into 30 s pieces instead (llama.cpp's behaviour).
 */
#ifndef G4_AUDIO_H
#define G4_AUDIO_H
#include <stddef.h>

#define G4_AUDIO_RATE 16000
#define G4_AUDIO_MAX_SAMPLES 480000	/* 30 s at 16 kHz */
/* Longest audio load() accepts at all (1 hour at 16 kHz: 90 000 soft
 * tokens, within one stream block even at E4B's width). */
#define G4_AUDIO_LIMIT_SAMPLES ((size_t)3600 * G4_AUDIO_RATE)

/* Decodes a file to mono 16 kHz float32 (malloc'd *x, *n samples; *n may be
 * 0 for an empty file).  max_samples > 0 keeps only the first max_samples
 * output samples and decodes little more input than that needs; 0 means the
 * whole file (up to G4_AUDIO_LIMIT_SAMPLES, longer is an error).  -1 with a message
 * naming the file on any error (unreadable, not audio, absurd header). */
int g4_audio_load(const char *path, size_t max_samples, float **x, size_t *n);

/* Arithmetic mean of the channels: frames interleaved frames of ch values
 * -> mono (mean computed in double, rounded once). */
void g4_audio_mixdown(const float *in, size_t frames, int ch, float *mono);

/* Resamples mono float32 from rate_in to G4_AUDIO_RATE with libsoxr HQ.
 * *out is malloc'd, *n_out = round(n * 16000 / rate_in).  rate_in == 16000
 * copies.  -1 with a message on error. */
int g4_audio_resample(const float *in, size_t n, double rate_in, float **out, size_t *n_out);

/* The pieces a clip of n samples is encoded as: split = 0 gives one piece of
 * min(n, 30 s); split = 1 gives ceil(n / 30 s) pieces of 30 s (the last one
 * shorter).  Returns the number of pieces; piece i starts at
 * i * G4_AUDIO_MAX_SAMPLES and has g4_audio_piece_len(n, split, i) samples. */
size_t g4_audio_n_pieces(size_t n, int split);
size_t g4_audio_piece_len(size_t n, int split, size_t i);

#endif
