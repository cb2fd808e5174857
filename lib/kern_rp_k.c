/* kern_rp_k.c - AVX-512 matmul kernels for repacked K-quant weights
 * (repack.h).  None yet: the K-quants use the plain-row kernels. */
#include "kern.h"
#include "repack.h"

void g4_rp_avx512_k(const g4_rp_kernel *rtab[G4_NTYPES])
{
	(void)rtab;
}
