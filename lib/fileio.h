/* fileio.h - files that appear whole or not at all, and checked I/O.
 *
 * g4_out_open("x.gguf") writes to a hidden temporary file beside x.gguf;
 * g4_out_commit() flushes, checks for write errors and renames it into
 * place; g4_out_abort() (or an error exit through g4_die, or SIGINT, SIGTERM,
 * SIGHUP, SIGPIPE, SIGXFSZ) removes it.  "-" or NULL means stdout, which is used directly. */
#ifndef G4_FILEIO_H
#define G4_FILEIO_H
#include <stddef.h>
#include <stdio.h>

typedef struct g4_out g4_out;

g4_out *g4_out_open(const char *path);	/* NULL on error */
FILE *g4_out_file(g4_out *o);
const char *g4_out_path(const g4_out *o);	/* the final name, "<stdout>" for stdout */
int g4_out_commit(g4_out *o);		/* frees o; -1 on a write error (file removed) */
void g4_out_abort(g4_out *o);		/* frees o, removes the temporary */
void g4_out_abort_all(void);		/* removes every pending temporary */

/* fwrite that reports a short write as an error ("writing PATH: ..."). */
int g4_write(FILE *f, const void *p, size_t n, const char *what);
/* fread of exactly n bytes; a short read is an error naming what. */
int g4_read(FILE *f, void *p, size_t n, const char *what);

/* Reads a whole file ("-" = stdin) into a malloc'd buffer with a NUL after
 * the last byte; refuses files larger than max bytes. */
int g4_slurp(const char *path, size_t max, char **buf, size_t *n);

#endif
