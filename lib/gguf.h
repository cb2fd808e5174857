/* gguf.h - reading and writing GGUF files (versions 2 and 3).
 *
 * The reader maps the file and validates every count, string length, size
 * and offset against the file size before use; absurd sizes are refused
 * before anything is allocated.  Keys, strings and tensor data point into the
 * mapping, so nothing is copied and a second process on the same file starts
 * from the page cache.
 *
 *   g4_gguf *g = g4_gguf_open("model.gguf");
 *   if (!g) die(g4_errmsg());
 *   uint32_t n_layer;
 *   if (g4_gguf_get_u32(g, "gemma4.block_count", &n_layer)) ...
 *   const g4_gguf_tensor *t = g4_gguf_find_tensor(g, "token_embd.weight");
 *   t->data, t->type, t->ne[0], t->ne[1] ...
 *   g4_gguf_close(g);
 */
#ifndef G4_GGUF_H
#define G4_GGUF_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum g4_gguf_vtype {
	G4_GGUF_UINT8 = 0, G4_GGUF_INT8 = 1, G4_GGUF_UINT16 = 2, G4_GGUF_INT16 = 3,
	G4_GGUF_UINT32 = 4, G4_GGUF_INT32 = 5, G4_GGUF_FLOAT32 = 6, G4_GGUF_BOOL = 7,
	G4_GGUF_STRING = 8, G4_GGUF_ARRAY = 9, G4_GGUF_UINT64 = 10, G4_GGUF_INT64 = 11,
	G4_GGUF_FLOAT64 = 12,
	G4_GGUF_NTYPES
};

/* A string inside the mapping: not NUL-terminated. */
typedef struct {
	uint64_t len;
	const char *ptr;
} g4_str;

typedef struct {
	g4_str key;
	uint32_t type;		/* enum g4_gguf_vtype */
	uint32_t arr_type;	/* element type when type == ARRAY */
	uint64_t arr_n;		/* element count when type == ARRAY */
	const uint8_t *val;	/* the value's bytes (strings: the characters, after
				 * the u64 length; arrays: the first element, and
				 * string elements are u64 length + bytes) */
	uint64_t val_bytes;	/* bytes of the value (arrays: all elements) */
	uint64_t off;		/* file offset of the record (for error messages) */
} g4_gguf_kv;

typedef struct {
	g4_str name;
	uint32_t n_dims;
	int64_t ne[4];		/* ne[0] fastest; unused dims are 1 */
	uint32_t type;		/* ggml type id (qtypes.h) */
	uint64_t offset;	/* relative to the data section */
	uint64_t nbytes;	/* exact bytes of the data (no padding) */
	const void *data;	/* in the mapping */
} g4_gguf_tensor;

typedef struct g4_gguf {
	const uint8_t *map;	/* whole file */
	uint64_t size;
	uint32_t version;
	uint64_t n_kv, n_tensors;
	g4_gguf_kv *kv;
	g4_gguf_tensor *tensors;
	uint32_t alignment;	/* general.alignment or 32 */
	uint64_t data_off;	/* start of the data section */
	char *path;		/* for messages */
	int mapped;		/* 1 if map must be munmap'd */
} g4_gguf;

/* Opens and validates a file; NULL with a message on any error.  Tensor
 * types the library cannot compute with are still listed (see qtypes.h
 * g4_type_supported); unknown type ids are an error.  Refused, with the key
 * or tensor name and byte offset in the message: bad magic, versions other
 * than 2 and 3 (big-endian files recognised), more than 2^24 keys or
 * tensors or more than the file can hold, empty or duplicate keys, unknown
 * value types, arrays of arrays, anything running past the end of the file,
 * general.alignment not a u32 power of two, tensor names empty, longer than
 * 63 bytes or duplicate, n_dims > 4, dims <= 0, more than 2^62 elements or
 * bytes, rows not a multiple of the type's block, data offsets not aligned,
 * data past the end of the file or overlapping other tensors.  (llama.cpp
 * also insists on offsets that are exactly cumulative in tensor order; we
 * accept any aligned non-overlapping layout, and the final padding may be
 * missing.) */
g4_gguf *g4_gguf_open(const char *path);
/* The same over a buffer the caller keeps alive (tests, fuzzing). */
g4_gguf *g4_gguf_open_mem(const void *buf, size_t n, const char *name);
void g4_gguf_close(g4_gguf *g);

/* Index of a key, or -1. */
int64_t g4_gguf_find_key(const g4_gguf *g, const char *key);

/* Typed getters.  They return 0 on success, and -1 with a message naming the
 * key if it is missing, has another type, or does not fit.  Integer getters
 * accept any integer type (and bool) whose value fits; get_f32 accepts f32
 * and f64.  get_str points into the mapping. */
int g4_gguf_get_u32(const g4_gguf *g, const char *key, uint32_t *out);
int g4_gguf_get_i64(const g4_gguf *g, const char *key, int64_t *out);
int g4_gguf_get_f32(const g4_gguf *g, const char *key, float *out);
int g4_gguf_get_bool(const g4_gguf *g, const char *key, int *out);
int g4_gguf_get_str(const g4_gguf *g, const char *key, g4_str *out);

/* Arrays.  get_arr gives the element type, count and raw little-endian
 * elements of a numeric array.  arr_i64 / arr_f32 read element i of a numeric
 * (or bool) array with conversion.  get_str_arr fills a malloc'd array of
 * n g4_str pointing into the mapping (free it with free()). */
int g4_gguf_get_arr(const g4_gguf *g, const char *key, uint32_t *elem_type,
		    uint64_t *n, const void **data);
int64_t g4_gguf_arr_i64(uint32_t elem_type, const void *data, uint64_t i);
double g4_gguf_arr_f64(uint32_t elem_type, const void *data, uint64_t i);
int g4_gguf_get_str_arr(const g4_gguf *g, const char *key, g4_str **out, uint64_t *n);

/* A scalar key or a per-layer array: element `layer` of an array, or the
 * scalar itself (Gemma 4 stores feed_forward_length, head_count_kv, ... both
 * ways). */
int g4_gguf_get_layer_i64(const g4_gguf *g, const char *key, uint32_t layer, int64_t *out);

/* Tensor by name, or NULL (no message). */
const g4_gguf_tensor *g4_gguf_find_tensor(const g4_gguf *g, const char *name);

/* The model fingerprint: SHA-256 over the metadata records and the tensor
 * table (names, types, shapes, offsets), not the weight bytes.  The same
 * weights in another type give another fingerprint.  Exactly: SHA-256 of
 * "g4-model-fp-1", u64 n_kv, each key/value record's bytes as stored, u64
 * n_tensors, then per tensor u64 name length, the name, u64 type, the four
 * ne as u64 (missing dims 1) and u64 offset (all little-endian).  So the
 * GGUF version, the n_dims convention and the weight bytes do not count. */
void g4_gguf_fingerprint(const g4_gguf *g, uint8_t out[32]);

/* Size in bytes of one value of a scalar type; 0 for STRING/ARRAY/unknown. */
size_t g4_gguf_vtype_size(uint32_t t);
const char *g4_gguf_vtype_name(uint32_t t);

/* Prints metadata (arrays shortened) and the tensor table: name, type,
 * shape, bytes.  Used by g4quant --info. */
void g4_gguf_print_info(const g4_gguf *g, FILE *out);

/* ---- writing ----------------------------------------------------------
 *
 * The writer collects metadata and tensor descriptions, then streams: the
 * header (everything up to the data section) first, then each tensor's
 * bytes in the order they were added, so a file larger than RAM can be
 * written.  Offsets are cumulative and padded to the alignment exactly as
 * ggml's writer does; general.alignment is written as u32 when set.
 *
 *   g4_ggufw *w = g4_ggufw_new();
 *   g4_ggufw_set_u32(w, "gemma4.block_count", 35); ...
 *   g4_ggufw_add_tensor(w, "token_embd.weight", G4_Q8_0, 2, ne);  ...
 *   g4_ggufw_write_header(w, f);
 *   for each tensor: g4_ggufw_write_data(w, f, bytes, nbytes);
 *   g4_ggufw_finish(w, f); g4_ggufw_free(w);
 */
typedef struct g4_ggufw g4_ggufw;

g4_ggufw *g4_ggufw_new(void);
void g4_ggufw_free(g4_ggufw *w);
/* The output's name in write errors ("writing NAME: ..."; default "GGUF
 * output"); the writer keeps the pointer. */
void g4_ggufw_set_name(g4_ggufw *w, const char *name);
/* Keys keep the order of their first set; setting a key again replaces its
 * value in place. */
int g4_ggufw_set_u32(g4_ggufw *w, const char *key, uint32_t v);
int g4_ggufw_set_i32(g4_ggufw *w, const char *key, int32_t v);
int g4_ggufw_set_f32(g4_ggufw *w, const char *key, float v);
int g4_ggufw_set_bool(g4_ggufw *w, const char *key, int v);
int g4_ggufw_set_str(g4_ggufw *w, const char *key, const char *v);
/* Any scalar type (u8 ... f64, bool): v points to its little-endian bytes. */
int g4_ggufw_set_val(g4_ggufw *w, const char *key, uint32_t type, const void *v);
int g4_ggufw_set_arr(g4_ggufw *w, const char *key, uint32_t elem_type,
		     uint64_t n, const void *data);
int g4_ggufw_set_str_arr(g4_ggufw *w, const char *key, uint64_t n, const g4_str *v);
/* Copies a key/value record of an open file verbatim (any type). */
int g4_ggufw_copy_kv(g4_ggufw *w, const g4_gguf *g, uint64_t kv_index);
/* Moves the record of key to just after the record of `after` (NULL: to the
 * end, as llama.cpp's gguf_set_* does when it re-sets a key).  remove of a
 * key that is not set does nothing and returns 0. */
int g4_ggufw_move_after(g4_ggufw *w, const char *key, const char *after);
int g4_ggufw_remove(g4_ggufw *w, const char *key);

/* name: 1 to 63 bytes, unique; dims >= 1; ne[0] a multiple of the type's
 * block.  n_dims is written as given (llama.cpp's C writer drops trailing
 * dims of 1, its Python writer keeps the NumPy rank). */
int g4_ggufw_add_tensor(g4_ggufw *w, const char *name, uint32_t type,
			uint32_t n_dims, const int64_t *ne);
int g4_ggufw_write_header(g4_ggufw *w, FILE *f);
/* The next tensor's bytes followed by alignment padding.  May be called in
 * pieces: the padding follows the piece that completes the tensor, and a
 * piece that would run past its size is an error.  write_data_part is the
 * same with last=1 insisting that this piece completes the tensor. */
int g4_ggufw_write_data(g4_ggufw *w, FILE *f, const void *data, uint64_t nbytes);
int g4_ggufw_write_data_part(g4_ggufw *w, FILE *f, const void *data, uint64_t nbytes, int last);
int g4_ggufw_finish(g4_ggufw *w, FILE *f);

#endif
