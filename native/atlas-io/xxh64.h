#ifndef ATLAS_XXH64_H
#define ATLAS_XXH64_H
#include <stddef.h>
#include <stdint.h>

/* XXH64 of p[0, length) with `seed` (the engine uses 0). */
uint64_t atlas_xxh64(const uint8_t *p, size_t length, uint64_t seed);

#endif
