/* fuzz_model - libFuzzer target: a GGUF through the reader and the Gemma 4
 * model loader (g4_model_from_gguf: hyperparameters, tensor names, shapes
 * and types, per-layer structure).  Built and run by `make fuzz`. */
#include <stdint.h>

#include "err.h"
#include "gguf.h"
#include "model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g4_gguf *g = g4_gguf_open_mem(data, size, "fuzz.gguf");
	if (g) {
		g4_model *m = g4_model_from_gguf(g);	/* owns g, also on failure */
		if (m)
			g4_model_free(m);
	}
	g4_err_clear();
	return 0;
}
