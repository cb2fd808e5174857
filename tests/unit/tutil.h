/* tutil.h - helpers shared by several unit tests (beside t.h): golden JSON
 * files, float comparisons, in-memory FILEs.
 *
 *   cJSON *j = t_load_json("multimodal/prompts.json");  (NULL + CHECK fails)
 *   float d = t_maxdiff(got, ref, n, &at);              (max |got - ref|)
 *   t_mem m; FILE *f = t_mem_open(&m); ...; t_mem_close(&m);  (m.p, m.n)
 */
#ifndef G4_TUTIL_H
#define G4_TUTIL_H
#include <cjson/cJSON.h>
#include "t.h"

/* Parses tests/data/NAME as JSON; NULL (and a failed CHECK) when it cannot. */
static inline cJSON *t_load_json(const char *name)
{
	size_t n = 0;
	char *buf = t_slurp(t_data(name), &n);
	if (!buf)
		return NULL;
	char *z = realloc(buf, n + 1);
	if (!z) {
		free(buf);
		CHECK(0, "out of memory reading %s", name);
		return NULL;
	}
	z[n] = 0;
	cJSON *j = cJSON_Parse(z);
	free(z);
	CHECK(j != NULL, "cannot parse %s", name);
	return j;
}

/* Largest |a[i] - b[i]| in float (a NaN counts as larger than anything);
 * its index in *at when at is not NULL. */
static inline float t_maxdiff(const float *a, const float *b, size_t n, size_t *at)
{
	float m = 0;
	for (size_t i = 0; i < n; i++) {
		float d = fabsf(a[i] - b[i]);
		if (!(d <= m)) { m = d; if (at) *at = i; }
	}
	return m;
}

/* A FILE writing into memory: after t_mem_close, p[0..n) holds the bytes
 * (free(p) when done). */
typedef struct {
	char *p;
	size_t n;
	FILE *f;
} t_mem;

static inline FILE *t_mem_open(t_mem *m)
{
	m->p = NULL;
	m->n = 0;
	m->f = open_memstream(&m->p, &m->n);
	return m->f;
}

static inline void t_mem_close(t_mem *m)
{
	fclose(m->f);
	m->f = NULL;
}
#endif
