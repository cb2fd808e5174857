/* version.h - the g4 version, printed by every command's --version as
 * "g4xxx (g4) G4_VERSION". */
#ifndef G4_VERSION_H
#define G4_VERSION_H
#define G4_VERSION "0.1.0"
#endif
