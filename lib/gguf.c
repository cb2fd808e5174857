/* gguf.c - GGUF reader and streaming writer (see gguf.h).
 *
 * File layout (GGUF v2 and v3 are the same; all little-endian):
 *
 *   "GGUF"  u32 version  u64 n_tensors  u64 n_kv
 *   n_kv records:      string key, u32 type, value
 *                      (string = u64 length + bytes, no NUL;
 *                       array  = u32 element type, u64 count, elements)
 *   n_tensors infos:   string name, u32 n_dims, i64 ne[n_dims], u32 type,
 *                      u64 offset (relative to the data section)
 *   zero padding to the alignment (general.alignment, u32, else 32)
 *   tensor data, each tensor padded to the alignment
 *
 * The reader checks every count, length and offset against the bytes left
 * in the file before using it, so truncated or hostile files fail with a
 * message and never read outside the mapping.  Counts are capped at 2^24
 * keys and 2^24 tensors and at what the file could hold, before anything
 * is allocated.  Tensor data must be aligned, inside the file and must not
 * overlap (llama.cpp further insists on offsets that are exactly cumulative
 * in tensor-info order; every file written by llama.cpp or by us is).
 *
 * The writer keeps metadata records as encoded bytes and tensor infos in
 * memory, writes the header in one go, then streams tensor data: offsets are
 * the running sum of the padded sizes, as in both upstream writers, so
 * reading a file and writing every record and tensor back in order
 * reproduces it byte for byte.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "fileio.h"
#include "gguf.h"
#include "qtypes.h"
#include "sha256.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "g4 reads and writes GGUF on little-endian hosts only"
#endif

#define MAX_KV		(1u << 24)
#define MAX_TENSORS	(1u << 24)
#define MAX_NAME	63	/* llama.cpp: GGML_MAX_NAME - 1 */
#define DEFAULT_ALIGN	32

typedef unsigned long long ull;

/* ---- small helpers ---------------------------------------------------- */

static uint16_t ld16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static uint32_t ld32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t ld64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

static uint64_t pad_to(uint64_t x, uint64_t a) { return (x + a - 1) & ~(a - 1); }

static const char *const vtype_names[G4_GGUF_NTYPES] = {
	"u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool",
	"string", "array", "u64", "i64", "f64",
};
static const uint8_t vtype_sizes[G4_GGUF_NTYPES] = {
	1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8,
};

size_t g4_gguf_vtype_size(uint32_t t)
{
	return t < G4_GGUF_NTYPES ? vtype_sizes[t] : 0;
}

const char *g4_gguf_vtype_name(uint32_t t)
{
	return t < G4_GGUF_NTYPES ? vtype_names[t] : "unknown";
}

static int is_int_type(uint32_t t)
{
	return t <= G4_GGUF_INT32 || t == G4_GGUF_BOOL || t == G4_GGUF_UINT64 ||
	       t == G4_GGUF_INT64;
}

/* A name or key for a message: at most 80 bytes, non-printables as '?'. */
static const char *show(const char *p, uint64_t n, char buf[96])
{
	uint64_t k = n > 80 ? 77 : n;
	for (uint64_t i = 0; i < k; i++)
		buf[i] = (p[i] >= 0x20 && p[i] < 0x7f) ? p[i] : '?';
	if (k < n)
		memcpy(buf + k, "...", 3), k += 3;
	buf[k] = 0;
	return buf;
}

static uint64_t hash_bytes(const char *p, uint64_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;	/* FNV-1a */
	for (uint64_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)p[i]) * 0x100000001b3ull;
	return h;
}

/* Open-addressing table of indices (stored +1) into an array of g4_str. */
typedef struct {
	uint32_t *slot;
	uint64_t mask;
} strtab;

static int tab_init(strtab *t, uint64_t n)
{
	uint64_t cap = 16;
	while (cap < 2 * n)
		cap <<= 1;
	t->slot = calloc(cap, sizeof *t->slot);
	t->mask = cap - 1;
	return t->slot ? 0 : g4_err("out of memory");
}

/* Index of the string equal to (p, n), or -1; with ins >= 0 inserts ins
 * when absent. */
static int64_t tab_find(strtab *t, const g4_str *names, size_t stride,
			const char *p, uint64_t n, int64_t ins)
{
	if (!t->slot)
		return -1;
	for (uint64_t h = hash_bytes(p, n) & t->mask;; h = (h + 1) & t->mask) {
		uint32_t s = t->slot[h];
		if (!s) {
			if (ins >= 0)
				t->slot[h] = (uint32_t)ins + 1;
			return -1;
		}
		const g4_str *q = (const g4_str *)((const char *)names + (size_t)(s - 1) * stride);
		if (q->len == n && !memcmp(q->ptr, p, n))
			return s - 1;
	}
}

/* ---- reader ------------------------------------------------------------ */

typedef struct {
	g4_gguf pub;
	strtab keys, tens;
} gguf_full;

typedef struct {
	const uint8_t *b;
	uint64_t n, at;
} rd;

static uint64_t left(const rd *r) { return r->n - r->at; }

/* Reads a string (u64 length + bytes) at the cursor. */
static int rd_str(rd *r, g4_str *s, const char *what)
{
	if (left(r) < 8)
		return g4_err("%s: length at byte %llu runs past the end of the file",
			      what, (ull)r->at);
	uint64_t len = ld64(r->b + r->at);
	if (len > left(r) - 8)
		return g4_err("%s: string of %llu bytes at byte %llu runs past the end of the file (%llu bytes)",
			      what, (ull)len, (ull)r->at, (ull)r->n);
	s->len = len;
	s->ptr = (const char *)r->b + r->at + 8;
	r->at += 8 + len;
	return 0;
}

static int rd_u32(rd *r, uint32_t *v, const char *what)
{
	if (left(r) < 4)
		return g4_err("%s at byte %llu runs past the end of the file", what, (ull)r->at);
	*v = ld32(r->b + r->at);
	r->at += 4;
	return 0;
}

static int rd_u64(rd *r, uint64_t *v, const char *what)
{
	if (left(r) < 8)
		return g4_err("%s at byte %llu runs past the end of the file", what, (ull)r->at);
	*v = ld64(r->b + r->at);
	r->at += 8;
	return 0;
}

static int read_kv(rd *r, g4_gguf_kv *kv, uint64_t i)
{
	char ctx[160], nb[96];
	kv->off = r->at;
	snprintf(ctx, sizeof ctx, "key %llu (record at byte %llu)", (ull)i, (ull)r->at);
	if (rd_str(r, &kv->key, ctx))
		return -1;
	if (kv->key.len == 0)
		return g4_err("%s: empty key", ctx);
	snprintf(ctx, sizeof ctx, "key '%s' (record at byte %llu)",
		 show(kv->key.ptr, kv->key.len, nb), (ull)kv->off);
	if (rd_u32(r, &kv->type, "value type"))
		return g4_err_ctx("%s: ", ctx);
	if (kv->type >= G4_GGUF_NTYPES)
		return g4_err("%s: unknown value type %u", ctx, kv->type);
	kv->arr_type = 0;
	kv->arr_n = 0;
	if (kv->type == G4_GGUF_STRING) {
		g4_str s;
		if (rd_str(r, &s, ctx))
			return -1;
		kv->val = (const uint8_t *)s.ptr;
		kv->val_bytes = s.len;
		return 0;
	}
	if (kv->type != G4_GGUF_ARRAY) {
		uint64_t sz = vtype_sizes[kv->type];
		if (left(r) < sz)
			return g4_err("%s: %s value at byte %llu runs past the end of the file",
				      ctx, vtype_names[kv->type], (ull)r->at);
		kv->val = r->b + r->at;
		kv->val_bytes = sz;
		r->at += sz;
		return 0;
	}
	if (rd_u32(r, &kv->arr_type, "array element type") ||
	    rd_u64(r, &kv->arr_n, "array element count"))
		return g4_err_ctx("%s: ", ctx);
	if (kv->arr_type == G4_GGUF_ARRAY)
		return g4_err("%s: arrays of arrays are not supported", ctx);
	if (kv->arr_type >= G4_GGUF_NTYPES)
		return g4_err("%s: array of unknown element type %u", ctx, kv->arr_type);
	kv->val = r->b + r->at;
	if (kv->arr_type == G4_GGUF_STRING) {
		if (kv->arr_n > left(r) / 8)
			return g4_err("%s: array of %llu strings cannot fit in the %llu bytes left in the file",
				      ctx, (ull)kv->arr_n, (ull)left(r));
		uint64_t start = r->at;
		for (uint64_t j = 0; j < kv->arr_n; j++) {
			g4_str s;
			char ectx[200];
			snprintf(ectx, sizeof ectx, "%s: element %llu", ctx, (ull)j);
			if (rd_str(r, &s, ectx))
				return -1;
		}
		kv->val_bytes = r->at - start;
		return 0;
	}
	uint64_t sz = vtype_sizes[kv->arr_type];
	if (kv->arr_n > left(r) / sz)
		return g4_err("%s: array of %llu %s values runs past the end of the file (%llu bytes left)",
			      ctx, (ull)kv->arr_n, vtype_names[kv->arr_type], (ull)left(r));
	kv->val_bytes = kv->arr_n * sz;
	r->at += kv->val_bytes;
	return 0;
}

static int read_tensor_info(rd *r, g4_gguf_tensor *t, uint64_t i)
{
	char ctx[160], nb[96];
	uint64_t at = r->at;
	snprintf(ctx, sizeof ctx, "tensor %llu (info at byte %llu)", (ull)i, (ull)at);
	if (rd_str(r, &t->name, ctx))
		return -1;
	if (t->name.len == 0)
		return g4_err("%s: empty name", ctx);
	snprintf(ctx, sizeof ctx, "tensor '%s' (info at byte %llu)",
		 show(t->name.ptr, t->name.len, nb), (ull)at);
	if (t->name.len > MAX_NAME)
		return g4_err("%s: name of %llu bytes is longer than %d", ctx,
			      (ull)t->name.len, MAX_NAME);
	if (rd_u32(r, &t->n_dims, "n_dims"))
		return g4_err_ctx("%s: ", ctx);
	if (t->n_dims > 4)
		return g4_err("%s: %u dimensions (at most 4)", ctx, t->n_dims);
	for (int d = 0; d < 4; d++)
		t->ne[d] = 1;
	for (uint32_t d = 0; d < t->n_dims; d++) {
		uint64_t v = 0;
		if (rd_u64(r, &v, "dimension"))
			return g4_err_ctx("%s: ", ctx);
		if (v == 0 || v > (uint64_t)INT64_MAX)
			return g4_err("%s: dimension %u is %lld", ctx, d, (long long)v);
		t->ne[d] = (int64_t)v;
	}
	if (rd_u32(r, &t->type, "type") || rd_u64(r, &t->offset, "offset"))
		return g4_err_ctx("%s: ", ctx);
	if (!g4_type_name(t->type) || !g4_type_block(t->type))
		return g4_err("%s: unknown tensor type id %u", ctx, t->type);
	unsigned __int128 elems = 1;
	for (int d = 0; d < 4; d++) {
		elems *= (uint64_t)t->ne[d];
		if (elems > ((unsigned __int128)1 << 62))
			return g4_err("%s: element count overflows", ctx);
	}
	if (g4_tensor_bytes(t->type, t->ne, &t->nbytes))
		return g4_err_ctx("%s: ", ctx);
	return 0;
}

static int cmp_off(const void *a, const void *b, void *ctx)
{
	const g4_gguf_tensor *t = ctx;
	uint64_t x = t[*(const uint32_t *)a].offset, y = t[*(const uint32_t *)b].offset;
	return x < y ? -1 : x > y;
}

static int check_data(g4_gguf *g)
{
	char nb[96];
	uint64_t room = g->size - g->data_off;
	int in_order = 1;
	for (uint64_t i = 0; i < g->n_tensors; i++) {
		g4_gguf_tensor *t = &g->tensors[i];
		const char *nm = show(t->name.ptr, t->name.len, nb);
		if (t->offset % g->alignment)
			return g4_err("tensor '%s': data offset %llu is not a multiple of the alignment %u",
				      nm, (ull)t->offset, g->alignment);
		if (t->offset > room || t->nbytes > room - t->offset)
			return g4_err("tensor '%s': data [%llu, %llu) of the data section at byte %llu runs past the end of the file (%llu bytes)",
				      nm, (ull)t->offset, (ull)t->offset + t->nbytes,
				      (ull)g->data_off, (ull)g->size);
		t->data = g->map + g->data_off + t->offset;
		if (i && t->offset < g->tensors[i - 1].offset + g->tensors[i - 1].nbytes)
			in_order = 0;
	}
	if (in_order)
		return 0;
	/* Offsets out of order: sort an index to find overlaps. */
	uint32_t *ix = malloc(g->n_tensors * sizeof *ix);
	if (!ix)
		return g4_err("out of memory");
	for (uint64_t i = 0; i < g->n_tensors; i++)
		ix[i] = (uint32_t)i;
	qsort_r(ix, g->n_tensors, sizeof *ix, cmp_off, g->tensors);
	for (uint64_t i = 1; i < g->n_tensors; i++) {
		const g4_gguf_tensor *a = &g->tensors[ix[i - 1]], *b = &g->tensors[ix[i]];
		if (b->offset < a->offset + a->nbytes) {
			char nb2[96];
			g4_err("tensor '%s': data at offset %llu overlaps tensor '%s' [%llu, %llu)",
			       show(b->name.ptr, b->name.len, nb), (ull)b->offset,
			       show(a->name.ptr, a->name.len, nb2), (ull)a->offset,
			       (ull)(a->offset + a->nbytes));
			free(ix);
			return -1;
		}
	}
	free(ix);
	return 0;
}

static int parse(gguf_full *gf)
{
	g4_gguf *g = &gf->pub;
	rd r = { g->map, g->size, 0 };
	char nb[96];

	if (g->size < 4 || memcmp(g->map, "GGUF", 4))
		return g4_err("not a GGUF file (bad magic)");
	if (g->size < 24)
		return g4_err("truncated header (%llu bytes, need 24)", (ull)g->size);
	g->version = ld32(g->map + 4);
	if (g->version == 1)
		return g4_err("GGUF version 1 is no longer supported");
	if (g->version && !(g->version & 0xffff))
		return g4_err("GGUF version %#x: a big-endian file? only little-endian is supported",
			      g->version);
	if (g->version < 2 || g->version > 3)
		return g4_err("unsupported GGUF version %u (2 and 3 are supported)", g->version);
	g->n_tensors = ld64(g->map + 8);
	g->n_kv = ld64(g->map + 16);
	r.at = 24;
	/* A record takes at least 13 bytes (key), a tensor info at least 25. */
	if (g->n_kv > MAX_KV)
		return g4_err("absurd key count %llu (at most %u)", (ull)g->n_kv, MAX_KV);
	if (g->n_tensors > MAX_TENSORS)
		return g4_err("absurd tensor count %llu (at most %u)", (ull)g->n_tensors, MAX_TENSORS);
	if (g->n_kv > left(&r) / 13 || g->n_tensors > (left(&r) - 13 * g->n_kv) / 25)
		return g4_err("%llu keys and %llu tensors cannot fit in a file of %llu bytes (truncated?)",
			      (ull)g->n_kv, (ull)g->n_tensors, (ull)g->size);
	g->kv = calloc(g->n_kv ? g->n_kv : 1, sizeof *g->kv);
	g->tensors = calloc(g->n_tensors ? g->n_tensors : 1, sizeof *g->tensors);
	if (!g->kv || !g->tensors || tab_init(&gf->keys, g->n_kv) ||
	    tab_init(&gf->tens, g->n_tensors))
		return g4_err("out of memory");

	for (uint64_t i = 0; i < g->n_kv; i++) {
		g4_gguf_kv *kv = &g->kv[i];
		if (read_kv(&r, kv, i))
			return -1;
		int64_t j = tab_find(&gf->keys, &g->kv[0].key, sizeof *kv,
				     kv->key.ptr, kv->key.len, (int64_t)i);
		if (j >= 0)
			return g4_err("key '%s' (record at byte %llu): duplicate of the record at byte %llu",
				      show(kv->key.ptr, kv->key.len, nb), (ull)kv->off,
				      (ull)g->kv[j].off);
	}

	g->alignment = DEFAULT_ALIGN;
	int64_t a = g4_gguf_find_key(g, "general.alignment");
	if (a >= 0) {
		const g4_gguf_kv *kv = &g->kv[a];
		if (kv->type != G4_GGUF_UINT32)
			return g4_err("key 'general.alignment' (record at byte %llu) has type %s, must be u32",
				      (ull)kv->off, vtype_names[kv->type]);
		uint32_t v = ld32(kv->val);
		if (v == 0 || (v & (v - 1)))
			return g4_err("key 'general.alignment' (record at byte %llu): %u is not a power of two",
				      (ull)kv->off, v);
		g->alignment = v;
	}

	for (uint64_t i = 0; i < g->n_tensors; i++) {
		g4_gguf_tensor *t = &g->tensors[i];
		uint64_t at = r.at;
		if (read_tensor_info(&r, t, i))
			return -1;
		int64_t j = tab_find(&gf->tens, &g->tensors[0].name, sizeof *t,
				     t->name.ptr, t->name.len, (int64_t)i);
		if (j >= 0)
			return g4_err("tensor '%s' (info at byte %llu): duplicate name (tensor %lld)",
				      show(t->name.ptr, t->name.len, nb), (ull)at, (long long)j);
	}

	g->data_off = pad_to(r.at, g->alignment);
	if (g->n_tensors == 0)
		return 0;
	if (g->data_off > g->size)
		return g4_err("data section at byte %llu starts past the end of the file (%llu bytes)",
			      (ull)g->data_off, (ull)g->size);
	return check_data(g);
}

static g4_gguf *open_common(gguf_full *gf, const char *name)
{
	gf->pub.path = strdup(name ? name : "<memory>");
	if (!gf->pub.path) {
		g4_err("out of memory");
		g4_gguf_close(&gf->pub);
		return NULL;
	}
	if (parse(gf)) {
		g4_err_ctx("%s: ", gf->pub.path);
		g4_gguf_close(&gf->pub);
		return NULL;
	}
	return &gf->pub;
}

g4_gguf *g4_gguf_open_mem(const void *buf, size_t n, const char *name)
{
	gguf_full *gf = calloc(1, sizeof *gf);
	if (!gf) {
		g4_err("out of memory");
		return NULL;
	}
	gf->pub.map = buf;
	gf->pub.size = n;
	return open_common(gf, name);
}

g4_gguf *g4_gguf_open(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		g4_err_sys("cannot open %s", path);
		return NULL;
	}
	struct stat st;
	if (fstat(fd, &st) != 0) {
		g4_err_sys("cannot stat %s", path);
		close(fd);
		return NULL;
	}
	if (!S_ISREG(st.st_mode)) {
		g4_err("%s: not a regular file (a GGUF file is mapped, not streamed)", path);
		close(fd);
		return NULL;
	}
	if (st.st_size < 24) {
		char b[4] = { 0 };
		ssize_t got = read(fd, b, sizeof b);
		close(fd);
		if (got == 4 && !memcmp(b, "GGUF", 4))
			g4_err("%s: truncated header (%lld bytes, need 24)", path, (long long)st.st_size);
		else
			g4_err("%s: not a GGUF file (bad magic)", path);
		return NULL;
	}
	void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (m == MAP_FAILED) {
		g4_err_sys("cannot map %s", path);
		return NULL;
	}
	gguf_full *gf = calloc(1, sizeof *gf);
	if (!gf) {
		munmap(m, (size_t)st.st_size);
		g4_err("out of memory");
		return NULL;
	}
	gf->pub.map = m;
	gf->pub.size = (uint64_t)st.st_size;
	gf->pub.mapped = 1;
	return open_common(gf, path);
}

void g4_gguf_close(g4_gguf *g)
{
	if (!g)
		return;
	gguf_full *gf = (gguf_full *)g;
	if (g->mapped)
		munmap((void *)g->map, g->size);
	free(g->kv);
	free(g->tensors);
	free(g->path);
	free(gf->keys.slot);
	free(gf->tens.slot);
	free(gf);
}

int64_t g4_gguf_find_key(const g4_gguf *g, const char *key)
{
	gguf_full *gf = (gguf_full *)g;
	if (!g->n_kv)
		return -1;
	return tab_find(&gf->keys, &g->kv[0].key, sizeof g->kv[0], key, strlen(key), -1);
}

const g4_gguf_tensor *g4_gguf_find_tensor(const g4_gguf *g, const char *name)
{
	gguf_full *gf = (gguf_full *)g;
	if (!g->n_tensors)
		return NULL;
	int64_t i = tab_find(&gf->tens, &g->tensors[0].name, sizeof g->tensors[0],
			     name, strlen(name), -1);
	return i < 0 ? NULL : &g->tensors[i];
}

/* ---- getters ----------------------------------------------------------- */

/* Element of a numeric array (or scalar value) as an exact integer; 0 on
 * success, -1 if it is not an integer type. */
static int load_int(uint32_t t, const uint8_t *p, int64_t *i, uint64_t *u, int *neg)
{
	*neg = 0;
	switch (t) {
	case G4_GGUF_UINT8: case G4_GGUF_BOOL: *u = p[0]; break;
	case G4_GGUF_INT8: *i = (int8_t)p[0]; goto sgn;
	case G4_GGUF_UINT16: *u = ld16(p); break;
	case G4_GGUF_INT16: *i = (int16_t)ld16(p); goto sgn;
	case G4_GGUF_UINT32: *u = ld32(p); break;
	case G4_GGUF_INT32: *i = (int32_t)ld32(p); goto sgn;
	case G4_GGUF_UINT64: *u = ld64(p); break;
	case G4_GGUF_INT64: *i = (int64_t)ld64(p); goto sgn;
	default: return -1;
	}
	*i = *u > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)*u;
	return 0;
sgn:
	*neg = *i < 0;
	*u = *neg ? 0 : (uint64_t)*i;
	return 0;
}

static double load_f64(uint32_t t, const uint8_t *p)
{
	int64_t i; uint64_t u; int neg;
	if (t == G4_GGUF_FLOAT32) { float f; memcpy(&f, p, 4); return f; }
	if (t == G4_GGUF_FLOAT64) { double d; memcpy(&d, p, 8); return d; }
	if (load_int(t, p, &i, &u, &neg))
		return 0;
	return neg ? (double)i : (double)u;
}

static const g4_gguf_kv *need_key(const g4_gguf *g, const char *key)
{
	int64_t i = g4_gguf_find_key(g, key);
	if (i < 0) {
		g4_err("%s: key '%s' is missing", g->path, key);
		return NULL;
	}
	return &g->kv[i];
}

static int wrong_type(const g4_gguf *g, const g4_gguf_kv *kv, const char *want)
{
	if (kv->type == G4_GGUF_ARRAY)
		return g4_err("%s: key '%.*s' is an array of %s, not %s", g->path,
			      (int)kv->key.len, kv->key.ptr, vtype_names[kv->arr_type], want);
	return g4_err("%s: key '%.*s' has type %s, not %s", g->path,
		      (int)kv->key.len, kv->key.ptr, vtype_names[kv->type], want);
}

static int get_int(const g4_gguf *g, const char *key, int64_t lo, uint64_t hi, int64_t *out)
{
	const g4_gguf_kv *kv = need_key(g, key);
	int64_t i; uint64_t u; int neg;
	if (!kv)
		return -1;
	if (!is_int_type(kv->type) || load_int(kv->type, kv->val, &i, &u, &neg))
		return wrong_type(g, kv, "an integer");
	if ((neg && i < lo) || (!neg && u > hi))
		return neg ? g4_err("%s: key '%s' = %lld is out of range", g->path, key, (long long)i)
			   : g4_err("%s: key '%s' = %llu is out of range", g->path, key, (ull)u);
	*out = neg ? i : (int64_t)u;
	return 0;
}

int g4_gguf_get_u32(const g4_gguf *g, const char *key, uint32_t *out)
{
	int64_t v;
	if (get_int(g, key, 0, UINT32_MAX, &v))
		return -1;
	*out = (uint32_t)v;
	return 0;
}

int g4_gguf_get_i64(const g4_gguf *g, const char *key, int64_t *out)
{
	return get_int(g, key, INT64_MIN, INT64_MAX, out);
}

int g4_gguf_get_f32(const g4_gguf *g, const char *key, float *out)
{
	const g4_gguf_kv *kv = need_key(g, key);
	if (!kv)
		return -1;
	if (kv->type != G4_GGUF_FLOAT32 && kv->type != G4_GGUF_FLOAT64)
		return wrong_type(g, kv, "a float");
	*out = (float)load_f64(kv->type, kv->val);
	return 0;
}

int g4_gguf_get_bool(const g4_gguf *g, const char *key, int *out)
{
	int64_t v;
	if (get_int(g, key, 0, 1, &v)) {
		const g4_gguf_kv *kv = need_key(g, key);
		if (kv && kv->type == G4_GGUF_BOOL) {	/* any non-zero byte is true */
			*out = 1;
			return 0;
		}
		return -1;
	}
	*out = (int)v;
	return 0;
}

int g4_gguf_get_str(const g4_gguf *g, const char *key, g4_str *out)
{
	const g4_gguf_kv *kv = need_key(g, key);
	if (!kv)
		return -1;
	if (kv->type != G4_GGUF_STRING)
		return wrong_type(g, kv, "a string");
	out->ptr = (const char *)kv->val;
	out->len = kv->val_bytes;
	return 0;
}

int g4_gguf_get_arr(const g4_gguf *g, const char *key, uint32_t *elem_type,
		    uint64_t *n, const void **data)
{
	const g4_gguf_kv *kv = need_key(g, key);
	if (!kv)
		return -1;
	if (kv->type != G4_GGUF_ARRAY)
		return g4_err("%s: key '%s' has type %s, not an array", g->path, key,
			      vtype_names[kv->type]);
	if (kv->arr_type == G4_GGUF_STRING)
		return g4_err("%s: key '%s' is an array of strings, not of numbers", g->path, key);
	*elem_type = kv->arr_type;
	*n = kv->arr_n;
	*data = kv->val;
	return 0;
}

int64_t g4_gguf_arr_i64(uint32_t elem_type, const void *data, uint64_t i)
{
	size_t sz = g4_gguf_vtype_size(elem_type);
	const uint8_t *p = (const uint8_t *)data + i * sz;
	int64_t v; uint64_t u; int neg;
	if (elem_type == G4_GGUF_FLOAT32 || elem_type == G4_GGUF_FLOAT64) {
		double d = load_f64(elem_type, p);
		if (!(d > -9.2e18))	/* also NaN */
			return d < 0 ? INT64_MIN : 0;
		return d < 9.2e18 ? (int64_t)d : INT64_MAX;
	}
	if (!sz || load_int(elem_type, p, &v, &u, &neg))
		return 0;
	return v;
}

double g4_gguf_arr_f64(uint32_t elem_type, const void *data, uint64_t i)
{
	size_t sz = g4_gguf_vtype_size(elem_type);
	if (!sz)
		return 0;
	return load_f64(elem_type, (const uint8_t *)data + i * sz);
}

int g4_gguf_get_str_arr(const g4_gguf *g, const char *key, g4_str **out, uint64_t *n)
{
	const g4_gguf_kv *kv = need_key(g, key);
	if (!kv)
		return -1;
	if (kv->type != G4_GGUF_ARRAY || kv->arr_type != G4_GGUF_STRING)
		return wrong_type(g, kv, "an array of strings");
	g4_str *s = malloc((kv->arr_n ? kv->arr_n : 1) * sizeof *s);
	if (!s)
		return g4_err("%s: key '%s': out of memory", g->path, key);
	const uint8_t *p = kv->val;
	for (uint64_t i = 0; i < kv->arr_n; i++) {	/* lengths were checked at open */
		s[i].len = ld64(p);
		s[i].ptr = (const char *)p + 8;
		p += 8 + s[i].len;
	}
	*out = s;
	*n = kv->arr_n;
	return 0;
}

int g4_gguf_get_layer_i64(const g4_gguf *g, const char *key, uint32_t layer, int64_t *out)
{
	const g4_gguf_kv *kv = need_key(g, key);
	if (!kv)
		return -1;
	if (kv->type != G4_GGUF_ARRAY)
		return g4_gguf_get_i64(g, key, out);
	if (!is_int_type(kv->arr_type))
		return wrong_type(g, kv, "an integer or an array of integers");
	if (layer >= kv->arr_n)
		return g4_err("%s: key '%s' has %llu elements, none for layer %u", g->path, key,
			      (ull)kv->arr_n, layer);
	int64_t i; uint64_t u; int neg;
	load_int(kv->arr_type, kv->val + (uint64_t)layer * vtype_sizes[kv->arr_type], &i, &u, &neg);
	if (!neg && u > (uint64_t)INT64_MAX)
		return g4_err("%s: key '%s'[%u] = %llu is out of range", g->path, key, layer, (ull)u);
	*out = i;
	return 0;
}

/* ---- fingerprint -------------------------------------------------------- */

static void h64(g4_sha256 *s, uint64_t v) { g4_sha256_update(s, &v, 8); }

/* SHA-256 of: "g4-model-fp-1", n_kv, every metadata record exactly as stored
 * (key, type, value), n_tensors, and for every tensor its name (length +
 * bytes), type, the four dims and its offset.  Weight bytes are not read. */
void g4_gguf_fingerprint(const g4_gguf *g, uint8_t out[32])
{
	g4_sha256 s;
	g4_sha256_init(&s);
	g4_sha256_update(&s, "g4-model-fp-1", 13);
	h64(&s, g->n_kv);
	for (uint64_t i = 0; i < g->n_kv; i++) {
		const g4_gguf_kv *kv = &g->kv[i];
		const uint8_t *a = g->map + kv->off;
		g4_sha256_update(&s, a, (size_t)(kv->val + kv->val_bytes - a));
	}
	h64(&s, g->n_tensors);
	for (uint64_t i = 0; i < g->n_tensors; i++) {
		const g4_gguf_tensor *t = &g->tensors[i];
		h64(&s, t->name.len);
		g4_sha256_update(&s, t->name.ptr, t->name.len);
		h64(&s, t->type);
		for (int d = 0; d < 4; d++)
			h64(&s, (uint64_t)t->ne[d]);
		h64(&s, t->offset);
	}
	g4_sha256_final(&s, out);
}

/* ---- --info ------------------------------------------------------------- */

static void print_str(FILE *out, const char *p, uint64_t n, uint64_t max)
{
	fputc('"', out);
	for (uint64_t i = 0; i < n && i < max; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", out);
		else if (c == '\t')
			fputs("\\t", out);
		else if (c < 0x20 || c == 0x7f)
			fprintf(out, "\\x%02x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
	if (n > max)
		fprintf(out, "... (%llu bytes)", (ull)n);
}

static void print_scalar(FILE *out, uint32_t t, const uint8_t *p)
{
	int64_t i; uint64_t u; int neg;
	if (t == G4_GGUF_BOOL)
		fputs(p[0] ? "true" : "false", out);
	else if (t == G4_GGUF_FLOAT32 || t == G4_GGUF_FLOAT64)
		fprintf(out, "%.9g", load_f64(t, p));
	else if (!load_int(t, p, &i, &u, &neg))
		neg ? fprintf(out, "%lld", (long long)i) : fprintf(out, "%llu", (ull)u);
}

static void print_kv(FILE *out, const g4_gguf_kv *kv)
{
	enum { SHOW = 8 };
	fprintf(out, "  %-48.*s ", (int)kv->key.len, kv->key.ptr);
	if (kv->type == G4_GGUF_STRING) {
		fputs("string     ", out);
		print_str(out, (const char *)kv->val, kv->val_bytes, 200);
	} else if (kv->type == G4_GGUF_ARRAY) {
		char tn[32];
		snprintf(tn, sizeof tn, "%s[%llu]", vtype_names[kv->arr_type], (ull)kv->arr_n);
		fprintf(out, "%-10s [", tn);
		const uint8_t *p = kv->val;
		for (uint64_t i = 0; i < kv->arr_n && i < SHOW; i++) {
			if (i)
				fputs(", ", out);
			if (kv->arr_type == G4_GGUF_STRING) {
				uint64_t n = ld64(p);
				print_str(out, (const char *)p + 8, n, 40);
				p += 8 + n;
			} else {
				print_scalar(out, kv->arr_type, p);
				p += vtype_sizes[kv->arr_type];
			}
		}
		fputs(kv->arr_n > SHOW ? ", ...]" : "]", out);
	} else {
		fprintf(out, "%-10s ", vtype_names[kv->type]);
		print_scalar(out, kv->type, kv->val);
	}
	fputc('\n', out);
}

void g4_gguf_print_info(const g4_gguf *g, FILE *out)
{
	uint64_t ntype[G4_NTYPES] = { 0 }, btype[G4_NTYPES] = { 0 };
	uint64_t bytes = 0, elems = 0;

	uint8_t fp[32];
	g4_gguf_fingerprint(g, fp);
	fprintf(out, "%s: GGUF v%u, %llu bytes, alignment %u, data at byte %llu\nfingerprint ",
		g->path, g->version, (ull)g->size, g->alignment, (ull)g->data_off);
	for (int i = 0; i < 32; i++)
		fprintf(out, "%02x", fp[i]);
	fputc('\n', out);
	fprintf(out, "\n%llu metadata keys:\n", (ull)g->n_kv);
	for (uint64_t i = 0; i < g->n_kv; i++)
		print_kv(out, &g->kv[i]);
	fprintf(out, "\n%llu tensors:\n", (ull)g->n_tensors);
	fprintf(out, "  %5s  %-40s %-8s %-24s %12s\n", "#", "name", "type", "shape", "bytes");
	for (uint64_t i = 0; i < g->n_tensors; i++) {
		const g4_gguf_tensor *t = &g->tensors[i];
		char shape[96];
		int k = snprintf(shape, sizeof shape, "[");
		for (uint32_t d = 0; d < t->n_dims; d++)
			k += snprintf(shape + k, sizeof shape - k, "%s%lld", d ? ", " : "",
				      (long long)t->ne[d]);
		snprintf(shape + k, sizeof shape - k, "]");
		fprintf(out, "  %5llu  %-40.*s %-8s %-24s %12llu%s\n", (ull)i,
			(int)t->name.len, t->name.ptr, g4_type_name(t->type), shape,
			(ull)t->nbytes, g4_type_supported(t->type) ? "" : "  (not supported by g4)");
		ntype[t->type]++;
		btype[t->type] += t->nbytes;
		bytes += t->nbytes;
		elems += (uint64_t)t->ne[0] * (uint64_t)t->ne[1] * (uint64_t)t->ne[2] * (uint64_t)t->ne[3];
	}
	fprintf(out, "\ntotal: %llu tensors, %llu elements, %llu bytes (%.2f MiB), %.3f bits per element\n",
		(ull)g->n_tensors, (ull)elems, (ull)bytes, bytes / 1048576.0,
		elems ? 8.0 * bytes / elems : 0.0);
	for (int t = 0; t < G4_NTYPES; t++)
		if (ntype[t])
			fprintf(out, "  %-8s %5llu tensors %14llu bytes\n", g4_type_name(t),
				(ull)ntype[t], (ull)btype[t]);
}

/* ---- writer ------------------------------------------------------------- */

typedef struct {
	uint8_t *rec;		/* key record: key string, type, value */
	size_t n;
	size_t klen;		/* key = rec + 8 */
} wkv;

typedef struct {
	char *name;
	uint32_t type, n_dims;
	int64_t ne[4];
	uint64_t nbytes, offset;
} wtensor;

struct g4_ggufw {
	wkv *kv;
	size_t nkv, capkv;
	wtensor *t;
	size_t nt, capt;
	uint32_t align;
	int state;		/* 0 adding, 1 header written, 2 finished, -1 failed */
	size_t cur;		/* tensor whose data comes next */
	uint64_t cur_done;	/* bytes of it written */
	const char *name;	/* the output, for messages (NULL: "GGUF output") */
};

typedef struct {
	uint8_t *p;
	size_t n, cap;
	int oom;
} buf;

static void put(buf *b, const void *p, size_t n)
{
	if (b->oom)
		return;
	if (b->n + n > b->cap) {
		size_t cap = b->cap ? b->cap : 64;
		while (cap < b->n + n)
			cap *= 2;
		uint8_t *q = realloc(b->p, cap);
		if (!q) {
			b->oom = 1;
			return;
		}
		b->p = q;
		b->cap = cap;
	}
	memcpy(b->p + b->n, p, n);
	b->n += n;
}

static void put32(buf *b, uint32_t v) { put(b, &v, 4); }
static void put64(buf *b, uint64_t v) { put(b, &v, 8); }
static void putstr(buf *b, const char *s, size_t n) { put64(b, n); put(b, s, n); }

g4_ggufw *g4_ggufw_new(void)
{
	g4_ggufw *w = calloc(1, sizeof *w);
	if (!w)
		g4_err("out of memory");
	return w;
}

void g4_ggufw_set_name(g4_ggufw *w, const char *name)
{
	w->name = name;
}

static const char *wname(const g4_ggufw *w)
{
	return w->name ? w->name : "GGUF output";
}

void g4_ggufw_free(g4_ggufw *w)
{
	if (!w)
		return;
	for (size_t i = 0; i < w->nkv; i++)
		free(w->kv[i].rec);
	for (size_t i = 0; i < w->nt; i++)
		free(w->t[i].name);
	free(w->kv);
	free(w->t);
	free(w);
}

static int64_t wfind(const g4_ggufw *w, const char *key, size_t klen)
{
	for (size_t i = 0; i < w->nkv; i++)
		if (w->kv[i].klen == klen && !memcmp(w->kv[i].rec + 8, key, klen))
			return (int64_t)i;
	return -1;
}

/* Takes ownership of the record in b (whose key is key). */
static int put_kv(g4_ggufw *w, const char *key, buf *b)
{
	size_t klen = strlen(key);
	if (b->oom) {
		free(b->p);
		return g4_err("key '%s': out of memory", key);
	}
	if (w->state != 0) {
		free(b->p);
		return g4_err("key '%s': metadata set after the header was written", key);
	}
	int64_t i = wfind(w, key, klen);
	if (i >= 0) {	/* keeps its place */
		free(w->kv[i].rec);
		w->kv[i].rec = b->p;
		w->kv[i].n = b->n;
		return 0;
	}
	if (w->nkv == w->capkv) {
		size_t cap = w->capkv ? 2 * w->capkv : 32;
		wkv *q = realloc(w->kv, cap * sizeof *q);
		if (!q) {
			free(b->p);
			return g4_err("out of memory");
		}
		w->kv = q;
		w->capkv = cap;
	}
	w->kv[w->nkv++] = (wkv){ b->p, b->n, klen };
	return 0;
}

static int start_kv(buf *b, const char *key, uint32_t type)
{
	if (!key || !*key)
		return g4_err("empty metadata key");
	memset(b, 0, sizeof *b);
	putstr(b, key, strlen(key));
	put32(b, type);
	return 0;
}

static int set_scalar(g4_ggufw *w, const char *key, uint32_t type, const void *v)
{
	buf b;
	if (start_kv(&b, key, type))
		return -1;
	put(&b, v, vtype_sizes[type]);
	return put_kv(w, key, &b);
}

int g4_ggufw_set_val(g4_ggufw *w, const char *key, uint32_t type, const void *v)
{
	if (!g4_gguf_vtype_size(type))
		return g4_err("key '%s': %s is not a scalar type", key ? key : "",
			      g4_gguf_vtype_name(type));
	return set_scalar(w, key, type, v);
}

int g4_ggufw_set_u32(g4_ggufw *w, const char *key, uint32_t v)
{
	return set_scalar(w, key, G4_GGUF_UINT32, &v);
}

int g4_ggufw_set_i32(g4_ggufw *w, const char *key, int32_t v)
{
	return set_scalar(w, key, G4_GGUF_INT32, &v);
}

int g4_ggufw_set_f32(g4_ggufw *w, const char *key, float v)
{
	return set_scalar(w, key, G4_GGUF_FLOAT32, &v);
}

int g4_ggufw_set_bool(g4_ggufw *w, const char *key, int v)
{
	uint8_t b = v != 0;
	return set_scalar(w, key, G4_GGUF_BOOL, &b);
}

int g4_ggufw_set_str(g4_ggufw *w, const char *key, const char *v)
{
	buf b;
	if (start_kv(&b, key, G4_GGUF_STRING))
		return -1;
	putstr(&b, v, strlen(v));
	return put_kv(w, key, &b);
}

int g4_ggufw_set_arr(g4_ggufw *w, const char *key, uint32_t elem_type,
		     uint64_t n, const void *data)
{
	size_t sz = g4_gguf_vtype_size(elem_type);
	if (!sz)
		return g4_err("key '%s': arrays of %s cannot be set with g4_ggufw_set_arr",
			      key, g4_gguf_vtype_name(elem_type));
	if (n > (SIZE_MAX / 2) / sz)
		return g4_err("key '%s': array of %llu elements is too large", key, (ull)n);
	buf b;
	if (start_kv(&b, key, G4_GGUF_ARRAY))
		return -1;
	put32(&b, elem_type);
	put64(&b, n);
	put(&b, data, n * sz);
	return put_kv(w, key, &b);
}

int g4_ggufw_set_str_arr(g4_ggufw *w, const char *key, uint64_t n, const g4_str *v)
{
	buf b;
	if (start_kv(&b, key, G4_GGUF_ARRAY))
		return -1;
	put32(&b, G4_GGUF_STRING);
	put64(&b, n);
	for (uint64_t i = 0; i < n; i++)
		putstr(&b, v[i].ptr, v[i].len);
	return put_kv(w, key, &b);
}

int g4_ggufw_copy_kv(g4_ggufw *w, const g4_gguf *g, uint64_t kv_index)
{
	if (kv_index >= g->n_kv)
		return g4_err("%s: no key record %llu", g->path, (ull)kv_index);
	const g4_gguf_kv *kv = &g->kv[kv_index];
	const uint8_t *a = g->map + kv->off, *z = kv->val + kv->val_bytes;
	char *key = strndup(kv->key.ptr, kv->key.len);
	buf b = { 0 };
	if (!key)
		return g4_err("out of memory");
	if (strlen(key) != kv->key.len) {
		free(key);
		return g4_err("%s: key %llu contains a NUL byte", g->path, (ull)kv_index);
	}
	put(&b, a, (size_t)(z - a));
	int rc = put_kv(w, key, &b);
	free(key);
	return rc;
}

int g4_ggufw_remove(g4_ggufw *w, const char *key)
{
	if (w->state != 0)
		return g4_err("key '%s': metadata changed after the header was written", key);
	int64_t i = wfind(w, key, strlen(key));
	if (i < 0)
		return 0;
	free(w->kv[i].rec);
	memmove(&w->kv[i], &w->kv[i + 1], (w->nkv - (size_t)i - 1) * sizeof *w->kv);
	w->nkv--;
	return 0;
}

int g4_ggufw_move_after(g4_ggufw *w, const char *key, const char *after)
{
	if (w->state != 0)
		return g4_err("key '%s': metadata changed after the header was written", key);
	int64_t i = wfind(w, key, strlen(key));
	if (i < 0)
		return g4_err("key '%s' is not set", key);
	wkv k = w->kv[i];
	memmove(&w->kv[i], &w->kv[i + 1], (w->nkv - (size_t)i - 1) * sizeof *w->kv);
	w->nkv--;
	size_t at = w->nkv;
	if (after) {
		int64_t j = wfind(w, after, strlen(after));
		if (j < 0) {	/* put it back */
			memmove(&w->kv[i + 1], &w->kv[i], (w->nkv - (size_t)i) * sizeof *w->kv);
			w->kv[i] = k;
			w->nkv++;
			return g4_err("key '%s' is not set (moving '%s' after it)", after, key);
		}
		at = (size_t)j + 1;
	}
	memmove(&w->kv[at + 1], &w->kv[at], (w->nkv - at) * sizeof *w->kv);
	w->kv[at] = k;
	w->nkv++;
	return 0;
}

int g4_ggufw_add_tensor(g4_ggufw *w, const char *name, uint32_t type,
			uint32_t n_dims, const int64_t *ne)
{
	size_t len = name ? strlen(name) : 0;
	if (w->state != 0)
		return g4_err("tensor '%s': added after the header was written", name);
	if (len == 0 || len > MAX_NAME)
		return g4_err("tensor '%s': name must have 1 to %d bytes", name ? name : "", MAX_NAME);
	if (n_dims > 4)
		return g4_err("tensor '%s': %u dimensions (at most 4)", name, n_dims);
	for (size_t i = 0; i < w->nt; i++)
		if (!strcmp(w->t[i].name, name))
			return g4_err("tensor '%s': added twice", name);
	wtensor t = { .type = type, .n_dims = n_dims, .ne = { 1, 1, 1, 1 } };
	for (uint32_t d = 0; d < n_dims; d++) {
		if (ne[d] <= 0)
			return g4_err("tensor '%s': dimension %u is %lld", name, d, (long long)ne[d]);
		t.ne[d] = ne[d];
	}
	if (!g4_type_block(type))
		return g4_err("tensor '%s': unknown tensor type id %u", name, type);
	if (g4_tensor_bytes(type, t.ne, &t.nbytes))
		return g4_err_ctx("tensor '%s': ", name);
	if (w->nt == w->capt) {
		size_t cap = w->capt ? 2 * w->capt : 64;
		wtensor *q = realloc(w->t, cap * sizeof *q);
		if (!q)
			return g4_err("out of memory");
		w->t = q;
		w->capt = cap;
	}
	if (!(t.name = strdup(name)))
		return g4_err("out of memory");
	w->t[w->nt++] = t;
	return 0;
}

/* The alignment the header declares (general.alignment) or 32. */
static int w_alignment(const g4_ggufw *w, uint32_t *align)
{
	*align = DEFAULT_ALIGN;
	int64_t i = wfind(w, "general.alignment", 17);
	if (i < 0)
		return 0;
	const wkv *k = &w->kv[i];
	uint32_t type = ld32(k->rec + 8 + k->klen);
	if (type != G4_GGUF_UINT32)
		return g4_err("key 'general.alignment' has type %s, must be u32",
			      g4_gguf_vtype_name(type));
	uint32_t v = ld32(k->rec + 12 + k->klen);
	if (v == 0 || (v & (v - 1)))
		return g4_err("key 'general.alignment': %u is not a power of two", v);
	*align = v;
	return 0;
}

static int wfail(g4_ggufw *w)
{
	w->state = -1;
	return -1;
}

static int write_zeros(const g4_ggufw *w, FILE *f, uint64_t n)
{
	static const uint8_t z[256];
	while (n) {
		size_t k = n < sizeof z ? (size_t)n : sizeof z;
		if (g4_write(f, z, k, wname(w)))
			return -1;
		n -= k;
	}
	return 0;
}

int g4_ggufw_write_header(g4_ggufw *w, FILE *f)
{
	if (w->state != 0)
		return g4_err("GGUF header written twice");
	if (w_alignment(w, &w->align))
		return -1;
	buf b = { 0 };
	put(&b, "GGUF", 4);
	put32(&b, 3);
	put64(&b, w->nt);
	put64(&b, w->nkv);
	for (size_t i = 0; i < w->nkv; i++)
		put(&b, w->kv[i].rec, w->kv[i].n);
	uint64_t off = 0;
	for (size_t i = 0; i < w->nt; i++) {
		wtensor *t = &w->t[i];
		t->offset = off;
		off += pad_to(t->nbytes, w->align);
		putstr(&b, t->name, strlen(t->name));
		put32(&b, t->n_dims);
		for (uint32_t d = 0; d < t->n_dims; d++)
			put64(&b, (uint64_t)t->ne[d]);
		put32(&b, t->type);
		put64(&b, t->offset);
	}
	if (b.oom) {
		free(b.p);
		return g4_err("GGUF header: out of memory");
	}
	size_t n = b.n;
	int rc = g4_write(f, b.p, n, wname(w));
	free(b.p);
	if (rc || write_zeros(w, f, pad_to(n, w->align) - n))
		return wfail(w);
	w->state = 1;
	w->cur = 0;
	w->cur_done = 0;
	return 0;
}

int g4_ggufw_write_data_part(g4_ggufw *w, FILE *f, const void *data, uint64_t nbytes, int last)
{
	if (w->state != 1)
		return g4_err(w->state == 0 ? "GGUF tensor data written before the header"
					    : "GGUF tensor data written after the end");
	if (w->cur >= w->nt)
		return g4_err("%s: data for more tensors than were added (%zu)", wname(w), w->nt);
	wtensor *t = &w->t[w->cur];
	uint64_t room = t->nbytes - w->cur_done;
	if (nbytes > room || (last && nbytes != room))
		return g4_err("tensor '%s': %llu bytes written, its size is %llu", t->name,
			      (ull)(w->cur_done + nbytes), (ull)t->nbytes);
	if (g4_write(f, data, (size_t)nbytes, wname(w)))
		return wfail(w);
	w->cur_done += nbytes;
	if (w->cur_done == t->nbytes) {
		if (write_zeros(w, f, pad_to(t->nbytes, w->align) - t->nbytes))
			return wfail(w);
		w->cur++;
		w->cur_done = 0;
	}
	return 0;
}

int g4_ggufw_write_data(g4_ggufw *w, FILE *f, const void *data, uint64_t nbytes)
{
	return g4_ggufw_write_data_part(w, f, data, nbytes, 0);
}

int g4_ggufw_finish(g4_ggufw *w, FILE *f)
{
	if (w->state != 1)
		return g4_err(w->state == 0 ? "GGUF output finished before the header was written"
					    : "GGUF output finished twice or after an error");
	if (w->cur < w->nt)
		return g4_err("tensor '%s': %llu of %llu bytes written when the GGUF output was finished",
			      w->t[w->cur].name, (ull)w->cur_done, (ull)w->t[w->cur].nbytes);
	if (fflush(f) != 0 || ferror(f))
		return g4_err_sys("writing %s", wname(w));
	w->state = 2;
	return 0;
}
