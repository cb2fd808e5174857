/* t.h - the smallest test harness that does the job.
 *
 *   static void test_roundtrip(void) { CHECK(x == 1, "x is %d", x); }
 *   int main(void) { RUN(test_roundtrip); return t_done(); }
 *
 * RUN prints "PASS name" or "FAIL name: ..." (one line per failed CHECK,
 * then the verdict).  tests/run.sh counts those lines.  Data files are found
 * through t_data("name") = $G4_DATA/name (tests/data by default). */
#ifndef G4_T_H
#define G4_T_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

static int t_failed_checks, t_cases_failed;
static const char *t_cur;

#define CHECK(cond, ...) do { if (!(cond)) { t_failed_checks++; \
	printf("  %s:%d: %s: ", __FILE__, __LINE__, t_cur); printf(__VA_ARGS__); \
	printf("\n"); } } while (0)

#define RUN(fn) do { int t_before = t_failed_checks; t_cur = #fn; fn(); \
	if (t_failed_checks == t_before) printf("PASS %s\n", #fn); \
	else { printf("FAIL %s\n", #fn); t_cases_failed++; } fflush(stdout); } while (0)

static inline int t_done(void) { return t_cases_failed ? 1 : 0; }

static inline const char *t_data(const char *name)
{
	static char buf[8][4096]; static int k;
	const char *d = getenv("G4_DATA");
	char *b = buf[k++ & 7];
	snprintf(b, 4096, "%s/%s", d ? d : "tests/data", name);
	return b;
}

static inline const char *t_tmp(const char *name)
{
	static char buf[8][4096]; static int k;
	const char *d = getenv("G4_TMP");
	char *b = buf[k++ & 7];
	snprintf(b, 4096, "%s/%s", d ? d : "/tmp", name);
	return b;
}

/* Reads a whole file; returns NULL (and CHECK-fails) when it cannot. */
static inline void *t_slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb"); void *p = NULL; long len;
	if (!f) { CHECK(0, "cannot open %s", path); return NULL; }
	fseek(f, 0, SEEK_END); len = ftell(f); fseek(f, 0, SEEK_SET);
	p = malloc(len ? (size_t)len : 1);
	if (p && fread(p, 1, (size_t)len, f) != (size_t)len) { free(p); p = NULL; }
	fclose(f);
	CHECK(p != NULL, "cannot read %s", path);
	if (n) *n = p ? (size_t)len : 0;
	return p;
}
#endif
