/* err.h - the error convention of libg4.
 *
 * Every libg4 function that can fail returns -1 (or NULL) and leaves a
 * one-line message, saying what went wrong and where, in a thread-local
 * buffer; it returns 0 (or a valid pointer) otherwise.  Callers check the
 * return value and either add context with g4_err_ctx() and fail in turn,
 * or (commands) print "g4xxx: <message>" and exit 1 with g4_die().
 *
 *   if (n > size - off)
 *       return g4_err("tensor '%s': data at offset %llu runs past the end", ...);
 */
#ifndef G4_ERR_H
#define G4_ERR_H

/* Sets the message (printf-style) and returns -1. */
int g4_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prefixes the current message with context ("reading x.gguf: ") and returns -1. */
int g4_err_ctx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Sets the message from errno: "<what>: <strerror(errno)>"; returns -1. */
int g4_err_sys(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The current message ("" when none). */
const char *g4_errmsg(void);

void g4_err_clear(void);

/* For commands: prints "PROG: <message>" on stderr, removes any pending
 * output files (see fileio.h), and exits with status 1. */
void g4_die(const char *prog) __attribute__((noreturn));

/* For commands: prints "PROG: <formatted message>" and exits with status 1. */
void g4_fatal(const char *prog, const char *fmt, ...) __attribute__((noreturn, format(printf, 2, 3)));

#endif
