/* g4quant - GGUF conversion and quantisation.  For now: --info. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "gguf.h"
#include "par.h"

#include "version.h"

static const char usage[] =
	"usage: g4quant [-t N] --info FILE.gguf\n";

static const char help[] =
	"\n"
	"  --info FILE.gguf   print the metadata and the tensor table (name, type,\n"
	"                     shape, bytes) of a GGUF file, then the totals\n"
	"  -t N               threads (default: the cores available)\n"
	"  --help             this text\n"
	"  --version          the version\n";

static void bad_usage(const char *why)
{
	fprintf(stderr, "g4quant: %s\n%s", why, usage);
	exit(2);
}

int main(int argc, char **argv)
{
	const char *info = NULL;
	int threads = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			fputs(usage, stdout);
			fputs(help, stdout);
			return 0;
		} else if (!strcmp(a, "--version")) {
			puts("g4quant (g4) " G4_VERSION);
			return 0;
		} else if (!strcmp(a, "--info")) {
			if (++i == argc)
				bad_usage("--info needs a file");
			info = argv[i];
		} else if (!strcmp(a, "-t")) {
			if (++i == argc)
				bad_usage("-t needs a number");
			if ((threads = g4_parse_threads(argv[i])) < 0)
				bad_usage(g4_errmsg());
		} else {
			char why[256];
			snprintf(why, sizeof why, "unknown argument '%s'", a);
			bad_usage(why);
		}
	}
	if (!info)
		bad_usage("nothing to do");
	g4_set_threads(threads);

	g4_gguf *g = g4_gguf_open(info);
	if (!g)
		g4_die("g4quant");
	g4_gguf_print_info(g, stdout);
	g4_gguf_close(g);
	if (fflush(stdout) != 0 || ferror(stdout))
		g4_fatal("g4quant", "writing the output failed");
	return 0;
}
