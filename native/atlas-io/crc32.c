/*
 * CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320) as a raw register update: no inversion in or out, so
 * zlib's crc32(c, data) is ~atlas_crc32_raw(~c, data) and partclone's checksum is the raw register itself.
 *
 * On x86-64 with PCLMULQDQ, four 128-bit lanes are folded forward by carry-less multiplication (Intel, "Fast
 * CRC Computation for Generic Polynomials Using PCLMULQDQ Instruction", 2009): a lane A followed by d more bits
 * is replaced by A·x^d mod P, which keeps the message's value mod P. The constants are x^(d±32) mod P,
 * bit-reflected and shifted left one (the reflected product lands one bit low); d = 512 between blocks of four
 * lanes, d = 128 to fold the lanes into one. The last 128 bits, whose CRC is the message's, go through the table
 * as 16 bytes, then the tail. Elsewhere (and below 64 bytes) the table alone. The tests compare with zlib.
 */
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include "crc32.h"

static uint32_t table[256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void fill_table(void) {
  for (uint32_t n = 0; n < 256; n++) {
    uint32_t c = n;
    for (int k = 0; k < 8; k++) c = c & 1 ? (c >> 1) ^ 0xEDB88320u : c >> 1;
    table[n] = c;
  }
}

/* the addon loads once per thread that requires it (main, workers): the table is filled once */
void atlas_crc32_init(void) { pthread_once(&table_once, fill_table); }

static uint32_t by_table(uint32_t reg, const uint8_t *p, size_t n) {
  while (n--) reg = table[(reg ^ *p++) & 0xff] ^ (reg >> 8);
  return reg;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define FOLD_TARGET __attribute__((target("pclmul,sse2")))

FOLD_TARGET static inline __m128i fold(__m128i lane, __m128i k, __m128i next) {
  __m128i lo = _mm_clmulepi64_si128(lane, k, 0x00);
  __m128i hi = _mm_clmulepi64_si128(lane, k, 0x11);
  return _mm_xor_si128(_mm_xor_si128(lo, hi), next);
}

FOLD_TARGET static uint32_t by_folding(uint32_t reg, const uint8_t *p, size_t n) {
  const __m128i k512 = _mm_set_epi64x(0x1c6e41596LL, 0x154442bd4LL); /* x^480, x^544 */
  const __m128i k128 = _mm_set_epi64x(0x0ccaa009eLL, 0x1751997d0LL); /* x^96, x^160 */
  __m128i a = _mm_loadu_si128((const __m128i *)p);
  __m128i b = _mm_loadu_si128((const __m128i *)(p + 16));
  __m128i c = _mm_loadu_si128((const __m128i *)(p + 32));
  __m128i d = _mm_loadu_si128((const __m128i *)(p + 48));
  a = _mm_xor_si128(a, _mm_cvtsi32_si128((int)reg)); /* the register enters as the first 4 bytes' xor */
  p += 64;
  n -= 64;
  for (; n >= 64; p += 64, n -= 64) {
    a = fold(a, k512, _mm_loadu_si128((const __m128i *)p));
    b = fold(b, k512, _mm_loadu_si128((const __m128i *)(p + 16)));
    c = fold(c, k512, _mm_loadu_si128((const __m128i *)(p + 32)));
    d = fold(d, k512, _mm_loadu_si128((const __m128i *)(p + 48)));
  }
  a = fold(a, k128, b);
  a = fold(a, k128, c);
  a = fold(a, k128, d);
  for (; n >= 16; p += 16, n -= 16) a = fold(a, k128, _mm_loadu_si128((const __m128i *)p));
  uint8_t last[16];
  _mm_storeu_si128((__m128i *)last, a);
  return by_table(by_table(0, last, 16), p, n);
}

static int folding_available(void) {
  static int known = -1;
  if (known < 0) known = __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse2");
  return known;
}
#else
static int folding_available(void) { return 0; }
static uint32_t by_folding(uint32_t reg, const uint8_t *p, size_t n) { return by_table(reg, p, n); }
#endif

int atlas_crc32_fast(void) { return folding_available(); }

uint32_t atlas_crc32_raw(uint32_t reg, const uint8_t *p, size_t n) {
  if (n >= 64 && folding_available()) return by_folding(reg, p, n);
  return by_table(reg, p, n);
}
