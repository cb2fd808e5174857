/* json.h - a small exact JSON reader and writer helpers.
 *
 * Why not cJSON here: chat rendering must print numbers the way Python's
 * jinja does (42 stays 42, 1.0 stays 1.0, big integers exactly), which needs
 * the number's source text, and errors must name the byte offset.  Objects
 * keep their key order (tool schemas need it) and duplicate keys (last one
 * wins on lookup, as in Python).  Strings are decoded to UTF-8 with their
 * length (they may contain NUL from \u0000).
 *
 *   g4_json *j = g4_json_parse(text, n, "request");
 *   if (!j) die(g4_errmsg());        "request: byte 17: expected ':'"
 *   const g4_json *m = g4_json_get(j, "messages");
 *   g4_json_free(j);
 */
#ifndef G4_JSON_H
#define G4_JSON_H
#include <stddef.h>
#include <stdint.h>

enum g4_json_type {
	G4_JSON_NULL, G4_JSON_FALSE, G4_JSON_TRUE, G4_JSON_NUMBER,
	G4_JSON_STRING, G4_JSON_ARRAY, G4_JSON_OBJECT
};

typedef struct g4_json g4_json;
struct g4_json {
	int type;
	const char *key;	/* member of an object: its key (NUL-terminated) */
	size_t key_len;
	const char *str;	/* STRING: decoded text; NUMBER: source text */
	size_t len;
	double num;		/* NUMBER */
	g4_json *kid;		/* ARRAY/OBJECT: children in order */
	size_t n;		/* number of children */
	size_t off;		/* byte offset in the source (for messages) */
};

/* Parses a whole document (trailing whitespace only); NULL with a message
 * "NAME: byte N: what" on error.  Depth is limited to 512. */
g4_json *g4_json_parse(const char *s, size_t n, const char *name);
void g4_json_free(g4_json *j);

/* Object member by key (the last of duplicates), or NULL. */
const g4_json *g4_json_get(const g4_json *obj, const char *key);
/* Member i of an object as a Python dict holds it: the last member with
 * the same key (compared byte for byte, NULs included); NULL if obj is not
 * an object or i is out of range. */
const g4_json *g4_json_member(const g4_json *obj, size_t i);
/* Truthiness as in Python/jinja: null, false, 0, "", [], {} are false. */
int g4_json_truthy(const g4_json *j);
/* 1 if a NUMBER's source text is an integer (no '.', 'e', 'E'). */
int g4_json_is_int(const g4_json *j);

/* Pull reader, for big documents (tokenizer.json) that need no tree.
 * Every call returns -1 with a message naming the byte offset on error.
 * Strings come back decoded in a scratch buffer valid until the next call. */
typedef struct {
	const char *s;
	size_t n, i;
	const char *name;
	char *tmp;
	size_t tmp_cap;
	int depth;
} g4_jp;
void g4_jp_init(g4_jp *p, const char *s, size_t n, const char *name);
void g4_jp_done(g4_jp *p);	/* frees the scratch buffer */
int g4_jp_peek(g4_jp *p);	/* type of the next value (enum g4_json_type) or -1 */
int g4_jp_obj_begin(g4_jp *p);
/* Next member: 1 and its key (scratch), 0 at '}' (consumed). */
int g4_jp_obj_next(g4_jp *p, const char **key, size_t *len);
int g4_jp_arr_begin(g4_jp *p);
int g4_jp_arr_next(g4_jp *p);	/* 1: an element follows, 0: ']' consumed */
int g4_jp_str(g4_jp *p, const char **s, size_t *len);
int g4_jp_i64(g4_jp *p, int64_t *v);
int g4_jp_bool(g4_jp *p, int *v);	/* true/false (null gives 0) */
int g4_jp_skip(g4_jp *p);
int g4_jp_end(g4_jp *p);	/* only whitespace left */

/* A growing byte buffer. */
typedef struct {
	char *p;
	size_t n, cap;
	int oom;
} g4_buf;
void g4_buf_put(g4_buf *b, const void *p, size_t n);
void g4_buf_puts(g4_buf *b, const char *s);
void g4_buf_putc(g4_buf *b, int c);
void g4_buf_free(g4_buf *b);

/* Appends s as a JSON string literal (quoted, escaped, valid UTF-8 kept;
 * invalid bytes become U+FFFD). */
void g4_json_put_str(g4_buf *b, const char *s, size_t n);
/* Appends a value as compact JSON. */
void g4_json_put(g4_buf *b, const g4_json *j);

#endif
