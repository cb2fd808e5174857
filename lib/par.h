/* par.h - threads.  Every command takes -t N; the default is the number of
 * cores this process may run on.  Results never depend on N: work is split
 * over outputs, and each output is reduced in one fixed order. */
#ifndef G4_PAR_H
#define G4_PAR_H

int g4_ncores(void);		/* cores available to this process (>= 1) */
void g4_set_threads(int n);	/* n <= 0: g4_ncores() */
int g4_threads(void);		/* the current setting */

/* Parses a -t argument; -1 (message set) if it is not an integer in 1..1024. */
int g4_parse_threads(const char *s);

#endif
