/* requant.h - writing quantised GGUFs the way llama.cpp's tools do.
 *
 * GGUF -> GGUF (g4_requant) gives the file llama-quantize writes for the
 * same input, ftype, options and imatrix: the input metadata in input order
 * with general.quantization_version (u32 2) and then general.file_type
 * moved to the end, split.* keys removed, the quantize.imatrix.* keys
 * appended when an imatrix is used; tensors in llama-quantize's order
 * (qmix.h) with trimmed n_dims and the types qmix chooses; data quantised
 * with libg4's quantisers (bit-exact with ggml's); alignment 32.
 * (general.alignment is dropped: llama-quantize copies it but lays the file
 * out with 32.)
 *
 * The same machinery serves the HF converter (hfconv.h): tensors come from
 * a list of sources (g4_qsrc) whose bytes may be of another type than the
 * one the llama.cpp tool would have seen (a bf16 checkpoint tensor that the
 * converter would have stored as F32, say); rows are then converted through
 * that type, so the result is what the two-step llama.cpp pipeline gives.
 *
 * Streaming: sources are read one chunk of rows at a time, the pages of
 * mapped sources are released when done, so peak memory is a few chunks
 * (tens of MB), never the model.  Rows are converted and quantised in
 * parallel (OpenMP, g4_threads()); the bytes do not depend on the thread
 * count. */
#ifndef G4_REQUANT_H
#define G4_REQUANT_H
#include <stdint.h>
#include <stdio.h>

#include "gguf.h"
#include "imatrix.h"
#include "qmix.h"

/* Progress: tensor i of n (i == n at the end), input bytes done / total. */
typedef void (*g4_progress_fn)(void *ud, uint64_t i, uint64_t n, const char *name,
			       uint64_t bytes_done, uint64_t bytes_total);

typedef struct {
	g4_qmix_opts mix;		/* ftype, --pure, overrides; hparams are filled in from the file */
	int allow_requantize;		/* accept quantised input tensors */
	const g4_imatrix *imatrix;	/* or NULL */
	const char *imatrix_path;	/* written to quantize.imatrix.file */
	g4_progress_fn progress;	/* or NULL */
	void *progress_ud;
	const char *in_name;		/* names the input in its errors ("IN: tensor ..."); g4_requant: the GGUF's path */
	const char *out_name;		/* names the output in write errors (default "GGUF output") */
} g4_requant_opts;

/* One input tensor. */
typedef struct {
	const char *name;
	int64_t ne[4];		/* unused dims 1 */
	uint32_t type;		/* its type in the input file a llama.cpp tool would read */
	uint32_t src_type;	/* the type of the bytes at data (== type for a GGUF input) */
	const void *data;
	int mapped;		/* data lies in a read-only file mapping (pages may be released) */
} g4_qsrc;

void g4_requant_opts_init(g4_requant_opts *o, int ftype);

/* Reads the hyper-parameters qmix needs from GGUF metadata. */
int g4_requant_hparams(const g4_gguf *g, g4_qmix_opts *mix);

/* GGUF -> GGUF; out is a file opened by the caller, at offset 0. */
int g4_requant(const g4_gguf *in, FILE *out, const g4_requant_opts *o);

/* The general case: w holds the metadata of the (possibly virtual) input
 * file in its order; src its tensors in any order.  Applies llama-quantize's
 * metadata edits, order and types, and writes the file.  o->mix must have
 * its hparams set.  Frees nothing. */
int g4_requant_srcs(g4_ggufw *w, size_t n, const g4_qsrc *src, const g4_requant_opts *o, FILE *out);

/* Lower level: writes the tensors src[0..n-1] in this order with these types
 * after the metadata already in w (header, data, padding).  Used for
 * converter-style output where no mix rules apply.  A source is converted
 * (through its type) when types[i] differs from src[i].src_type. */
int g4_qwrite(g4_ggufw *w, size_t n, const g4_qsrc *src, const uint32_t *types,
	      const float *const *imatrix, const g4_requant_opts *o, FILE *out);

#endif
