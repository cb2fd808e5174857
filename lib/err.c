/* err.c - thread-local error messages (see err.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "fileio.h"

static _Thread_local char msg[1024];

int g4_err(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return -1;
}

int g4_err_ctx(const char *fmt, ...)
{
	char pre[512], old[sizeof msg];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(pre, sizeof pre, fmt, ap);
	va_end(ap);
	size_t np = strlen(pre);
	memcpy(old, msg, sizeof msg);
	if (np >= sizeof msg)
		np = sizeof msg - 1;
	memcpy(msg, pre, np);
	size_t no = strnlen(old, sizeof msg - 1 - np);
	memcpy(msg + np, old, no);
	msg[np + no] = 0;
	return -1;
}

int g4_err_sys(const char *fmt, ...)
{
	int e = errno;
	char what[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	snprintf(msg, sizeof msg, "%s: %s", what, strerror(e));
	return -1;
}

const char *g4_errmsg(void) { return msg; }

void g4_err_clear(void) { msg[0] = 0; }

void g4_die(const char *prog)
{
	g4_out_abort_all();
	fprintf(stderr, "%s: %s\n", prog, msg[0] ? msg : "failed");
	exit(1);
}

void g4_fatal(const char *prog, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	g4_die(prog);
}
