/* imatrix.h - llama.cpp importance-matrix files, as llama-quantize reads them.
 *
 * Two formats (llama.cpp tools/imatrix, common/imatrix-loader.cpp):
 *  - GGUF: per weight NAME two F32 tensors NAME.in_sum2 (sums of squared
 *    activations, ne[0] x n_expert) and NAME.counts (one count per expert),
 *    keys imatrix.datasets (string array), imatrix.chunk_count and
 *    imatrix.chunk_size (u32); all three keys are required.  Value =
 *    sum / count per expert slice; a slice with count 0 is all 1.0.
 *  - legacy binary (.dat): i32 n_entries, then per entry i32 name length,
 *    the name, i32 ncall, i32 nval, nval f32; optionally i32 chunk count,
 *    i32 dataset-name length, the dataset name.  Value = sum / ncall (the
 *    sums as they are when ncall is 0).
 * Any non-finite value is an error (llama-quantize aborts on it). */
#ifndef G4_IMATRIX_H
#define G4_IMATRIX_H
#include <stddef.h>
#include <stdint.h>

typedef struct {
	char *name;
	float *val;
	int64_t n;
} g4_imatrix_entry;

typedef struct {
	g4_imatrix_entry *e;	/* sorted by name, names unique */
	size_t n;
	char *dataset;		/* first dataset name, or NULL */
	int32_t chunk_count;	/* 0 if unknown */
	int legacy;
} g4_imatrix;

g4_imatrix *g4_imatrix_load(const char *path);
g4_imatrix *g4_imatrix_load_mem(const void *buf, size_t n, const char *name);
void g4_imatrix_free(g4_imatrix *m);
/* The values for a tensor name, or NULL. */
const float *g4_imatrix_find(const g4_imatrix *m, const char *name, int64_t *n);

#endif
