/* safetensors.c - Hugging Face safetensors reader (see safetensors.h).
 *
 * Each file is mapped; its JSON header is parsed with cJSON and checked
 * entry by entry before any tensor is used.  Tensors of all shards go into
 * one array in converter order (shard, then name) with a hash index for
 * lookups by name.  Conversion to f32 is exact for every float type.
 */
#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "err.h"
#include "fileio.h"
#include "qtypes.h"
#include "safetensors.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "g4 reads safetensors on little-endian hosts only"
#endif

#define MAX_HEADER	100000000ull	/* as the safetensors library */
#define MAX_INDEX	(64u << 20)	/* model.safetensors.index.json */
#define MAX_INT_JSON	9007199254740992.0	/* 2^53: exact in a double */

typedef unsigned long long ull;

typedef struct {
	char *path;
	const uint8_t *map;
	uint64_t size;
	int mapped;
} shard;

struct g4_st {
	shard *sh;
	size_t nsh;
	g4_st_tensor *t;
	size_t nt, capt;
	uint32_t *slot;		/* hash index: tensor index + 1, 0 = empty */
	uint64_t mask;
};

static const struct {
	const char *name;
	uint8_t size;
} dtypes[G4_ST_NDTYPES] = {
	[G4_ST_F64] = { "F64", 8 }, [G4_ST_F32] = { "F32", 4 },
	[G4_ST_F16] = { "F16", 2 }, [G4_ST_BF16] = { "BF16", 2 },
	[G4_ST_I64] = { "I64", 8 }, [G4_ST_I32] = { "I32", 4 },
	[G4_ST_I16] = { "I16", 2 }, [G4_ST_I8] = { "I8", 1 },
	[G4_ST_U64] = { "U64", 8 }, [G4_ST_U32] = { "U32", 4 },
	[G4_ST_U16] = { "U16", 2 }, [G4_ST_U8] = { "U8", 1 },
	[G4_ST_BOOL] = { "BOOL", 1 },
	[G4_ST_F8_E4M3] = { "F8_E4M3", 1 }, [G4_ST_F8_E5M2] = { "F8_E5M2", 1 },
};

const char *g4_st_dtype_name(uint32_t dt)
{
	return dt < G4_ST_NDTYPES ? dtypes[dt].name : NULL;
}

int g4_st_dtype_from_name(const char *name)
{
	for (int i = 0; i < G4_ST_NDTYPES; i++)
		if (!strcmp(dtypes[i].name, name))
			return i;
	return -1;
}

size_t g4_st_dtype_size(uint32_t dt)
{
	return dt < G4_ST_NDTYPES ? dtypes[dt].size : 0;
}

/* ---- one file ---------------------------------------------------------- */

static int push_tensor(g4_st *st, const g4_st_tensor *t)
{
	if (st->nt == st->capt) {
		size_t cap = st->capt ? 2 * st->capt : 256;
		g4_st_tensor *q = realloc(st->t, cap * sizeof *q);
		if (!q)
			return g4_err("out of memory");
		st->t = q;
		st->capt = cap;
	}
	st->t[st->nt] = *t;
	if (!(st->t[st->nt].name = strdup(t->name)))
		return g4_err("out of memory");
	st->nt++;
	return 0;
}

/* A JSON number that is an integer in [0, 2^53]. */
static int json_uint(const cJSON *x, uint64_t *v)
{
	if (!cJSON_IsNumber(x))
		return -1;
	double d = x->valuedouble;
	if (!(d >= 0 && d <= MAX_INT_JSON) || d != floor(d))
		return -1;
	*v = (uint64_t)d;
	return 0;
}

static int parse_entry(g4_st_tensor *t, const cJSON *e, uint64_t room, uint64_t *begin)
{
	if (!cJSON_IsObject(e))
		return g4_err("entry is not a JSON object");
	const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
	const cJSON *sh = cJSON_GetObjectItemCaseSensitive(e, "shape");
	const cJSON *of = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
	if (!cJSON_IsString(dt))
		return g4_err("\"dtype\" is missing or not a string");
	int d = g4_st_dtype_from_name(dt->valuestring);
	if (d < 0)
		return g4_err("unknown dtype \"%.40s\"", dt->valuestring);
	t->dtype = (uint32_t)d;
	if (!cJSON_IsArray(sh))
		return g4_err("\"shape\" is missing or not an array");
	int nd = cJSON_GetArraySize(sh);
	if (nd > G4_ST_MAX_DIMS)
		return g4_err("shape has %d dimensions (at most %d)", nd, G4_ST_MAX_DIMS);
	t->n_dims = (uint32_t)nd;
	for (int i = 0; i < G4_ST_MAX_DIMS; i++)
		t->shape[i] = 1;
	unsigned __int128 numel = 1;
	for (int i = 0; i < nd; i++) {
		uint64_t v;
		if (json_uint(cJSON_GetArrayItem(sh, i), &v))
			return g4_err("shape[%d] is not a non-negative integer", i);
		t->shape[i] = (int64_t)v;
		numel *= v;
		if (numel > ((unsigned __int128)1 << 62))
			return g4_err("shape has more than 2^62 elements");
	}
	unsigned __int128 nbytes = numel * dtypes[t->dtype].size;
	if (nbytes > ((unsigned __int128)1 << 62))
		return g4_err("size overflows");
	t->numel = (uint64_t)numel;
	t->nbytes = (uint64_t)nbytes;
	uint64_t b, z;
	if (!cJSON_IsArray(of) || cJSON_GetArraySize(of) != 2 ||
	    json_uint(cJSON_GetArrayItem(of, 0), &b) || json_uint(cJSON_GetArrayItem(of, 1), &z))
		return g4_err("\"data_offsets\" is not a pair of non-negative integers");
	if (b > z)
		return g4_err("data_offsets [%llu, %llu] end before they begin", (ull)b, (ull)z);
	if (z > room)
		return g4_err("data [%llu, %llu) runs past the end of the data section (%llu bytes)",
			      (ull)b, (ull)z, (ull)room);
	if (z - b != t->nbytes)
		return g4_err("data_offsets [%llu, %llu] hold %llu bytes, the shape and dtype need %llu",
			      (ull)b, (ull)z, (ull)(z - b), (ull)t->nbytes);
	*begin = b;
	return 0;
}

typedef struct {
	uint64_t b, z;
	size_t i;
} span;

static int cmp_span(const void *a, const void *b)
{
	const span *x = a, *y = b;
	return x->b < y->b ? -1 : x->b > y->b ? 1 : (x->z > y->z) - (x->z < y->z);
}

/* Parses the header of shard k and appends its tensors. */
static int parse_shard(g4_st *st, uint32_t k)
{
	const shard *sh = &st->sh[k];
	if (sh->size < 8)
		return g4_err("%llu bytes: too short for a safetensors header", (ull)sh->size);
	uint64_t n = 0;
	memcpy(&n, sh->map, 8);
	if (n > sh->size - 8)
		return g4_err("header length %llu runs past the end of the file (%llu bytes)",
			      (ull)n, (ull)sh->size);
	if (n > MAX_HEADER)
		return g4_err("header length %llu is absurd (at most %llu)", (ull)n, MAX_HEADER);
	const char *js = (const char *)sh->map + 8, *end = NULL;
	cJSON *root = cJSON_ParseWithLengthOpts(js, (size_t)n, &end, 0);
	if (!root) {
		uint64_t at = end && end >= js && end <= js + n ? (uint64_t)(end - js) + 8 : 8;
		return g4_err("header is not valid JSON (error near byte %llu)", (ull)at);
	}
	for (; end < js + n; end++)
		if (!strchr(" \t\r\n", *end) || !*end) {
			cJSON_Delete(root);
			return g4_err("header has bytes after the JSON object (byte %llu)",
				      (ull)(end - js) + 8);
		}
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		return g4_err("header is not a JSON object");
	}
	const uint8_t *data = sh->map + 8 + n;
	uint64_t room = sh->size - 8 - n;
	size_t first = st->nt;
	span *sp = NULL;
	int rc = 0;
	for (const cJSON *e = root->child; e; e = e->next) {
		if (!strcmp(e->string, "__metadata__"))
			continue;
		g4_st_tensor t = { .name = e->string, .shard = k };
		uint64_t begin = 0;
		if (!e->string[0]) {
			rc = g4_err("a tensor with an empty name");
			break;
		}
		if (parse_entry(&t, e, room, &begin)) {
			rc = g4_err_ctx("tensor '%.200s': ", e->string);
			break;
		}
		t.data = data + begin;
		if ((rc = push_tensor(st, &t)))
			break;
	}
	cJSON_Delete(root);
	if (rc)
		return -1;
	/* no two tensors of this file may overlap */
	size_t m = st->nt - first;
	if (m < 2)
		return 0;
	if (!(sp = malloc(m * sizeof *sp)))
		return g4_err("out of memory");
	for (size_t i = 0; i < m; i++) {
		const g4_st_tensor *t = &st->t[first + i];
		sp[i].b = (uint64_t)((const uint8_t *)t->data - data);
		sp[i].z = sp[i].b + t->nbytes;
		sp[i].i = first + i;
	}
	qsort(sp, m, sizeof *sp, cmp_span);
	uint64_t hi = 0;
	size_t hi_i = 0;
	for (size_t i = 0; i < m; i++) {
		if (sp[i].b == sp[i].z)
			continue;	/* empty tensors overlap nothing */
		if (sp[i].b < hi) {
			rc = g4_err("tensor '%.200s': data [%llu, %llu) overlaps tensor '%.200s'",
				    st->t[sp[i].i].name, (ull)sp[i].b, (ull)sp[i].z, st->t[hi_i].name);
			break;
		}
		hi = sp[i].z;
		hi_i = sp[i].i;
	}
	free(sp);
	return rc;
}

/* ---- the set of shards ---------------------------------------------------- */

static g4_st *st_new(void)
{
	g4_st *st = calloc(1, sizeof *st);
	if (!st)
		g4_err("out of memory");
	return st;
}

void g4_st_close(g4_st *st)
{
	if (!st)
		return;
	for (size_t i = 0; i < st->nsh; i++) {
		if (st->sh[i].mapped && st->sh[i].size)
			munmap((void *)st->sh[i].map, st->sh[i].size);
		free(st->sh[i].path);
	}
	for (size_t i = 0; i < st->nt; i++)
		free((char *)st->t[i].name);
	free(st->sh);
	free(st->t);
	free(st->slot);
	free(st);
}

static int add_shard(g4_st *st, const char *path, const void *buf, size_t n)
{
	shard *q = realloc(st->sh, (st->nsh + 1) * sizeof *q);
	if (!q)
		return g4_err("out of memory");
	st->sh = q;
	shard *sh = &st->sh[st->nsh];
	memset(sh, 0, sizeof *sh);
	if (!(sh->path = strdup(path)))
		return g4_err("out of memory");
	st->nsh++;
	if (buf) {
		sh->map = buf;
		sh->size = n;
	} else {
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		struct stat s;
		if (fd < 0)
			return g4_err_sys("cannot open %s", path);
		if (fstat(fd, &s) != 0 || !S_ISREG(s.st_mode)) {
			close(fd);
			return g4_err("%s: not a regular file", path);
		}
		sh->size = (uint64_t)s.st_size;
		if (sh->size) {
			void *m = mmap(NULL, (size_t)sh->size, PROT_READ, MAP_PRIVATE, fd, 0);
			if (m == MAP_FAILED) {
				close(fd);
				sh->size = 0;
				return g4_err_sys("cannot map %s", path);
			}
			sh->map = m;
			sh->mapped = 1;
		}
		close(fd);
	}
	if (parse_shard(st, (uint32_t)(st->nsh - 1)))
		return g4_err_ctx("%s: ", path);
	return 0;
}

static uint64_t hash_str(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
	return h;
}

static int64_t lookup(const g4_st *st, const char *name, int64_t ins)
{
	for (uint64_t h = hash_str(name) & st->mask;; h = (h + 1) & st->mask) {
		uint32_t s = st->slot[h];
		if (!s) {
			if (ins >= 0)
				st->slot[h] = (uint32_t)ins + 1;
			return -1;
		}
		if (!strcmp(st->t[s - 1].name, name))
			return s - 1;
	}
}

static int cmp_tensor(const void *a, const void *b)
{
	const g4_st_tensor *x = a, *y = b;
	if (x->shard != y->shard)
		return x->shard < y->shard ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* Sorts into converter order and builds the index; a name twice is an error. */
static int finish(g4_st *st)
{
	if (st->nt > (1u << 30))
		return g4_err("%zu tensors: too many", st->nt);
	if (st->nt)	/* qsort(NULL, 0, ...) is undefined */
		qsort(st->t, st->nt, sizeof *st->t, cmp_tensor);
	uint64_t cap = 16;
	while (cap < 2 * (uint64_t)st->nt)
		cap <<= 1;
	if (!(st->slot = calloc(cap, sizeof *st->slot)))
		return g4_err("out of memory");
	st->mask = cap - 1;
	for (size_t i = 0; i < st->nt; i++) {
		int64_t j = lookup(st, st->t[i].name, (int64_t)i);
		if (j >= 0) {
			if (st->t[j].shard == st->t[i].shard)
				return g4_err("%s: tensor '%.200s' appears twice",
					      st->sh[st->t[i].shard].path, st->t[i].name);
			return g4_err("tensor '%.200s' is in two shards: %s and %s", st->t[i].name,
				      st->sh[st->t[j].shard].path, st->sh[st->t[i].shard].path);
		}
	}
	return 0;
}

static g4_st *open_one(const char *path, const void *buf, size_t n)
{
	g4_st *st = st_new();
	if (!st)
		return NULL;
	if (add_shard(st, path, buf, n) || finish(st)) {
		g4_st_close(st);
		return NULL;
	}
	return st;
}

g4_st *g4_st_open(const char *path)
{
	return open_one(path, NULL, 0);
}

g4_st *g4_st_open_mem(const void *buf, size_t n, const char *name)
{
	return open_one(name ? name : "<memory>", buf ? buf : "", buf ? n : 0);
}

static int cmp_cstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* The shard names of the index (sorted, distinct) into *names; the parsed
 * index stays in *idx for the check after loading. */
static int read_index(const char *ipath, cJSON **idx, char ***names, size_t *nn)
{
	char *text;
	size_t len;
	if (g4_slurp(ipath, MAX_INDEX, &text, &len))
		return -1;
	*idx = cJSON_ParseWithLength(text, len);
	free(text);
	if (!*idx)
		return g4_err("%s: not valid JSON", ipath);
	const cJSON *wm = cJSON_GetObjectItemCaseSensitive(*idx, "weight_map");
	if (!cJSON_IsObject(wm))
		return g4_err("%s: no \"weight_map\" object", ipath);
	size_t cap = 0, n = 0;
	char **v = NULL;
	for (const cJSON *e = wm->child; e; e = e->next) {
		if (!cJSON_IsString(e))
			return free_names(v, n), g4_err("%s: weight_map entry '%.200s' is not a file name",
							ipath, e->string);
		const char *f = e->valuestring;
		if (!f[0] || f[0] == '.' || strchr(f, '/'))
			return free_names(v, n), g4_err("%s: weight_map entry '%.200s': shard name \"%.200s\" must be a plain file name",
							ipath, e->string, f);
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			char **q = realloc(v, cap * sizeof *q);
			if (!q)
				return free_names(v, n), g4_err("out of memory");
			v = q;
		}
		if (!(v[n] = strdup(f)))
			return free_names(v, n), g4_err("out of memory");
		n++;
	}
	if (n == 0)
		return g4_err("%s: the weight_map is empty", ipath);
	qsort(v, n, sizeof *v, cmp_cstr);
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (k && !strcmp(v[k - 1], v[i]))
			free(v[i]);
		else
			v[k++] = v[i];
	}
	*names = v;
	*nn = k;
	return 0;
}

/* Every model*.safetensors in dir, sorted. */
static int list_shards(const char *dir, char ***names, size_t *nn)
{
	DIR *d = opendir(dir);
	if (!d)
		return g4_err_sys("cannot read the folder %s", dir);
	size_t cap = 0, n = 0;
	char **v = NULL;
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name);
		if (strncmp(e->d_name, "model", 5) || l < 17 ||
		    strcmp(e->d_name + l - 12, ".safetensors"))
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			char **q = realloc(v, cap * sizeof *q);
			if (!q) {
				closedir(d);
				return free_names(v, n), g4_err("out of memory");
			}
			v = q;
		}
		if (!(v[n] = strdup(e->d_name))) {
			closedir(d);
			return free_names(v, n), g4_err("out of memory");
		}
		n++;
	}
	closedir(d);
	if (!n)
		return g4_err("%s: no model.safetensors.index.json and no model*.safetensors", dir);
	qsort(v, n, sizeof *v, cmp_cstr);
	*names = v;
	*nn = n;
	return 0;
}

/* Each tensor the index names must be in the shard it names. */
static int check_index(const g4_st *st, const cJSON *idx, const char *ipath)
{
	const cJSON *wm = cJSON_GetObjectItemCaseSensitive(idx, "weight_map");
	for (const cJSON *e = wm->child; e; e = e->next) {
		const g4_st_tensor *t = g4_st_find(st, e->string);
		if (!t)
			return g4_err("%s: tensor '%.200s' is not in its shard %s", ipath, e->string,
				      e->valuestring);
		const char *p = st->sh[t->shard].path, *slash = strrchr(p, '/');
		if (strcmp(slash ? slash + 1 : p, e->valuestring))
			return g4_err("%s: tensor '%.200s' is in %s, not in %s", ipath, e->string,
				      p, e->valuestring);
	}
	return 0;
}

g4_st *g4_st_open_dir(const char *path)
{
	struct stat s;
	if (stat(path, &s) != 0) {
		g4_err_sys("cannot open %s", path);
		return NULL;
	}
	if (!S_ISDIR(s.st_mode))
		return g4_st_open(path);

	size_t dl = strlen(path);
	while (dl > 1 && path[dl - 1] == '/')
		dl--;
	char *ipath = malloc(dl + 64);
	if (!ipath) {
		g4_err("out of memory");
		return NULL;
	}
	snprintf(ipath, dl + 64, "%.*s/model.safetensors.index.json", (int)dl, path);
	cJSON *idx = NULL;
	char **names = NULL;
	size_t nn = 0;
	int rc = access(ipath, F_OK) == 0 ? read_index(ipath, &idx, &names, &nn)
					  : list_shards(path, &names, &nn);
	g4_st *st = rc ? NULL : st_new();
	rc = st ? 0 : -1;
	for (size_t i = 0; i < nn && !rc; i++) {
		size_t pl = dl + strlen(names[i]) + 2;
		char *p = malloc(pl);
		if (!p) {
			rc = g4_err("out of memory");
			break;
		}
		snprintf(p, pl, "%.*s/%s", (int)dl, path, names[i]);
		rc = add_shard(st, p, NULL, 0);
		free(p);
	}
	if (!rc)
		rc = finish(st);
	if (!rc && idx)
		rc = check_index(st, idx, ipath);
	free_names(names, nn);
	cJSON_Delete(idx);
	free(ipath);
	if (rc) {
		g4_st_close(st);
		return NULL;
	}
	return st;
}

size_t g4_st_count(const g4_st *st) { return st->nt; }

const g4_st_tensor *g4_st_tensor_at(const g4_st *st, size_t i)
{
	return i < st->nt ? &st->t[i] : NULL;
}

const g4_st_tensor *g4_st_find(const g4_st *st, const char *name)
{
	if (!st->slot)
		return NULL;
	int64_t i = lookup(st, name, -1);
	return i < 0 ? NULL : &st->t[i];
}

size_t g4_st_shard_count(const g4_st *st) { return st->nsh; }

const char *g4_st_shard_path(const g4_st *st, size_t i)
{
	return i < st->nsh ? st->sh[i].path : NULL;
}

/* ---- conversion to f32 ---------------------------------------------------- */

int64_t g4_st_row_len(const g4_st_tensor *t)
{
	return t->n_dims ? t->shape[t->n_dims - 1] : 1;
}

int64_t g4_st_n_rows(const g4_st_tensor *t)
{
	int64_t r = g4_st_row_len(t);
	return r ? (int64_t)(t->numel / (uint64_t)r) : 0;
}

static float f16_f32(uint16_t h)
{
	uint32_t s = (uint32_t)(h >> 15) << 31, e = (h >> 10) & 31, m = h & 1023, b;
	float f;
	if (e == 0) {	/* zero or subnormal: m x 2^-24, exact */
		f = ldexpf((float)m, -24);
		return s ? -f : f;
	}
	if (e == 31)
		b = s | 0x7f800000u | (m << 13);
	else
		b = s | ((e + 112) << 23) | (m << 13);
	memcpy(&f, &b, 4);
	return f;
}

/* FP8 E4M3 "fn": bias 7, no infinities, S.1111.111 is NaN. */
static float e4m3_f32(uint8_t v)
{
	int e = (v >> 3) & 15, m = v & 7;
	float f;
	if (e == 15 && m == 7)
		f = NAN;
	else if (e == 0)
		f = ldexpf((float)m, -9);
	else
		f = ldexpf((float)(8 + m), e - 10);
	return v & 0x80 ? -f : f;
}

/* FP8 E5M2: bias 15, IEEE-like infinities and NaNs. */
static float e5m2_f32(uint8_t v)
{
	int e = (v >> 2) & 31, m = v & 3;
	float f;
	if (e == 31)
		f = m ? NAN : INFINITY;
	else if (e == 0)
		f = ldexpf((float)m, -16);
	else
		f = ldexpf((float)(4 + m), e - 17);
	return v & 0x80 ? -f : f;
}

static float elem_f32(uint32_t dt, const uint8_t *p)
{
	union { double d; float f; int64_t i64; uint64_t u64; int32_t i32; uint32_t u32;
		int16_t i16; uint16_t u16; } u;
	switch (dt) {
	case G4_ST_F64: memcpy(&u.d, p, 8); return (float)u.d;
	case G4_ST_F32: memcpy(&u.f, p, 4); return u.f;
	case G4_ST_F16: memcpy(&u.u16, p, 2); return f16_f32(u.u16);
	case G4_ST_BF16: memcpy(&u.u16, p, 2); return g4_bf16_to_f32(u.u16);
	case G4_ST_I64: memcpy(&u.i64, p, 8); return (float)u.i64;
	case G4_ST_I32: memcpy(&u.i32, p, 4); return (float)u.i32;
	case G4_ST_I16: memcpy(&u.i16, p, 2); return (float)u.i16;
	case G4_ST_I8: return (float)(int8_t)p[0];
	case G4_ST_U64: memcpy(&u.u64, p, 8); return (float)u.u64;
	case G4_ST_U32: memcpy(&u.u32, p, 4); return (float)u.u32;
	case G4_ST_U16: memcpy(&u.u16, p, 2); return (float)u.u16;
	case G4_ST_U8: return (float)p[0];
	case G4_ST_BOOL: return p[0] ? 1.0f : 0.0f;
	case G4_ST_F8_E4M3: return e4m3_f32(p[0]);
	case G4_ST_F8_E5M2: return e5m2_f32(p[0]);
	}
	return 0;
}

int g4_st_to_f32(const g4_st_tensor *t, int64_t row0, int64_t n, float *dst)
{
	int64_t len = g4_st_row_len(t), rows = g4_st_n_rows(t);
	if (row0 < 0 || n < 0 || row0 > rows || n > rows - row0)
		return g4_err("tensor '%.200s': rows [%lld, %lld) out of range (it has %lld rows)",
			      t->name, (long long)row0, (long long)(row0 + n), (long long)rows);
	int64_t count = n * len;
	size_t sz = dtypes[t->dtype].size;
	const uint8_t *src = (const uint8_t *)t->data + (uint64_t)row0 * (uint64_t)len * sz;
	uint32_t dt = t->dtype;
	if (dt == G4_ST_F32) {
		memcpy(dst, src, (size_t)count * 4);
		return 0;
	}
	#pragma omp parallel for schedule(static) if (count > (1 << 16))
	for (int64_t i = 0; i < count; i++)
		dst[i] = elem_f32(dt, src + (size_t)i * sz);
	return 0;
}
