/* safetensors.h - reading Hugging Face safetensors checkpoints (one file or
 * a sharded folder), for g4quant's HF -> GGUF converter.
 *
 * The file format:
 *
 *   u64 (little-endian)   N, the length of the JSON header
 *   N bytes               a JSON object, UTF-8, possibly padded with spaces:
 *       { "__metadata__": { "format": "pt", ... },          (ignored)
 *         "model.embed_tokens.weight":
 *             { "dtype": "BF16", "shape": [262144, 1536], "data_offsets": [0, 805306368] },
 *         ... }
 *   the data section      every tensor at [begin, end) relative to the first
 *                         byte after the header (8 + N), row-major (C order,
 *                         shape[0] slowest), little-endian
 *
 * Opening maps each file and checks everything before use: the header length
 * (at most 100 MB and inside the file), the JSON, each entry's dtype (known
 * name), shape (0 to 8 non-negative integer dims) and data_offsets (two
 * integers, begin <= end, inside the file, end - begin = product(shape) x
 * dtype size, no two tensors overlapping), and no name twice.  Errors say
 * what and where: "model-00002-of-00004.safetensors: tensor 'x': ...".
 *
 * A folder (g4_st_open_dir) is read like convert_hf_to_gguf.py does: with
 * model.safetensors.index.json, the shards are the distinct file names of its
 * "weight_map" (each tensor the map names must be in the shard it names);
 * without it, every model*.safetensors file.  Either way shards are taken in
 * sorted name order and, within a shard, tensors in sorted name order: that
 * is the order of g4_st_tensor_at(), the converter's tensor order.  A name
 * found in two shards is an error.
 *
 *   g4_st *st = g4_st_open_dir("gemma-4-e2b-it/");
 *   if (!st) die(g4_errmsg());
 *   const g4_st_tensor *t = g4_st_find(st, "model.language_model.norm.weight");
 *   float *row = malloc(t->shape[t->n_dims - 1] * sizeof *row);   (or use g4_st_row_len)
 *   g4_st_to_f32(t, 0, 1, row);
 *   g4_st_close(st);
 *
 * Shapes are in PyTorch order (shape[0] slowest); the GGUF ne of the same
 * tensor is the reverse: ne[0] = shape[n_dims - 1].
 */
#ifndef G4_SAFETENSORS_H
#define G4_SAFETENSORS_H
#include <stddef.h>
#include <stdint.h>

enum g4_st_dtype {
	G4_ST_F64, G4_ST_F32, G4_ST_F16, G4_ST_BF16,
	G4_ST_I64, G4_ST_I32, G4_ST_I16, G4_ST_I8,
	G4_ST_U64, G4_ST_U32, G4_ST_U16, G4_ST_U8, G4_ST_BOOL,
	G4_ST_F8_E4M3, G4_ST_F8_E5M2,
	G4_ST_NDTYPES
};

#define G4_ST_MAX_DIMS 8

typedef struct {
	const char *name;	/* NUL-terminated, owned by the g4_st */
	uint32_t dtype;		/* enum g4_st_dtype */
	uint32_t n_dims;	/* 0 (a scalar) to G4_ST_MAX_DIMS */
	int64_t shape[G4_ST_MAX_DIMS];	/* PyTorch order; unused dims are 1 */
	uint64_t numel;		/* product of the shape (1 for a scalar) */
	uint64_t nbytes;	/* numel x dtype size */
	const void *data;	/* in the mapping; not necessarily aligned */
	uint32_t shard;		/* index of the file it lives in (g4_st_shard_path) */
} g4_st_tensor;

typedef struct g4_st g4_st;

/* One .safetensors file. */
g4_st *g4_st_open(const char *path);
/* A checkpoint folder (see above), or a single file if path is a file. */
g4_st *g4_st_open_dir(const char *path);
/* One file's bytes held by the caller (tests, fuzzing). */
g4_st *g4_st_open_mem(const void *buf, size_t n, const char *name);
void g4_st_close(g4_st *st);

/* Tensors in converter order (shards sorted, names sorted in a shard). */
size_t g4_st_count(const g4_st *st);
const g4_st_tensor *g4_st_tensor_at(const g4_st *st, size_t i);
/* Tensor by name, or NULL (no message). */
const g4_st_tensor *g4_st_find(const g4_st *st, const char *name);
size_t g4_st_shard_count(const g4_st *st);
const char *g4_st_shard_path(const g4_st *st, size_t i);

/* "F32", "BF16", ... as safetensors spells them; NULL if out of range. */
const char *g4_st_dtype_name(uint32_t dt);
/* The dtype of a name (exact, as in headers), or -1. */
int g4_st_dtype_from_name(const char *name);
size_t g4_st_dtype_size(uint32_t dt);

/* Length of a row (the last, fastest dimension; 1 for a scalar) and the
 * number of rows (numel / row length; 0 for an empty tensor). */
int64_t g4_st_row_len(const g4_st_tensor *t);
int64_t g4_st_n_rows(const g4_st_tensor *t);

/* Converts rows [row0, row0 + n) to f32 (n x row_len values into dst).
 * Floats are converted exactly (F64 rounded to nearest), integers and BOOL
 * by value, F8_E4M3 (the "fn" variant: no infinities) and F8_E5M2 exactly.
 * -1 with a message if the rows are out of range. */
int g4_st_to_f32(const g4_st_tensor *t, int64_t row0, int64_t n, float *dst);

#endif
