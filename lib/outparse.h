/* outparse.h - parsing Gemma 4 model output on the fly (for g4decode).
 *
 * Feed the decoded text as it comes (with the markers visible: decode with
 * G4_DEC_SPECIAL, or at least the user-defined tokens, which are always
 * shown).  The parser splits it into:
 *
 *   G4_OUT_CONTENT   the answer (thought blocks removed, trimmed)
 *   G4_OUT_THINKING  the text of <|channel>thought ... <channel|>
 *   G4_OUT_TOOLCALL  one JSON object per call, {"name": ..., "arguments": {...}},
 *                    no newline (the caller prints one per line)
 *
 * and stops at <turn|>, <eos> or <|tool_response> (g4_outp_done says so).
 * Tool-call syntax (spec 6.5): call:NAME{key:value,...}, strings between
 * <|"|> markers, numbers, true/false/null, arrays, objects with bare keys.
 * A call that does not parse is passed on as content, unchanged.
 *
 *   g4_outp *p = g4_outp_new(on_piece, ctx, 0);
 *   for each decoded piece: g4_outp_feed(p, s, n);
 *   g4_outp_end(p); g4_outp_free(p);
 */
#ifndef G4_OUTPARSE_H
#define G4_OUTPARSE_H
#include <stddef.h>

#include "json.h"

enum { G4_OUT_CONTENT = 1, G4_OUT_THINKING = 2, G4_OUT_TOOLCALL = 3 };

/* Flags. */
enum {
	G4_OUTP_IN_THOUGHT = 1	/* the prompt ended inside an open thought block
				   (2026-07 template after a tool result) */
};

typedef void (*g4_outp_fn)(void *ctx, int kind, const char *s, size_t n);
typedef struct g4_outp g4_outp;

g4_outp *g4_outp_new(g4_outp_fn fn, void *ctx, int flags);
void g4_outp_feed(g4_outp *p, const char *s, size_t n);
/* End of generation: flushes held-back text. */
void g4_outp_end(g4_outp *p);
/* 1 once an end marker (<turn|>, <eos>, <|tool_response>) was seen. */
int g4_outp_done(const g4_outp *p);
/* Number of tool calls emitted so far. */
int g4_outp_n_calls(const g4_outp *p);
void g4_outp_free(g4_outp *p);

/* One call's text "call:NAME{...}" to a JSON object; -1 (message says
 * where) if it does not parse. */
int g4_toolcall_to_json(const char *s, size_t n, g4_buf *out);

#endif
