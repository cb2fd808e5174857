/* kern_avx2.c - AVX2 + FMA + F16C dot-product kernels (see kern.h). */
#include "kern.h"

void g4_kern_avx2(g4_dot_fn tab[G4_NTYPES])
{
	(void)tab;
}
