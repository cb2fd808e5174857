/* fuzz_gguf - libFuzzer target: the GGUF reader (g4_gguf_open_mem) and
 * everything a caller does with what it returns: every getter on every key,
 * string arrays, per-layer values, the fingerprint, the --info listing and
 * the tensor lookup.  Built and run by `make fuzz`. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "gguf.h"

static FILE *devnull;

static void poke_key(const g4_gguf *g, const g4_gguf_kv *kv)
{
	char key[256];
	uint64_t n = kv->key.len < sizeof key - 1 ? kv->key.len : sizeof key - 1;
	memcpy(key, kv->key.ptr, n);
	key[n] = 0;
	uint32_t u; int64_t i; float f; int b; g4_str s;
	g4_gguf_get_u32(g, key, &u);
	g4_gguf_get_i64(g, key, &i);
	g4_gguf_get_f32(g, key, &f);
	g4_gguf_get_bool(g, key, &b);
	g4_gguf_get_str(g, key, &s);
	g4_gguf_get_layer_i64(g, key, 0, &i);
	g4_gguf_get_layer_i64(g, key, 3, &i);
	uint32_t et; uint64_t an; const void *data;
	if (g4_gguf_get_arr(g, key, &et, &an, &data) == 0 && an) {
		g4_gguf_arr_i64(et, data, 0);
		g4_gguf_arr_f64(et, data, an - 1);
	}
	g4_str *sa; uint64_t sn;
	if (g4_gguf_get_str_arr(g, key, &sa, &sn) == 0)
		free(sa);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!devnull)
		devnull = fopen("/dev/null", "w");
	g4_gguf *g = g4_gguf_open_mem(data, size, "fuzz.gguf");
	if (!g) {
		g4_err_clear();
		return 0;
	}
	for (uint64_t i = 0; i < g->n_kv && i < 64; i++)
		poke_key(g, &g->kv[i]);
	uint8_t fp[32];
	g4_gguf_fingerprint(g, fp);
	g4_gguf_print_info(g, devnull);
	g4_gguf_find_tensor(g, "token_embd.weight");
	g4_gguf_find_key(g, "general.architecture");
	/* Touch the first and last byte of every tensor: must be in bounds. */
	volatile uint8_t sink = 0;
	for (uint64_t i = 0; i < g->n_tensors; i++) {
		const g4_gguf_tensor *t = &g->tensors[i];
		if (t->nbytes) {
			sink ^= ((const uint8_t *)t->data)[0];
			sink ^= ((const uint8_t *)t->data)[t->nbytes - 1];
		}
	}
	(void)sink;
	g4_gguf_close(g);
	g4_err_clear();
	return 0;
}
