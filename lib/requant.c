/* requant.c - GGUF -> GGUF quantisation as llama-quantize does it (see
 * requant.h; spec gguf-and-quant.md §3.1, §3.9). */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "err.h"
#include "par.h"
#include "qtypes.h"
#include "quantize.h"
#include "requant.h"

#define CHUNK_ELEMS ((int64_t)1 << 20)	/* f32 elements converted at once: 4 MiB */

void g4_requant_opts_init(g4_requant_opts *o, int ftype)
{
	memset(o, 0, sizeof *o);
	g4_qmix_opts_init(&o->mix, ftype);
}

static int arch_key(const g4_gguf *g, const char *suffix, char *key, size_t n)
{
	g4_str a;
	if (g4_gguf_get_str(g, "general.architecture", &a))
		return -1;
	if (a.len + strlen(suffix) + 2 > n)
		return g4_err("general.architecture is too long");
	snprintf(key, n, "%.*s.%s", (int)a.len, a.ptr, suffix);
	return 0;
}

static int opt_layer0(const g4_gguf *g, const char *suffix, int64_t def, int64_t *out)
{
	char key[256];
	if (arch_key(g, suffix, key, sizeof key))
		return -1;
	if (g4_gguf_find_key(g, key) < 0) {
		*out = def;
		return 0;
	}
	return g4_gguf_get_layer_i64(g, key, 0, out);
}

int g4_requant_hparams(const g4_gguf *g, g4_qmix_opts *m)
{
	char key[256];
	uint32_t nl;
	if (arch_key(g, "block_count", key, sizeof key) || g4_gguf_get_u32(g, key, &nl))
		return -1;
	m->n_layer = nl;
	if (opt_layer0(g, "attention.head_count", 0, &m->n_head) ||
	    opt_layer0(g, "attention.head_count_kv", m->n_head, &m->n_head_kv) ||
	    opt_layer0(g, "expert_count", 0, &m->n_expert))
		return -1;
	return 0;
}

static int is_float(uint32_t t)
{
	return t == G4_F32 || t == G4_F16 || t == G4_BF16;
}

static int is_embd(const char *name)
{
	return !strcmp(name, "token_embd.weight") || !strcmp(name, "per_layer_token_embd.weight");
}

/* Gives the pages of [p, p+n) back to the page cache: the input is read once,
 * so the resident set never holds more than the chunk being worked on. */
static void release(const void *p, uint64_t n)
{
	if (!n)
		return;
	uintptr_t ps = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t a = (uintptr_t)p & ~(ps - 1), b = ((uintptr_t)p + n + ps - 1) & ~(ps - 1);
	madvise((void *)a, b - a, MADV_DONTNEED);
}

static int row_to_f32(uint32_t t, const uint8_t *src, float *dst, int64_t n)
{
	switch (t) {
	case G4_F32:
		memcpy(dst, src, (size_t)n * 4);
		break;
	case G4_BF16:	/* bf16 -> f32 is exact: the upper half of the bits */
		for (int64_t i = 0; i < n; i++) {
			uint32_t u = (uint32_t)(src[2 * i] | src[2 * i + 1] << 8) << 16;
			memcpy(&dst[i], &u, 4);
		}
		break;
	default:
		g4_dequant_row(t, src, dst, n);
	}
	for (int64_t i = 0; i < n; i++)
		if (!isfinite(dst[i]))
			return -1;
	return 0;
}

/* Checks copied float tensors for NaN/inf, as llama.cpp's loader does. */
static int check_copy(uint32_t type, const uint8_t *p, uint64_t nbytes, const char *name)
{
	if (!is_float(type))
		return 0;
	uint64_t n = nbytes / (type == G4_F32 ? 4 : 2);
	for (uint64_t i = 0; i < n; i++) {
		int bad;
		if (type == G4_F32) {
			uint32_t u;
			memcpy(&u, p + 4 * i, 4);
			bad = (u & 0x7f800000u) == 0x7f800000u;
		} else {
			uint16_t h = (uint16_t)(p[2 * i] | p[2 * i + 1] << 8);
			bad = type == G4_F16 ? (h & 0x7c00) == 0x7c00 : (h & 0x7f80) == 0x7f80;
		}
		if (bad)
			return g4_err("tensor '%s' has invalid data (NaN or inf at element %llu)", name,
				      (unsigned long long)i);
	}
	return 0;
}

struct job {
	const g4_requant_opts *o;
	FILE *f;
	g4_ggufw *w;
	uint64_t done, total, idx, n;
	float *fbuf;
	uint8_t *qbuf;
	size_t fcap, qcap;
	int out_err;		/* the error is the output's (not the input's) */
};

/* The next piece of the current tensor's data to the output. */
static int jwrite(struct job *j, const void *p, uint64_t k, int last)
{
	if (g4_ggufw_write_data_part(j->w, j->f, p, k, last)) {
		j->out_err = 1;
		return -1;
	}
	return 0;
}

static void progress(struct job *j, const char *name)
{
	if (j->o->progress)
		j->o->progress(j->o->progress_ud, j->idx, j->n, name, j->done, j->total);
}

static uint64_t src_bytes(const g4_qsrc *s)
{
	return g4_row_bytes(s->src_type, s->ne[0]) * (uint64_t)(s->ne[1] * s->ne[2] * s->ne[3]);
}

static int copy_tensor(struct job *j, const g4_qsrc *t)
{
	uint64_t nbytes = src_bytes(t);
	if (check_copy(t->src_type, t->data, nbytes, t->name))
		return -1;
	const uint8_t *p = t->data;
	uint64_t left = nbytes, step = (uint64_t)CHUNK_ELEMS * 4;
	while (left) {
		uint64_t k = left < step ? left : step;
		if (jwrite(j, p, k, k == left))
			return -1;
		if (t->mapped)
			release(p, k);
		p += k;
		left -= k;
		j->done += k;
		progress(j, t->name);
	}
	if (nbytes == 0 && jwrite(j, p, 0, 1))
		return -1;
	return 0;
}

static int grow(void **buf, size_t *cap, size_t need)
{
	if (need <= *cap)
		return 0;
	void *p = realloc(*buf, need);
	if (!p)
		return g4_err("out of memory (%zu bytes)", need);
	*buf = p;
	*cap = need;
	return 0;
}

/* nrows rows of f32 -> type (F32/F16/BF16 or a quantised type), in the
 * calling thread; 0 if the quantiser refused */
static int quant_rows(uint32_t type, const float *src, uint8_t *dst, int64_t nrows, int64_t n,
		      size_t out_row, const float *imat)
{
	for (int64_t r = 0; r < nrows; r++)
		if (!g4_quantize_row(type, src + r * n, dst + (size_t)r * out_row, n, imat))
			return -1;
	return 0;
}

/* A source row as the llama.cpp tool would have read it: its bytes to f32,
 * rounded through the type the intermediate file would have held. */
static int read_row(const g4_qsrc *t, const uint8_t *src, float *dst, int64_t n)
{
	if (row_to_f32(t->src_type, src, dst, n))
		return -1;
	if (t->type != t->src_type) {
		if (t->type == G4_F16)
			for (int64_t i = 0; i < n; i++)
				dst[i] = g4_f16_to_f32(g4_f32_to_f16(dst[i]));
		else if (t->type == G4_BF16)
			for (int64_t i = 0; i < n; i++)
				dst[i] = g4_bf16_to_f32(g4_f32_to_bf16(dst[i]));
	}
	return 0;
}

static int convert_tensor(struct job *j, const g4_qsrc *t, uint32_t type, const float *imat)
{
	const char *name = t->name;
	int64_t n = t->ne[0], nrows = t->ne[1], nmat = t->ne[2] * t->ne[3];
	size_t in_row = g4_row_bytes(t->src_type, n), out_row = g4_row_bytes(type, n);
	if (!in_row || !out_row)
		return g4_err("tensor '%s': rows of %lld do not fit type %s", name, (long long)n,
			      g4_type_name(in_row ? type : t->src_type));
	int64_t crows = CHUNK_ELEMS / n;
	if (crows < 1)
		crows = 1;
	if (crows > nrows)
		crows = nrows;
	if (grow((void **)&j->fbuf, &j->fcap, (size_t)(crows * n) * sizeof(float)) ||
	    grow((void **)&j->qbuf, &j->qcap, (size_t)crows * out_row))
		return -1;
	int nth = g4_threads();
	const uint8_t *base = t->data;
	uint64_t total_out = (uint64_t)nmat * (uint64_t)nrows * out_row, written = 0;
	for (int64_t m = 0; m < nmat; m++) {
		const float *im = imat ? imat + (m % t->ne[2]) * n : NULL;
		for (int64_t r0 = 0; r0 < nrows; r0 += crows) {
			int64_t nr = nrows - r0 < crows ? nrows - r0 : crows;
			const uint8_t *src = base + ((uint64_t)m * (uint64_t)nrows + (uint64_t)r0) * in_row;
			/* the rows are split over the threads; each part is read and
			 * quantised by one thread; rows are independent */
			int64_t parts = nth > nr ? nr : nth;
			if (parts > 1 + nr * n / 65536)	/* small chunks: not worth waking threads */
				parts = 1 + nr * n / 65536;
			int bad = 0;
			float *fb = j->fbuf;
			uint8_t *qb = j->qbuf;
#pragma omp parallel for schedule(static) num_threads(nth) reduction(|:bad) if (parts > 1)
			for (int64_t p = 0; p < parts; p++) {
				int64_t a = nr * p / parts, b = nr * (p + 1) / parts;
				int mybad = 0;
				for (int64_t r = a; r < b; r++)
					if (read_row(t, src + (uint64_t)r * in_row, fb + r * n, n))
						mybad = 1;
				if (!mybad && b > a &&
				    quant_rows(type, fb + a * n, qb + (size_t)a * out_row, b - a, n, out_row, im))
					mybad = 2;
				bad |= mybad;
			}
			if (bad & 2)	/* (the quantiser's message stayed in its thread) */
				return g4_err("tensor '%s': cannot quantise rows of %lld to %s", name,
					      (long long)n, g4_type_name(type));
			if (bad)
				return g4_err("tensor '%s' has invalid data (NaN or inf in rows %lld..%lld)", name,
					      (long long)(m * nrows + r0), (long long)(m * nrows + r0 + nr - 1));
			if (t->mapped)
				release(src, (uint64_t)nr * in_row);
			written += (uint64_t)nr * out_row;
			if (jwrite(j, j->qbuf, (uint64_t)nr * out_row, written == total_out))
				return -1;
			j->done += (uint64_t)nr * in_row;
			progress(j, name);
		}
	}
	if (total_out == 0 && jwrite(j, j->qbuf, 0, 1))
		return -1;
	return 0;
}

int g4_qwrite(g4_ggufw *w, size_t n, const g4_qsrc *src, const uint32_t *types,
	      const float *const *imatrix, const g4_requant_opts *o, FILE *out)
{
	struct job j = { .o = o, .f = out, .w = w, .n = n };
	int rc = -1;
	g4_ggufw_set_name(w, o->out_name);
	for (size_t i = 0; i < n; i++) {
		if (g4_ggufw_add_tensor(w, src[i].name, types[i], g4_qmix_ndims(src[i].ne), src[i].ne))
			goto out;
		j.total += src_bytes(&src[i]);
	}
	if (g4_ggufw_write_header(w, out)) {
		j.out_err = 1;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		j.idx = i;
		progress(&j, src[i].name);
		if (types[i] == src[i].src_type) {
			if (copy_tensor(&j, &src[i]))
				goto out;
		} else if (convert_tensor(&j, &src[i], types[i], imatrix ? imatrix[i] : NULL))
			goto out;
	}
	j.idx = n;
	progress(&j, "");
	if (g4_ggufw_finish(w, out)) {
		j.out_err = 1;
		goto out;
	}
	rc = 0;
out:
	/* errors of the input (its tensors) name it; write errors name the output */
	if (rc && !j.out_err && o->in_name)
		g4_err_ctx("%s: ", o->in_name);
	free(j.fbuf);
	free(j.qbuf);
	return rc;
}

static int set_meta(g4_ggufw *w, const g4_requant_opts *o)
{
	/* llama-quantize's gguf_set_val_* removes a key and appends it */
	if (g4_ggufw_remove(w, "general.quantization_version") ||
	    g4_ggufw_set_u32(w, "general.quantization_version", 2) ||
	    g4_ggufw_remove(w, "general.file_type") ||
	    g4_ggufw_set_u32(w, "general.file_type", (uint32_t)o->mix.ftype) ||
	    g4_ggufw_remove(w, "split.no") || g4_ggufw_remove(w, "split.count") ||
	    g4_ggufw_remove(w, "split.tensors.count") || g4_ggufw_remove(w, "general.alignment"))
		return -1;
	if (o->imatrix) {
		char s[128];
		snprintf(s, sizeof s, "%s", o->imatrix_path ? o->imatrix_path : "");
		if (g4_ggufw_remove(w, "quantize.imatrix.file") ||
		    g4_ggufw_set_str(w, "quantize.imatrix.file", s))
			return -1;
		if (o->imatrix->dataset) {
			snprintf(s, sizeof s, "%s", o->imatrix->dataset);
			if (g4_ggufw_remove(w, "quantize.imatrix.dataset") ||
			    g4_ggufw_set_str(w, "quantize.imatrix.dataset", s))
				return -1;
		}
		if (g4_ggufw_remove(w, "quantize.imatrix.entries_count") ||
		    g4_ggufw_set_u32(w, "quantize.imatrix.entries_count", (uint32_t)o->imatrix->n))
			return -1;
		if (o->imatrix->chunk_count > 0 &&
		    (g4_ggufw_remove(w, "quantize.imatrix.chunks_count") ||
		     g4_ggufw_set_u32(w, "quantize.imatrix.chunks_count", (uint32_t)o->imatrix->chunk_count)))
			return -1;
	}
	return 0;
}

int g4_requant_srcs(g4_ggufw *w, size_t n, const g4_qsrc *src, const g4_requant_opts *o0, FILE *out)
{
	g4_requant_opts o = *o0;
	int rc = -1;
	size_t m = n ? n : 1;
	g4_qmix_tensor *t = calloc(m, sizeof *t), *st = calloc(m, sizeof *st);
	g4_qsrc *s = calloc(m, sizeof *s);
	size_t *order = calloc(m, sizeof *order);
	uint32_t *types = calloc(m, sizeof *types);
	const float **im = calloc(m, sizeof *im);
	if (!t || !st || !s || !order || !types || !im) {
		g4_err("out of memory");
		goto out;
	}
	if (g4_ftype_default_type(o.mix.ftype) < 0) {
		g4_err("unsupported file type %d", o.mix.ftype);
		goto out;
	}
	o.mix.has_imatrix = o.imatrix != NULL;
	for (size_t i = 0; i < n; i++) {
		t[i].name = src[i].name;
		memcpy(t[i].ne, src[i].ne, sizeof t[i].ne);
		t[i].type = src[i].type;
	}
	g4_qmix_order(t, n, order);
	for (size_t i = 0; i < n; i++) {
		st[i] = t[order[i]];
		s[i] = src[order[i]];
	}
	if (g4_qmix_choose(&o.mix, st, n, types))
		goto out;
	for (size_t i = 0; i < n; i++) {
		const g4_qsrc *x = &s[i];
		if (types[i] == x->type)
			continue;
		if (!is_float(x->type) && !o.allow_requantize) {
			g4_err("tensor '%s': requantizing from type %s is disabled (use --allow-requantize)",
			       x->name, g4_type_name(x->type));
			goto out;
		}
		if (!is_float(x->src_type) && !g4_type_supported(x->src_type)) {
			g4_err("tensor '%s': cannot read type %s", x->name, g4_type_name(x->src_type));
			goto out;
		}
		if (!is_float(types[i]) && !g4_quantize_supported(types[i])) {
			g4_err("tensor '%s': cannot quantise to type %s", x->name, g4_type_name(types[i]));
			goto out;
		}
		if (o.imatrix) {
			int64_t ni;
			const float *v = g4_imatrix_find(o.imatrix, x->name, &ni);
			if (v && ni == x->ne[0] * x->ne[2])
				im[i] = v;
			else if (v && !is_embd(x->name)) {
				g4_err("tensor '%s': the imatrix has %lld values, the tensor needs %lld", x->name,
				       (long long)ni, (long long)(x->ne[0] * x->ne[2]));
				goto out;
			}
		}
		if (!im[i] && g4_qmix_requires_imatrix(x->name, types[i], o.mix.ftype)) {
			g4_err("tensor '%s': type %s needs an importance matrix entry (--imatrix)", x->name,
			       g4_type_name(types[i]));
			goto out;
		}
	}
	if (set_meta(w, &o))
		goto out;
	rc = g4_qwrite(w, n, s, types, im, &o, out);	/* names the input or the output itself */
	goto done;
out:
	if (o.in_name)
		g4_err_ctx("%s: ", o.in_name);
done:
	free(t);
	free(st);
	free(s);
	free(order);
	free(types);
	free(im);
	return rc;
}

int g4_requant(const g4_gguf *in, FILE *out, const g4_requant_opts *o0)
{
	g4_requant_opts o = *o0;
	if (!o.in_name)
		o.in_name = in->path;
	size_t n = (size_t)in->n_tensors;
	int rc = -1;
	g4_qsrc *s = calloc(n ? n : 1, sizeof *s);
	char **names = calloc(n ? n : 1, sizeof *names);
	g4_ggufw *w = g4_ggufw_new();
	if (!s || !names || !w) {
		g4_err("out of memory");
		goto out;
	}
	if (g4_requant_hparams(in, &o.mix))
		goto out;
	for (size_t i = 0; i < n; i++) {
		const g4_gguf_tensor *x = &in->tensors[i];
		names[i] = malloc(x->name.len + 1);
		if (!names[i]) {
			g4_err("out of memory");
			goto out;
		}
		memcpy(names[i], x->name.ptr, x->name.len);
		names[i][x->name.len] = 0;
		s[i].name = names[i];
		memcpy(s[i].ne, x->ne, sizeof s[i].ne);
		s[i].type = s[i].src_type = x->type;
		s[i].data = x->data;
		s[i].mapped = in->mapped;
	}
	for (uint64_t i = 0; i < in->n_kv; i++)
		if (g4_ggufw_copy_kv(w, in, i))
			goto out;
	rc = g4_requant_srcs(w, n, s, &o, out);	/* names the input or the output itself */
	goto done;
out:
	if (o.in_name)
		g4_err_ctx("%s: ", o.in_name);
done:
	if (names)
		for (size_t i = 0; i < n; i++)
			free(names[i]);
	free(names);
	free(s);
	g4_ggufw_free(w);
	return rc;
}
