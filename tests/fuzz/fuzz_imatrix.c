/* fuzz_imatrix - libFuzzer target: the importance-matrix reader
 * (g4_imatrix_load_mem: GGUF format with its in_sum2/counts pairs and the
 * legacy binary format) and lookups of every entry.  Built and run by
 * `make fuzz`. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "imatrix.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g4_imatrix *m = g4_imatrix_load_mem(data, size, "fuzz.imatrix");
	if (!m) {
		g4_err_clear();
		return 0;
	}
	for (size_t i = 0; i < m->n; i++) {
		int64_t n = -1;
		const float *v = g4_imatrix_find(m, m->e[i].name, &n);
		if (!v || n != m->e[i].n || n < 1)
			abort();	/* lookup must find what the listing shows */
		volatile float s = 0;
		for (int64_t j = 0; j < n; j++)
			s += v[j];
		(void)s;
		if (i && strcmp(m->e[i - 1].name, m->e[i].name) >= 0)
			abort();	/* sorted, unique */
	}
	g4_imatrix_free(m);
	g4_err_clear();
	return 0;
}
