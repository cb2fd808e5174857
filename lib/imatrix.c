/* imatrix.c - reading llama.cpp imatrix files (see imatrix.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "fileio.h"
#include "gguf.h"
#include "imatrix.h"
#include "qtypes.h"

#define MAX_FILE ((size_t)1 << 34)	/* 16 GiB: far above any real imatrix */

void g4_imatrix_free(g4_imatrix *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++) {
		free(m->e[i].name);
		free(m->e[i].val);
	}
	free(m->e);
	free(m->dataset);
	free(m);
}

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const g4_imatrix_entry *)a)->name, ((const g4_imatrix_entry *)b)->name);
}

/* Adds (or, as std::map's operator[] does, replaces) an entry; takes val. */
static int put(g4_imatrix *m, size_t *cap, const char *name, size_t nlen, float *val, int64_t n)
{
	for (size_t i = 0; i < m->n; i++)
		if (strlen(m->e[i].name) == nlen && !memcmp(m->e[i].name, name, nlen)) {
			free(m->e[i].val);
			m->e[i].val = val;
			m->e[i].n = n;
			return 0;
		}
	if (m->n == *cap) {
		size_t nc = *cap ? *cap * 2 : 64;
		g4_imatrix_entry *e = realloc(m->e, nc * sizeof *e);
		if (!e) {
			free(val);
			return g4_err("out of memory");
		}
		m->e = e;
		*cap = nc;
	}
	char *s = malloc(nlen + 1);
	if (!s) {
		free(val);
		return g4_err("out of memory");
	}
	memcpy(s, name, nlen);
	s[nlen] = 0;
	m->e[m->n++] = (g4_imatrix_entry){ s, val, n };
	return 0;
}

static int finite_all(const g4_imatrix *m)
{
	for (size_t i = 0; i < m->n; i++)
		for (int64_t j = 0; j < m->e[i].n; j++)
			if (!isfinite(m->e[i].val[j]))
				return g4_err("entry '%s': value %lld is not finite", m->e[i].name, (long long)j);
	return 0;
}

static int32_t rd32(const uint8_t *p)
{
	uint32_t v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
	return (int32_t)v;
}

static int load_legacy(g4_imatrix *m, const uint8_t *p, size_t size)
{
	size_t off = 0, cap = 0;
	if (size < 4)
		return g4_err("no entries (file of %zu bytes)", size);
	int32_t ne = rd32(p);
	off = 4;
	if (ne < 1)
		return g4_err("no entries (count %d)", ne);
	for (int32_t i = 0; i < ne; i++) {
		if (size - off < 4)
			return g4_err("entry %d: truncated at byte %zu", i + 1, off);
		int32_t len = rd32(p + off);
		off += 4;
		if (len < 0 || (size_t)len > size - off)
			return g4_err("entry %d: bad name length %d at byte %zu", i + 1, len, off - 4);
		const char *name = (const char *)p + off;
		size_t nlen = strnlen(name, (size_t)len);	/* the name ends at a NUL, as upstream */
		off += (size_t)len;
		if (size - off < 8)
			return g4_err("entry %d ('%.*s'): truncated at byte %zu", i + 1, (int)nlen, name, off);
		int32_t ncall = rd32(p + off), nval = rd32(p + off + 4);
		off += 8;
		if (nval < 1 || (size_t)nval > (size - off) / 4)
			return g4_err("entry %d ('%.*s'): bad value count %d at byte %zu", i + 1, (int)nlen, name,
				      nval, off - 4);
		float *v = malloc((size_t)nval * sizeof *v);
		if (!v)
			return g4_err("out of memory");
		memcpy(v, p + off, (size_t)nval * 4);	/* little-endian host */
		off += (size_t)nval * 4;
		if (ncall > 0)
			for (int32_t j = 0; j < nval; j++)
				v[j] = v[j] / (float)ncall;
		if (put(m, &cap, name, nlen, v, nval))
			return -1;
	}
	if (size - off >= 4) {
		m->chunk_count = rd32(p + off);
		off += 4;
		if (size - off >= 4) {
			int32_t len = rd32(p + off);
			off += 4;
			if (len > 0 && (size_t)len <= size - off) {
				size_t dl = strnlen((const char *)p + off, (size_t)len);
				m->dataset = malloc(dl + 1);
				if (!m->dataset)
					return g4_err("out of memory");
				memcpy(m->dataset, p + off, dl);
				m->dataset[dl] = 0;
			}
		}
	}
	m->legacy = 1;
	return 0;
}

static int ends_with(const g4_str *s, const char *suf, size_t *stem)
{
	size_t k = strlen(suf);
	if (s->len < k || memcmp(s->ptr + s->len - k, suf, k))
		return 0;
	*stem = s->len - k;
	return 1;
}

static int load_gguf(g4_imatrix *m, const void *buf, size_t size, const char *what)
{
	g4_gguf *g = g4_gguf_open_mem(buf, size, what);
	if (!g)
		return -1;
	int rc = -1;
	size_t cap = 0;
	if (g->n_tensors < 1) {
		g4_err("no entries");
		goto out;
	}
	int64_t kd = g4_gguf_find_key(g, "imatrix.datasets");
	int64_t kc = g4_gguf_find_key(g, "imatrix.chunk_count");
	int64_t ks = g4_gguf_find_key(g, "imatrix.chunk_size");
	if (kd < 0 || kc < 0 || ks < 0) {
		g4_err("missing imatrix metadata (imatrix.datasets, imatrix.chunk_count, imatrix.chunk_size)");
		goto out;
	}
	if (g->kv[kd].type == G4_GGUF_ARRAY && g->kv[kd].arr_type == G4_GGUF_STRING && g->kv[kd].arr_n > 0) {
		g4_str *ds;
		uint64_t nd;
		if (g4_gguf_get_str_arr(g, "imatrix.datasets", &ds, &nd))
			goto out;
		if (nd > 0) {
			m->dataset = malloc(ds[0].len + 1);
			if (m->dataset) {
				memcpy(m->dataset, ds[0].ptr, ds[0].len);
				m->dataset[ds[0].len] = 0;
			}
		}
		free(ds);
		if (!m->dataset) {
			g4_err("out of memory");
			goto out;
		}
	}
	uint32_t cc;
	if (g4_gguf_get_u32(g, "imatrix.chunk_count", &cc))
		goto out;
	m->chunk_count = (int32_t)cc;
	/* pair NAME.in_sum2 with NAME.counts */
	for (uint64_t i = 0; i < g->n_tensors; i++) {
		const g4_gguf_tensor *s = &g->tensors[i];
		size_t stem;
		if (!ends_with(&s->name, ".in_sum2", &stem))
			continue;
		char cname[128];
		if (stem + sizeof ".counts" > sizeof cname) {
			g4_err("tensor '%.*s': name too long", (int)s->name.len, s->name.ptr);
			goto out;
		}
		memcpy(cname, s->name.ptr, stem);
		memcpy(cname + stem, ".counts", sizeof ".counts");
		const g4_gguf_tensor *c = g4_gguf_find_tensor(g, cname);
		if (!c) {
			g4_err("mismatched sums and counts for %.*s", (int)stem, s->name.ptr);
			goto out;
		}
		if (s->type != G4_F32 || c->type != G4_F32) {
			g4_err("entry '%.*s': sums and counts must be F32", (int)stem, s->name.ptr);
			goto out;
		}
		uint64_t nval = s->nbytes / 4, ncnt = c->nbytes / 4;
		if (nval == 0 || ncnt == 0 || nval % ncnt) {
			g4_err("entry '%.*s': %llu sums do not split into %llu counts", (int)stem, s->name.ptr,
			       (unsigned long long)nval, (unsigned long long)ncnt);
			goto out;
		}
		float *v = malloc(nval * sizeof *v);
		if (!v) {
			g4_err("out of memory");
			goto out;
		}
		const float *sum = s->data, *cnt = c->data;
		uint64_t ne0 = nval / ncnt;
		for (uint64_t j = 0; j < ncnt; j++) {
			float cj;
			memcpy(&cj, &cnt[j], 4);
			float count = (float)lroundf(cj);
			for (uint64_t k = 0; k < ne0; k++) {
				float x;
				memcpy(&x, &sum[j * ne0 + k], 4);
				v[j * ne0 + k] = count > 0.0f ? x / count : 1.0f;
			}
		}
		if (put(m, &cap, s->name.ptr, stem, v, (int64_t)nval))
			goto out;
	}
	/* a .counts without its .in_sum2 */
	for (uint64_t i = 0; i < g->n_tensors; i++) {
		const g4_gguf_tensor *c = &g->tensors[i];
		size_t stem;
		if (!ends_with(&c->name, ".counts", &stem))
			continue;
		int found = 0;
		for (size_t k = 0; k < m->n && !found; k++)
			found = strlen(m->e[k].name) == stem && !memcmp(m->e[k].name, c->name.ptr, stem);
		if (!found) {
			g4_err("mismatched sums and counts for %.*s", (int)stem, c->name.ptr);
			goto out;
		}
	}
	rc = 0;
out:
	g4_gguf_close(g);
	return rc;
}

g4_imatrix *g4_imatrix_load_mem(const void *buf, size_t n, const char *name)
{
	g4_imatrix *m = calloc(1, sizeof *m);
	if (!m) {
		g4_err("out of memory");
		return NULL;
	}
	int rc = n >= 4 && !memcmp(buf, "GGUF", 4) ? load_gguf(m, buf, n, name) : load_legacy(m, buf, n);
	if (!rc && m->n == 0)
		rc = g4_err("no entries");
	if (!rc)
		rc = finite_all(m);
	if (rc) {
		g4_err_ctx("imatrix %s: ", name);
		g4_imatrix_free(m);
		return NULL;
	}
	qsort(m->e, m->n, sizeof *m->e, cmp_entry);
	return m;
}

g4_imatrix *g4_imatrix_load(const char *path)
{
	char *buf;
	size_t n;
	if (g4_slurp(path, MAX_FILE, &buf, &n))
		return NULL;
	g4_imatrix *m = g4_imatrix_load_mem(buf, n, path);
	free(buf);
	return m;
}

const float *g4_imatrix_find(const g4_imatrix *m, const char *name, int64_t *n)
{
	size_t lo = 0, hi = m ? m->n : 0;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(m->e[mid].name, name);
		if (!c) {
			*n = m->e[mid].n;
			return m->e[mid].val;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}
