/* cli.c - shared argument-parsing pieces of the commands (see cli.h). */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

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

void g4_getopt_error(const char *prog, g4_usage_fn *usage, int c, char *const argv[])
{
	/* ':' comes only at the end of argv, after the option's word; for '?'
	 * optopt is 0 after an unknown long option (its word just passed), the
	 * letter of an unknown short one (maybe inside a cluster), or the value
	 * of a long option given an argument it does not take (--ids=3) */
	const char *word = optind > 0 ? argv[optind - 1] : "?";
	int is_long = !strncmp(word, "--", 2);
	char opt[3] = { '-', optopt > ' ' && optopt < 127 ? (char)optopt : '?', 0 };
	if (c == ':')
		g4_usage_error(prog, usage, "%s needs an argument", is_long ? word : opt);
	if (optopt == 0)
		g4_usage_error(prog, usage, "unknown option %s", word);
	if (is_long && strchr(word, '='))
		g4_usage_error(prog, usage, "%.*s takes no argument", (int)(strchr(word, '=') - word), word);
	g4_usage_error(prog, usage, "unknown option %s", opt);
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

/* A number within lo..hi, the bounds included or not. */
static int parse_num(const char *s, double lo, double hi, int incl, double *out)
{
	char *e;
	double v = strtod(s, &e);
	if (e == s || *e || !(incl ? v >= lo && v <= hi : v > lo && v < hi))
		return -1;
	*out = v;
	return 0;
}

int g4_parse_num(const char *s, double lo, double hi, double *out)
{
	return parse_num(s, lo, hi, 0, out);
}

int g4_parse_num_incl(const char *s, double lo, double hi, double *out)
{
	return parse_num(s, lo, hi, 1, out);
}

int g4_parse_u64(const char *s, uint64_t *out)
{
	if (*s < '0' || *s > '9')	/* strtoull would take a sign or blanks */
		return -1;
	char *e;
	errno = 0;
	unsigned long long v = strtoull(s, &e, 10);
	if (errno || *e)
		return -1;
	*out = (uint64_t)v;
	return 0;
}
