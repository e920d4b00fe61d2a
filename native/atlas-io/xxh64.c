/*
 * XXH64 (Yann Collet's xxHash, 64-bit variant), written from its specification (doc/xxhash_spec.md): the
 * checksum the engine records for every block it writes and compares on the read-back (main/engine/io/hash-pool.ts).
 * Same value as hash-wasm's createXXHash64 and `xxhsum -H1`; the tests compare them.
 */
#include <stdint.h>
#include <string.h>
#include "xxh64.h"

#define P1 0x9E3779B185EBCA87ULL
#define P2 0xC2B2AE3D27D4EB4FULL
#define P3 0x165667B19E3779F9ULL
#define P4 0x85EBCA77C2B2AE63ULL
#define P5 0x27D4EB2F165667C5ULL

static inline uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

/* little-endian loads (memcpy: no alignment assumed; every target we build for is little-endian) */
static inline uint64_t load64(const uint8_t *p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return v;
}
static inline uint32_t load32(const uint8_t *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}

static inline uint64_t round64(uint64_t acc, uint64_t lane) {
  acc += lane * P2;
  acc = rotl(acc, 31);
  return acc * P1;
}

static inline uint64_t merge(uint64_t acc, uint64_t lane) {
  acc ^= round64(0, lane);
  return acc * P1 + P4;
}

uint64_t atlas_xxh64(const uint8_t *p, size_t length, uint64_t seed) {
  const uint8_t *end = p + length;
  uint64_t h;
  if (length >= 32) {
    uint64_t a = seed + P1 + P2, b = seed + P2, c = seed, d = seed - P1;
    const uint8_t *last = end - 32;
    do {
      a = round64(a, load64(p));
      b = round64(b, load64(p + 8));
      c = round64(c, load64(p + 16));
      d = round64(d, load64(p + 24));
      p += 32;
    } while (p <= last);
    h = rotl(a, 1) + rotl(b, 7) + rotl(c, 12) + rotl(d, 18);
    h = merge(h, a);
    h = merge(h, b);
    h = merge(h, c);
    h = merge(h, d);
  } else {
    h = seed + P5;
  }
  h += (uint64_t)length;
  for (; p + 8 <= end; p += 8) {
    h ^= round64(0, load64(p));
    h = rotl(h, 27) * P1 + P4;
  }
  if (p + 4 <= end) {
    h ^= (uint64_t)load32(p) * P1;
    h = rotl(h, 23) * P2 + P3;
    p += 4;
  }
  for (; p < end; p++) {
    h ^= (uint64_t)(*p) * P5;
    h = rotl(h, 11) * P1;
  }
  h ^= h >> 33;
  h *= P2;
  h ^= h >> 29;
  h *= P3;
  h ^= h >> 32;
  return h;
}
