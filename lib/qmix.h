/* qmix.h - llama-quantize's file types ("ftypes") and its per-tensor type
 * choice, so that g4quant writes the same mix of types as llama.cpp.
 *
 * An ftype (Q4_K_M, Q8_0, ...) is a default tensor type plus rules: which
 * tensors may be quantised at all, which get more bits (output/embeddings,
 * attn_v, ffn_down by layer), and a fallback when a row length is not a
 * multiple of the chosen type's block.  See spec gguf-and-quant.md §3.
 *
 *   int ft = g4_ftype_parse("Q4_K_M");
 *   g4_qmix_opts o; g4_qmix_opts_init(&o, ft);  o.n_layer = ...;
 *   size_t order[n]; g4_qmix_order(t, n, order);   // llama-quantize's output order
 *   g4_qmix_tensor sorted[n] = t[order[i]] ...;
 *   uint32_t types[n]; if (g4_qmix_choose(&o, sorted, n, types)) die(...);
 */
#ifndef G4_QMIX_H
#define G4_QMIX_H
#include <regex.h>
#include <stddef.h>
#include <stdint.h>

/* llama_ftype ids (general.file_type) */
enum g4_ftype {
	G4_FT_ALL_F32 = 0, G4_FT_F16 = 1, G4_FT_Q4_0 = 2, G4_FT_Q4_1 = 3,
	G4_FT_Q8_0 = 7, G4_FT_Q5_0 = 8, G4_FT_Q5_1 = 9, G4_FT_Q2_K = 10,
	G4_FT_Q3_K_S = 11, G4_FT_Q3_K_M = 12, G4_FT_Q3_K_L = 13,
	G4_FT_Q4_K_S = 14, G4_FT_Q4_K_M = 15, G4_FT_Q5_K_S = 16, G4_FT_Q5_K_M = 17,
	G4_FT_Q6_K = 18, G4_FT_IQ2_XXS = 19, G4_FT_IQ2_XS = 20, G4_FT_Q2_K_S = 21,
	G4_FT_IQ3_XS = 22, G4_FT_IQ3_XXS = 23, G4_FT_IQ1_S = 24, G4_FT_IQ4_NL = 25,
	G4_FT_IQ3_S = 26, G4_FT_IQ3_M = 27, G4_FT_IQ2_S = 28, G4_FT_IQ2_M = 29,
	G4_FT_IQ4_XS = 30, G4_FT_IQ1_M = 31, G4_FT_BF16 = 32,
	G4_FT_TQ1_0 = 36, G4_FT_TQ2_0 = 37, G4_FT_MXFP4_MOE = 38,
	G4_FT_Q1_0 = 40, G4_FT_Q2_0 = 41
};

/* An ftype from its llama-quantize name (case-insensitive; Q3_K, Q4_K, Q5_K
 * are aliases of the _M mixes) or its number; -1 if g4quant does not
 * produce it (the IQ1/IQ2/IQ3, TQ, MXFP4 families need quantisers libg4
 * does not have). */
int g4_ftype_parse(const char *s);
/* The canonical name ("Q4_K_M") of an ftype id, or NULL. */
const char *g4_ftype_name(int ftype);
/* The default tensor type of an ftype (g4_type id), or -1. */
int g4_ftype_default_type(int ftype);
/* Every name g4_ftype_parse accepts, space separated (for --help). */
const char *g4_ftype_names(void);

#define G4_QMIX_MAX_TT 64

typedef struct {
	int ftype;
	int pure;		/* --pure: every quantisable tensor in the default type */
	int has_imatrix;	/* an imatrix file was given (even without an entry for a tensor) */
	int leave_output;	/* --leave-output-tensor: output.weight not quantised */
	int output_type;	/* --output-tensor-type, or -1 */
	int token_embd_type;	/* --token-embedding-type, or -1 */
	/* hyper-parameters (from the GGUF metadata) */
	int64_t n_layer;	/* <arch>.block_count */
	int64_t n_head;		/* head_count of layer 0 */
	int64_t n_head_kv;	/* head_count_kv of layer 0 */
	int64_t n_expert;	/* expert_count, 0 if none */
	/* --tensor-type PATTERN=TYPE, first match wins (g4_qmix_add_tensor_type) */
	int ntt;
	regex_t tt_re[G4_QMIX_MAX_TT];
	int tt_type[G4_QMIX_MAX_TT];
} g4_qmix_opts;

typedef struct {
	const char *name;	/* NUL-terminated */
	int64_t ne[4];		/* unused dims 1 */
	uint32_t type;		/* type in the input file */
} g4_qmix_tensor;

void g4_qmix_opts_init(g4_qmix_opts *o, int ftype);
/* Adds llama-quantize's --tensor-type "PATTERN=TYPE": a tensor whose name
 * matches the (POSIX extended, lower-cased) regular expression anywhere gets
 * TYPE instead of the mix rules (the shape fallback still applies; only for
 * quantised ftypes).  -1 with a message for a malformed argument. */
int g4_qmix_add_tensor_type(g4_qmix_opts *o, const char *arg);
void g4_qmix_opts_free(g4_qmix_opts *o);

/* ggml's n_dims: index of the last dimension > 1, plus one (at least 1). */
uint32_t g4_qmix_ndims(const int64_t ne[4]);

/* order[0..n-1] = indices of t in llama-quantize's output order: by the N
 * of a leading "blk.N." (-1 for other names), then by name (bytes). */
void g4_qmix_order(const g4_qmix_tensor *t, size_t n, size_t *order);

/* 1 if llama-quantize may change this tensor's type (§3.3). */
int g4_qmix_allows(const g4_qmix_opts *o, const g4_qmix_tensor *t);

/* Chooses the output type of every tensor; t must be in output order (the
 * ordinal counters depend on it).  -1 with a message if a tensor cannot be
 * given a type (no fallback for its shape). */
int g4_qmix_choose(const g4_qmix_opts *o, const g4_qmix_tensor *t, size_t n, uint32_t *types);

/* 1 if llama-quantize refuses to make this tensor of this type without an
 * imatrix entry for it. */
int g4_qmix_requires_imatrix(const char *name, uint32_t type, int ftype);

#endif
