/* fileio.c - atomic output files and checked reads/writes (see fileio.h). */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "fileio.h"

struct g4_out {
	FILE *f;
	char *path, *tmp;	/* tmp NULL for stdout and special files */
	int special;		/* a device or FIFO opened in place */
	g4_out *next;
};

/* Pending temporaries, for cleanup on error exits and signals.  The signal
 * handler only walks the list and calls unlink(), which is async-signal-safe. */
static g4_out *volatile pending;
static int handlers_set;

static void on_signal(int sig)
{
	for (g4_out *o = pending; o; o = o->next)
		if (o->tmp)
			unlink(o->tmp);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void set_handlers(void)
{
	if (handlers_set)
		return;
	handlers_set = 1;
	/* SIGPIPE: `g4decode -o x.kv.zst | head` loses its reader while a
	 * file is pending; SIGXFSZ: the file outgrew `ulimit -f`.  Both kill
	 * by default and would leave the temporary behind. */
	int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGXFSZ };
	for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) {
		struct sigaction sa, old;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = on_signal;
		sigemptyset(&sa.sa_mask);
		if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN)
			continue;	/* keep nohup's choice */
		sigaction(sigs[i], &sa, NULL);
	}
}

static void unlink_pending(g4_out *o)
{
	g4_out *volatile *pp = &pending;
	while (*pp && *pp != o)
		pp = &(*pp)->next;
	if (*pp)
		*pp = o->next;
}

g4_out *g4_out_open(const char *path)
{
	g4_out *o = calloc(1, sizeof *o);
	if (!o) {
		g4_err("out of memory");
		return NULL;
	}
	if (!path || !strcmp(path, "-")) {
		o->f = stdout;
		o->path = strdup("<stdout>");
		return o;
	}
	o->path = strdup(path);
	/* A device, FIFO or socket (/dev/null, /dev/stdout, a named pipe) is
	 * written in place: renaming a temporary over it would replace it. */
	struct stat st;
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		o->f = fopen(path, "wb");
		if (!o->f || !o->path) {
			g4_err_sys("cannot open %s for writing", path);
			if (o->f) fclose(o->f);
			free(o->path), free(o);
			return NULL;
		}
		o->special = 1;
		return o;
	}
	const char *slash = strrchr(path, '/');
	size_t dirlen = slash ? (size_t)(slash - path + 1) : 0;
	size_t n = strlen(path) + 32;
	o->tmp = malloc(n);
	if (!o->path || !o->tmp) {
		free(o->path), free(o->tmp), free(o);
		g4_err("out of memory");
		return NULL;
	}
	snprintf(o->tmp, n, "%.*s.%s.XXXXXX", (int)dirlen, path, path + dirlen);
	set_handlers();
	sigset_t all, old;
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	int fd = mkstemp(o->tmp);
	if (fd >= 0) {
		o->next = pending;
		pending = o;
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (fd < 0) {
		g4_err_sys("cannot create a file beside %s", path);
		free(o->path), free(o->tmp), free(o);
		return NULL;
	}
	o->f = fdopen(fd, "wb");
	if (!o->f) {
		g4_err_sys("cannot open %s for writing", path);
		g4_out_abort(o);
		return NULL;
	}
	return o;
}

FILE *g4_out_file(g4_out *o) { return o->f; }

const char *g4_out_path(const g4_out *o) { return o->path; }

static void out_free(g4_out *o)
{
	sigset_t all, old;
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	unlink_pending(o);
	sigprocmask(SIG_SETMASK, &old, NULL);
	free(o->path);
	free(o->tmp);
	free(o);
}

static mode_t current_umask(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	unsigned m;
	if (f) {
		while (fgets(line, sizeof line, f))
			if (sscanf(line, "Umask: %o", &m) == 1) {
				fclose(f);
				return (mode_t)m;
			}
		fclose(f);
	}
	return 022;
}

int g4_out_commit(g4_out *o)
{
	int rc = 0;
	if (!o->tmp) {
		if (fflush(o->f) != 0 || ferror(o->f))
			rc = g4_err_sys("writing %s", o->path);
		if (o->special && fclose(o->f) != 0 && rc == 0)
			rc = g4_err_sys("writing %s", o->path);
		out_free(o);
		return rc;
	}
	if (fflush(o->f) != 0 || ferror(o->f))
		rc = g4_err_sys("writing %s", o->path);
	/* mkstemp makes the file 0600; give it the mode open(2) would have,
	 * 0666 less the umask (read without changing it: /proc) */
	if (rc == 0 && fchmod(fileno(o->f), 0666 & ~current_umask()) != 0)
		rc = g4_err_sys("cannot set the mode of %s", o->path);
	if (fclose(o->f) != 0 && rc == 0)
		rc = g4_err_sys("writing %s", o->path);
	o->f = NULL;
	if (rc == 0 && rename(o->tmp, o->path) != 0)
		rc = g4_err_sys("cannot rename the finished file to %s", o->path);
	if (rc != 0)
		unlink(o->tmp);
	out_free(o);
	return rc;
}

void g4_out_abort(g4_out *o)
{
	if (!o)
		return;
	if (o->tmp) {
		if (o->f)
			fclose(o->f);
		unlink(o->tmp);
	} else if (o->special && o->f) {
		fclose(o->f);
	}
	out_free(o);
}

void g4_out_abort_all(void)
{
	while (pending)
		g4_out_abort(pending);
}

int g4_write(FILE *f, const void *p, size_t n, const char *what)
{
	if (n && fwrite(p, 1, n, f) != n)
		return g4_err_sys("writing %s", what);
	return 0;
}

int g4_read(FILE *f, void *p, size_t n, const char *what)
{
	size_t got = n ? fread(p, 1, n, f) : 0;
	if (got != n) {
		if (ferror(f))
			return g4_err_sys("reading %s", what);
		return g4_err("%s: truncated (wanted %zu more bytes, got %zu)", what, n, got);
	}
	return 0;
}

int g4_slurp(const char *path, size_t max, char **buf, size_t *n)
{
	int std = !strcmp(path, "-");
	FILE *f = std ? stdin : fopen(path, "rb");
	if (!f)
		return g4_err_sys("cannot open %s", path);
	size_t cap = 1 << 16, len = 0;
	char *b = malloc(cap + 1);
	for (;;) {
		if (!b) {
			if (!std) fclose(f);
			return g4_err("%s: out of memory", path);
		}
		size_t got = fread(b + len, 1, cap - len, f);
		len += got;
		if (len > max) {
			free(b);
			if (!std) fclose(f);
			return g4_err("%s: larger than %zu bytes", path, max);
		}
		if (got == 0)
			break;
		if (len == cap) {
			cap *= 2;
			char *nb = realloc(b, cap + 1);
			if (!nb) free(b);
			b = nb;
		}
	}
	int bad = ferror(f);
	if (!std)
		fclose(f);
	if (bad) {
		free(b);
		return g4_err_sys("reading %s", path);
	}
	b[len] = 0;
	*buf = b;
	*n = len;
	return 0;
}
