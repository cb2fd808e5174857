/* par.c - thread count (see par.h). */
#include <omp.h>
#include <sched.h>
#include <stdlib.h>
#include <unistd.h>

#include "err.h"
#include "par.h"

static int nthreads;

int g4_ncores(void)
{
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof set, &set) == 0) {
		int n = CPU_COUNT(&set);
		if (n > 0)
			return n;
	}
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (int)n : 1;
}

void g4_set_threads(int n)
{
	nthreads = n > 0 ? n : g4_ncores();
	omp_set_num_threads(nthreads);
}

int g4_threads(void)
{
	if (!nthreads)
		g4_set_threads(0);
	return nthreads;
}

int g4_parse_threads(const char *s)
{
	char *end;
	long n = strtol(s, &end, 10);
	if (!*s || *end || n < 1 || n > 1024)
		return g4_err("-t wants a thread count from 1 to 1024, not '%s'", s);
	return (int)n;
}
