#ifndef ATLAS_XXH3_H
#define ATLAS_XXH3_H
#include <stddef.h>
#include <stdint.h>

/*
 * XXH3-64 of p[0, length): seed 0, the default secret (what `xxhsum -H3` prints). `portable`: the C loop even
 * where AVX2 runs (the tests check the loop an Apple-silicon Mac runs, on the CI box).
 */
uint64_t atlas_xxh3(const uint8_t *p, size_t length, int portable);

/* 1 when the AVX2 loop runs on this CPU (x86-64), else 0 (the portable loop). */
int atlas_xxh3_wide(void);

#endif
