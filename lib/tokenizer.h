/* tokenizer.h - the Gemma 4 tokenizer: text <-> token ids, exactly as the
 * reference (HF tokenizers / llama.cpp, spec gemma4-tokenizer.md 2-5).
 *
 * Model: BPE over code points with an ordered merge list, spaces turned
 * into U+2581 first, no pre-tokenizer, byte fallback <0xHH>.  Added tokens
 * (control and user-defined) are split out before BPE by leftmost-longest
 * match on the raw text; control tokens only when asked (G4_ENC_SPECIAL),
 * user-defined ones always (as llama.cpp does).
 *
 *   g4_tokenizer *t = g4_tok_load("tokenizer.json.zst");   or g4_tok_from_gguf(g)
 *   int32_t *ids = NULL; size_t n = 0, cap = 0;
 *   g4_tok_encode(t, text, len, G4_ENC_BOS, &ids, &n, &cap);
 *   g4_buf out = {0}; g4_tok_decode(t, ids, n, 0, &out);
 *   g4_tok_free(t);
 *
 * Streaming decode (g4decode prints token by token):
 *   g4_detok st = {0};
 *   for each id: g4_detok_put(t, &st, id, 0, &out); write out.p/out.n; out.n = 0;
 *   g4_detok_flush(&st, &out);
 * Bytes of a character split over several byte tokens are held until the
 * character is complete; a byte that cannot continue it gives U+FFFD.
 *
 * A tokenizer is read-only after loading: encode/decode may run on many
 * threads at once. */
#ifndef G4_TOKENIZER_H
#define G4_TOKENIZER_H
#include <stddef.h>
#include <stdint.h>

#include "gguf.h"
#include "json.h"

/* Token types, numbered as llama.cpp's tokenizer.ggml.token_type. */
enum {
	G4_TT_NORMAL = 1, G4_TT_UNKNOWN = 2, G4_TT_CONTROL = 3,
	G4_TT_USER = 4, G4_TT_UNUSED = 5, G4_TT_BYTE = 6
};

/* Encode flags. */
enum {
	G4_ENC_SPECIAL = 1,	/* match control tokens (<|turn>, <bos>, ...) in the text */
	G4_ENC_BOS = 2		/* put <bos> first */
};

/* Decode flags. */
enum {
	G4_DEC_SPECIAL = 1	/* show control tokens (hidden by default) */
};

typedef struct g4_tokenizer g4_tokenizer;

/* A GGUF (tokenizer.ggml.*), or an HF tokenizer.json plain or
 * zstd-compressed (detected by magic); the Gemma 4 special tokens are
 * applied to a Gemma 3 tokenizer.json (spec 4.3). */
g4_tokenizer *g4_tok_load(const char *path);
/* tokenizer.ggml.* of an open GGUF (model "gemma4", or pre "gemma4"). */
g4_tokenizer *g4_tok_from_gguf(const g4_gguf *g);

/* Writes the vocabulary as llama.cpp's Gemma 4 converter does (model
 * "gemma4", tokens, scores -1000, token_type, merges "a b", special ids,
 * add_bos_token true, chat_template when known).  Non-special added tokens
 * of a tokenizer.json are written user-defined (so llama.cpp splits them out
 * as HF does), except runs of ▁ / newline / tab, which stay normal so that
 * llama.cpp prints ▁ as a space. */
int g4_tok_write_gguf(const g4_tokenizer *t, g4_ggufw *w);
/* A vocabulary-only GGUF file (general.architecture gemma4, no tensors). */
int g4_tok_write_vocab_gguf(const g4_tokenizer *t, const char *path);
g4_tokenizer *g4_tok_from_json(const char *buf, size_t n, const char *name);

/* From token strings, llama.cpp token types (NULL: derived), and merges
 * "left right" in rank order.  What the GGUF loader uses. */
typedef struct {
	size_t n_vocab;
	const char *const *tokens;	/* n_vocab strings (NULL for a hole) */
	const size_t *token_len;	/* their lengths */
	const int32_t *types;		/* n_vocab types or NULL */
	size_t n_merges;
	const char *const *merges;	/* "left right" */
	const size_t *merge_len;
	int32_t bos, eos, unk, pad, mask;	/* -1: by name */
	const char *chat_template;	/* may be NULL */
	size_t chat_template_len;
	const char *name;		/* for messages */
} g4_tok_spec;
g4_tokenizer *g4_tok_build(const g4_tok_spec *s);

void g4_tok_free(g4_tokenizer *t);

size_t g4_tok_n_vocab(const g4_tokenizer *t);
size_t g4_tok_n_merges(const g4_tokenizer *t);
/* Merge i as two token ids (rank order). */
void g4_tok_merge(const g4_tokenizer *t, size_t i, int32_t *left, int32_t *right);
int32_t g4_tok_bos(const g4_tokenizer *t);
int32_t g4_tok_eos(const g4_tokenizer *t);
int32_t g4_tok_unk(const g4_tokenizer *t);
int32_t g4_tok_pad(const g4_tokenizer *t);
int32_t g4_tok_mask(const g4_tokenizer *t);
/* The model's chat template (GGUF tokenizer.chat_template) or NULL. */
const char *g4_tok_chat_template(const g4_tokenizer *t);
/* End-of-generation ids: <eos>, <turn|>, <|tool_response> (those present). */
size_t g4_tok_eog(const g4_tokenizer *t, int32_t *out, size_t max);
int g4_tok_is_eog(const g4_tokenizer *t, int32_t id);

/* The id of a token string (exact vocabulary entry), or -1. */
int32_t g4_tok_id(const g4_tokenizer *t, const char *s, size_t n);
/* The vocabulary string of an id (with U+2581, <0xHH>), NULL if out of range
 * or a hole. */
const char *g4_tok_piece(const g4_tokenizer *t, int32_t id, size_t *len);
int g4_tok_type(const g4_tokenizer *t, int32_t id);

/* Appends the ids of text[0..n) to *ids (realloc'd; *n_ids and *cap are
 * updated).  Any bytes are accepted: invalid UTF-8 goes to byte tokens. */
int g4_tok_encode(const g4_tokenizer *t, const char *text, size_t n, int flags,
		  int32_t **ids, size_t *n_ids, size_t *cap);

/* Whole-sequence decode, as HF's decoder (a run of byte tokens that is not
 * valid UTF-8 gives one U+FFFD per byte).  -1 on an unknown id, with its
 * position in the message. */
int g4_tok_decode(const g4_tokenizer *t, const int32_t *ids, size_t n, int flags, g4_buf *out);

typedef struct {
	unsigned char pend[4];
	int npend, need;
} g4_detok;
int g4_detok_put(const g4_tokenizer *t, g4_detok *st, int32_t id, int flags, g4_buf *out);
void g4_detok_flush(g4_detok *st, g4_buf *out);

#endif
