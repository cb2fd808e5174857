/* cli.c - shared argument-parsing pieces of the commands (see cli.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>

#include "cli.h"
#include "version.h"

void g4_usage_error(const char *prog, g4_usage_fn *usage, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (usage)
		usage(stderr);
	exit(2);
}

void g4_print_version(const char *prog)
{
	printf("%s (g4) %s\n", prog, G4_VERSION);
}

int g4_parse_int(const char *s, long lo, long hi, int *out)
{
	char *e;
	errno = 0;
	long v = strtol(s, &e, 10);
	if (errno || e == s || *e || v < lo || v > hi || v < -2147483647L || v > 2147483647L)
		return -1;
	*out = (int)v;
	return 0;
}

int g4_parse_num(const char *s, double lo, double hi, double *out)
{
	char *e;
	double v = strtod(s, &e);
	if (e == s || *e || !(v > lo && v < hi))
		return -1;
	*out = v;
	return 0;
}
