/* cli.h - the pieces of argument parsing every command repeats: usage
 * errors (exit 2), --version, numbers within a range.
 *
 *   static void usage(FILE *f) { fputs("usage: g4xxx ...\n", f); }
 *   ...
 *   if (!strcmp(a, "--version"))
 *       return g4_print_version("g4xxx"), 0;
 *   if (g4_parse_int(v, 1, 100000, &n))
 *       g4_usage_error("g4xxx", usage, "--frames %s: must be from 1 to 100000", v);
 */
#ifndef G4_CLI_H
#define G4_CLI_H
#include <stdint.h>
#include <stdio.h>

/* Prints the command's usage text on f (stdout for --help, stderr after a
 * usage error). */
typedef void g4_usage_fn(FILE *f);

/* Prints "PROG: MESSAGE" (printf-style) on stderr, then usage(stderr) when
 * usage is not NULL, and exits with status 2. */
void g4_usage_error(const char *prog, g4_usage_fn *usage, const char *fmt, ...)
	__attribute__((noreturn, format(printf, 3, 4)));

/* For getopt_long with opterr = 0 and an option string that starts with
 * ':': the usage error for its return c, ':' (a missing argument) or '?'
 * (an unknown option), naming the option.  Does not return. */
void g4_getopt_error(const char *prog, g4_usage_fn *usage, int c, char *const argv[])
	__attribute__((noreturn));

/* Prints "PROG (g4) VERSION" on stdout. */
void g4_print_version(const char *prog);

/* A whole decimal integer (strtol syntax) from lo to hi into *out: 0, or -1
 * (no message; *out unchanged) when s is not one. */
int g4_parse_int(const char *s, long lo, long hi, int *out);

/* A number (strtod syntax) with lo < x < hi into *out: 0, or -1 (no
 * message; *out unchanged) when s is not one (NaN never is). */
int g4_parse_num(const char *s, double lo, double hi, double *out);

/* The same with the bounds included: lo <= x <= hi. */
int g4_parse_num_incl(const char *s, double lo, double hi, double *out);

/* A whole decimal number 0 .. 2^64-1 (digits only, no sign) into *out: 0,
 * or -1 (no message; *out unchanged). */
int g4_parse_u64(const char *s, uint64_t *out);

#endif
