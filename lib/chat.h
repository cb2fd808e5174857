/* chat.h - the Gemma 4 chat template, rendered in C (spec gemma4-tokenizer.md
 * section 6).
 *
 * The renderer follows the logic of Google's Jinja template statement by
 * statement (with the transformers settings trim_blocks / lstrip_blocks),
 * including how Python prints values (None, True, 1.0, dict keys sorted
 * case-insensitively by dictsort).  Templates:
 *
 *   gemma4            llama.cpp's vendored google-gemma-4-31B-it.jinja (April
 *                     2026): the default, what the examples were rendered with
 *   gemma4-2607       Google's 2026-07-09 revision for 12B/26B/31B
 *   gemma4-2607-e     the same revision for E2B/E4B (no empty thought block
 *                     in the generation prompt)
 *
 * Request: {"messages": [...], "tools": [...]} or a bare messages array;
 * optional "enable_thinking" / "chat_template_kwargs": {"enable_thinking"}.
 *
 *   g4_json *req = g4_json_parse(text, n, "<stdin>");
 *   g4_chat_opts o = { .tmpl = G4_TMPL_GEMMA4, .add_generation_prompt = 1 };
 *   g4_buf txt = {0};
 *   g4_chat_render(req, &o, &txt, NULL, NULL);
 *   g4_chat_encode(tok, req, &o, &ids, &n, &cap, &media, &n_media);
 */
#ifndef G4_CHAT_H
#define G4_CHAT_H
#include <stddef.h>
#include <stdint.h>

#include "json.h"
#include "tokenizer.h"

enum { G4_TMPL_GEMMA4 = 0, G4_TMPL_GEMMA4_2607 = 1, G4_TMPL_GEMMA4_2607_E = 2, G4_TMPL_COUNT };

/* Template by name ("gemma4", "gemma4-2607", "gemma4-2607-e"); -1 if unknown. */
int g4_chat_template_by_name(const char *name);
const char *g4_chat_template_name(int tmpl);
/* Which known template a Jinja source (GGUF tokenizer.chat_template) is;
 * -1 when it is none of them. */
int g4_chat_template_detect(const char *jinja);

typedef struct {
	int tmpl;
	int thinking;			/* enable_thinking */
	int add_generation_prompt;
} g4_chat_opts;

/* A media part: where its placeholder is in the rendered text / id list. */
typedef struct {
	size_t pos;			/* byte offset (render) or id index (encode) */
	int modality;			/* 1 image, 2 audio (stream.h g4_modality) */
} g4_chat_media;

/* Renders the request to text.  Media placeholders (<|image|>, <|audio|>)
 * are listed in *media (may be NULL).  -1 with "messages[2]: ... (byte N)"
 * on a request the template cannot render. */
int g4_chat_render(const g4_json *req, const g4_chat_opts *o, g4_buf *out,
		   g4_chat_media **media, size_t *n_media);

/* Renders and tokenizes (special tokens matched; the template's own <bos>,
 * no second one).  Media entries give the index of the placeholder id. */
int g4_chat_encode(const g4_tokenizer *t, const g4_json *req, const g4_chat_opts *o,
		   int32_t **ids, size_t *n, size_t *cap,
		   g4_chat_media **media, size_t *n_media);

#endif
