/* fuzz_safetensors - libFuzzer target: the safetensors reader
 * (g4_st_open_mem: length prefix, JSON header, dtypes, shapes, offsets) and
 * the conversion of each tensor's first and last row to f32.  Built and run
 * by `make fuzz`. */
#include <stdint.h>
#include <stdlib.h>

#include "err.h"
#include "safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g4_st *st = g4_st_open_mem(data, size, "fuzz.safetensors");
	if (!st) {
		g4_err_clear();
		return 0;
	}
	size_t n = g4_st_count(st);
	for (size_t i = 0; i < n; i++) {
		const g4_st_tensor *t = g4_st_tensor_at(st, i);
		if (g4_st_find(st, t->name) != t)
			abort();	/* lookup must find what the listing shows */
		int64_t len = g4_st_row_len(t), rows = g4_st_n_rows(t);
		if (len <= 0 || len > (1 << 20) || rows <= 0)
			continue;
		float *row = malloc((size_t)len * sizeof *row);
		if (!row)
			continue;
		g4_st_to_f32(t, 0, 1, row);
		g4_st_to_f32(t, rows - 1, 1, row);
		g4_st_to_f32(t, rows, 1, row);	/* out of range: an error, no read */
		free(row);
	}
	g4_st_close(st);
	g4_err_clear();
	return 0;
}
