/* repack.c - the kernels' copies of weight matrices (see repack.h). */
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kern.h"
#include "repack.h"
#include "vecdot.h"

const g4_rp_kernel *g4_rp_kernel_for(uint32_t t)
{
	return g4_rp_table(t);
}

void *g4_rp_scratch(size_t bytes, int64_t nact, int64_t nrows, float *y, size_t ldy)
{
	void *p = malloc(bytes);
	if (!p)
		for (int64_t j = 0; j < nact; j++)
			for (int64_t r = 0; r < nrows; r++)
				y[j * ldy + r] = __builtin_nanf("");
	return p;
}

void g4_rp_release(g4_mat *w)
{
	if (w && w->rp) {
		if (w->rp->owned)
			free(w->rp->data);
		free(w->rp);
		w->rp = NULL;
	}
}

/* Hands the mapped pages of [p, p+len) back to the kernel (whole pages
 * inside the range only): a private read-only file mapping reads them
 * again from the file if they are ever touched. */
static void drop_pages(const uint8_t *p, size_t len)
{
	long ps = sysconf(_SC_PAGESIZE);
	if (ps <= 0)
		return;
	uintptr_t a = ((uintptr_t)p + (uintptr_t)ps - 1) & ~((uintptr_t)ps - 1);
	uintptr_t z = ((uintptr_t)p + len) & ~((uintptr_t)ps - 1);
	if (z > a)
		madvise((void *)a, z - a, MADV_DONTNEED);
}

static g4_rp *make(const g4_mat *w, const g4_rp_kernel *k)
{
	size_t gb = k->group_bytes(w->ne0);
	if (!gb || w->ne1 <= 0 || w->ne2 <= 0)
		return NULL;
	int64_t groups = (w->ne1 + k->rows - 1) / k->rows;
	if (!k->pack) {		/* in place */
		g4_rp *rp = malloc(sizeof *rp);
		if (rp)
			*rp = (g4_rp){ .k = k, .data = (uint8_t *)w->data, .groups = groups,
				       .group_bytes = (size_t)k->rows * w->row_bytes, .mat_bytes = w->mat_bytes };
		return rp;
	}
	if ((uint64_t)groups * gb * (uint64_t)w->ne2 > SIZE_MAX / 2)
		return NULL;
	/* 2 MB aligned and advised as huge pages: 512 times fewer page faults
	 * while packing and TLB misses while streaming it */
	const size_t huge = (size_t)2 << 20, bytes = ((size_t)groups * gb * (size_t)w->ne2 + huge - 1) & ~(huge - 1);
	g4_rp *rp = malloc(sizeof *rp);
	uint8_t *data = rp ? aligned_alloc(huge, bytes) : NULL;
	if (!data) {
		free(rp);
		return NULL;
	}
	madvise(data, bytes, MADV_HUGEPAGE);	/* advice: failure is harmless */
	*rp = (g4_rp){ .k = k, .data = data, .groups = groups, .group_bytes = gb,
		       .mat_bytes = (size_t)groups * gb, .owned = 1 };
	int64_t total = groups * w->ne2;
#pragma omp parallel for schedule(static) if (total > 1 && !omp_in_parallel())
	for (int64_t i = 0; i < total; i++) {
		int64_t mat = i / groups, r0 = (i % groups) * k->rows;
		int nr = (int)(w->ne1 - r0 < k->rows ? w->ne1 - r0 : k->rows);
		k->pack(w->ne0, g4_mat_row(w, mat, r0), w->row_bytes, nr, data + (size_t)i * gb);
	}
	if (w->mapped)
		drop_pages(w->data, w->mat_bytes * (size_t)w->ne2);
	return rp;
}

const g4_rp *g4_rp_get(const g4_mat *cw, uint32_t t)
{
	const g4_rp_kernel *k = t == cw->type || (t == G4_DOT_BF16 && cw->type == G4_BF16) ? g4_rp_table(t) : NULL;
	g4_mat *w = (g4_mat *)cw;	/* the model owns its mats; the copy is a cache */
	if (!k)
		return NULL;
	g4_rp *rp;
#pragma omp critical(g4_repack)
	{
		if (w->rp && w->rp->k != k)
			g4_rp_release(w);	/* made for another code path or dot type */
		if (!w->rp)
			w->rp = make(w, k);
		rp = w->rp;
	}
	return rp;
}
