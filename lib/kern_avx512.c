/* kern_avx512.c - AVX-512 (F, BW, VL, VNNI) dot-product kernels (see kern.h). */
#include "kern.h"

void g4_kern_avx512(g4_dot_fn tab[G4_NTYPES])
{
	(void)tab;
}
