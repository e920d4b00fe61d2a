/*
 * XXH3-64 (Yann Collet's xxHash, XXH3 with 64-bit output, seed 0, the default secret), written from its
 * specification (doc/xxhash_spec.md, v0.2.0): the checksum the engine records for every block it writes and
 * compares on the read-back (main/engine/io/hash-pool.ts). XXH3 rather than XXH64 because a read-back on fast
 * targets is bound by hashing: its long-input loop is eight independent 32×32-bit multiply-adds per 64 bytes,
 * which AVX2 does four at a time (~3× XXH64 on the CI box). Same value as `xxhsum -H3` and hash-wasm's
 * createXXHash3; the tests compare them at every length class and block boundary.
 */
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include "xxh3.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "xxh3.c reads little-endian words with memcpy: a big-endian target needs byte swaps"
#endif

#define P32_1 0x9E3779B1ULL
#define P32_2 0x85EBCA77ULL
#define P32_3 0xC2B2AE3DULL
#define P64_1 0x9E3779B185EBCA87ULL
#define P64_2 0xC2B2AE3D27D4EB4FULL
#define P64_3 0x165667B19E3779F9ULL
#define P64_4 0x85EBCA77C2B2AE63ULL
#define P64_5 0x27D4EB2F165667C5ULL
#define PMX_1 0x165667919E3779F9ULL
#define PMX_2 0x9FB21C651E98DF25ULL

#define SECRET_SIZE 192
#define STRIPE 64
#define STRIPES_PER_BLOCK ((SECRET_SIZE - STRIPE) / 8) /* 16 */
#define BLOCK (STRIPE * STRIPES_PER_BLOCK)            /* 1024 bytes */

static const uint8_t secret[SECRET_SIZE] = {
    0xb8, 0xfe, 0x6c, 0x39, 0x23, 0xa4, 0x4b, 0xbe, 0x7c, 0x01, 0x81, 0x2c, 0xf7, 0x21, 0xad, 0x1c,
    0xde, 0xd4, 0x6d, 0xe9, 0x83, 0x90, 0x97, 0xdb, 0x72, 0x40, 0xa4, 0xa4, 0xb7, 0xb3, 0x67, 0x1f,
    0xcb, 0x79, 0xe6, 0x4e, 0xcc, 0xc0, 0xe5, 0x78, 0x82, 0x5a, 0xd0, 0x7d, 0xcc, 0xff, 0x72, 0x21,
    0xb8, 0x08, 0x46, 0x74, 0xf7, 0x43, 0x24, 0x8e, 0xe0, 0x35, 0x90, 0xe6, 0x81, 0x3a, 0x26, 0x4c,
    0x3c, 0x28, 0x52, 0xbb, 0x91, 0xc3, 0x00, 0xcb, 0x88, 0xd0, 0x65, 0x8b, 0x1b, 0x53, 0x2e, 0xa3,
    0x71, 0x64, 0x48, 0x97, 0xa2, 0x0d, 0xf9, 0x4e, 0x38, 0x19, 0xef, 0x46, 0xa9, 0xde, 0xac, 0xd8,
    0xa8, 0xfa, 0x76, 0x3f, 0xe3, 0x9c, 0x34, 0x3f, 0xf9, 0xdc, 0xbb, 0xc7, 0xc7, 0x0b, 0x4f, 0x1d,
    0x8a, 0x51, 0xe0, 0x4b, 0xcd, 0xb4, 0x59, 0x31, 0xc8, 0x9f, 0x7e, 0xc9, 0xd9, 0x78, 0x73, 0x64,
    0xea, 0xc5, 0xac, 0x83, 0x34, 0xd3, 0xeb, 0xc3, 0xc5, 0x81, 0xa0, 0xff, 0xfa, 0x13, 0x63, 0xeb,
    0x17, 0x0d, 0xdd, 0x51, 0xb7, 0xf0, 0xda, 0x49, 0xd3, 0x16, 0x55, 0x26, 0x29, 0xd4, 0x68, 0x9e,
    0x2b, 0x16, 0xbe, 0x58, 0x7d, 0x47, 0xa1, 0xfc, 0x8f, 0xf8, 0xb8, 0xd1, 0x7a, 0xd0, 0x31, 0xce,
    0x45, 0xcb, 0x3a, 0x8f, 0x95, 0x16, 0x04, 0x28, 0xaf, 0xd7, 0xfb, 0xca, 0xbb, 0x4b, 0x40, 0x7e,
};

static inline uint64_t rd64(const uint8_t *p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return v;
}
static inline uint32_t rd32(const uint8_t *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}
static inline uint64_t rotl64(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

/* the 128-bit product's two halves xor'ed */
static inline uint64_t mul_fold(uint64_t a, uint64_t b) {
  __uint128_t r = (__uint128_t)a * b;
  return (uint64_t)r ^ (uint64_t)(r >> 64);
}

static inline uint64_t avalanche(uint64_t x) {
  x ^= x >> 37;
  x *= PMX_1;
  return x ^ (x >> 32);
}

static inline uint64_t avalanche_xxh64(uint64_t x) {
  x ^= x >> 33;
  x *= P64_2;
  x ^= x >> 29;
  x *= P64_3;
  return x ^ (x >> 32);
}

/* 0–16 bytes */
static uint64_t small(const uint8_t *p, size_t n) {
  if (n == 0) return avalanche_xxh64(rd64(secret + 56) ^ rd64(secret + 64));
  if (n <= 3) {
    uint32_t combined = (uint32_t)p[n - 1] | ((uint32_t)n << 8) | ((uint32_t)p[0] << 16) |
                        ((uint32_t)p[n >> 1] << 24);
    return avalanche_xxh64((uint64_t)(rd32(secret) ^ rd32(secret + 4)) ^ combined);
  }
  if (n <= 8) {
    uint64_t combined = (uint64_t)rd32(p + n - 4) | ((uint64_t)rd32(p) << 32);
    uint64_t v = (rd64(secret + 8) ^ rd64(secret + 16)) ^ combined;
    v ^= rotl64(v, 49) ^ rotl64(v, 24);
    v *= PMX_2;
    v ^= (v >> 35) + n;
    v *= PMX_2;
    return v ^ (v >> 28);
  }
  uint64_t lo = (rd64(secret + 24) ^ rd64(secret + 32)) ^ rd64(p);
  uint64_t hi = (rd64(secret + 40) ^ rd64(secret + 48)) ^ rd64(p + n - 8);
  return avalanche(n + __builtin_bswap64(lo) + hi + mul_fold(lo, hi));
}

/* 16 bytes of data against 16 of the secret */
static inline uint64_t mix16(const uint8_t *p, size_t at) {
  return mul_fold(rd64(p) ^ rd64(secret + at), rd64(p + 8) ^ rd64(secret + at + 8));
}

/* 17–240 bytes */
static uint64_t medium(const uint8_t *p, size_t n) {
  uint64_t acc = n * P64_1;
  if (n <= 128) {
    for (size_t i = 0, rounds = ((n - 1) >> 5) + 1; i < rounds; i++) {
      acc += mix16(p + 16 * i, 32 * i);
      acc += mix16(p + n - 16 * i - 16, 32 * i + 16);
    }
    return avalanche(acc);
  }
  for (size_t i = 0; i < 8; i++) acc += mix16(p + 16 * i, 16 * i);
  acc = avalanche(acc);
  for (size_t i = 8; i < (n >> 4); i++) acc += mix16(p + 16 * i, 16 * (i - 8) + 3);
  acc += mix16(p + n - 16, 119);
  return avalanche(acc);
}

/*
 * Over 240 bytes: eight accumulators; each 64-byte stripe is mixed with the secret at 8 bytes further than the
 * last, sixteen stripes make a 1024-byte block, after which the accumulators are scrambled. The last block
 * (1–1024 bytes, even a full one) is left to the end: its whole stripes but the last, then the input's last 64
 * bytes as a stripe of their own, then the accumulators are merged. Two loops with the same steps: portable C,
 * and AVX2 (four lanes per instruction) where the CPU has it.
 */
static inline void accumulate(uint64_t acc[8], const uint8_t *stripe, const uint8_t *key) {
  for (int i = 0; i < 8; i++) {
    uint64_t data = rd64(stripe + 8 * i);
    uint64_t v = data ^ rd64(key + 8 * i);
    acc[i ^ 1] += data;
    acc[i] += (v & 0xFFFFFFFFu) * (v >> 32);
  }
}

static inline void scramble(uint64_t acc[8]) {
  const uint8_t *key = secret + SECRET_SIZE - STRIPE;
  for (int i = 0; i < 8; i++) {
    uint64_t a = acc[i];
    a ^= a >> 47;
    a ^= rd64(key + 8 * i);
    acc[i] = a * P32_1;
  }
}

static void long_portable(uint64_t acc[8], const uint8_t *p, size_t n) {
  size_t blocks = (n - 1) / BLOCK;
  for (size_t b = 0; b < blocks; b++, p += BLOCK) {
    for (int s = 0; s < STRIPES_PER_BLOCK; s++) accumulate(acc, p + STRIPE * s, secret + 8 * s);
    scramble(acc);
  }
  size_t last = n - blocks * BLOCK;
  for (size_t s = 0; s < (last - 1) / STRIPE; s++) accumulate(acc, p + STRIPE * s, secret + 8 * s);
  accumulate(acc, p + last - STRIPE, secret + SECRET_SIZE - STRIPE - 7);
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define WIDE __attribute__((target("avx2")))

/* one stripe into the two registers of four accumulators each */
WIDE static inline void accumulate_wide(__m256i acc[2], const uint8_t *stripe, const uint8_t *key) {
  for (int h = 0; h < 2; h++) {
    __m256i data = _mm256_loadu_si256((const __m256i *)(stripe + 32 * h));
    __m256i v = _mm256_xor_si256(data, _mm256_loadu_si256((const __m256i *)(key + 32 * h)));
    __m256i product = _mm256_mul_epu32(v, _mm256_srli_epi64(v, 32)); /* low half × high half */
    __m256i swapped = _mm256_shuffle_epi32(data, _MM_SHUFFLE(1, 0, 3, 2)); /* lane i gets lane i^1's data */
    acc[h] = _mm256_add_epi64(acc[h], _mm256_add_epi64(swapped, product));
  }
}

WIDE static inline void scramble_wide(__m256i acc[2]) {
  const uint8_t *key = secret + SECRET_SIZE - STRIPE;
  const __m256i prime = _mm256_set1_epi64x((long long)P32_1);
  for (int h = 0; h < 2; h++) {
    __m256i a = _mm256_xor_si256(acc[h], _mm256_srli_epi64(acc[h], 47));
    a = _mm256_xor_si256(a, _mm256_loadu_si256((const __m256i *)(key + 32 * h)));
    /* a 64-bit lane times a 32-bit prime: low half × prime + (high half × prime) << 32 */
    __m256i lo = _mm256_mul_epu32(a, prime);
    __m256i hi = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), prime);
    acc[h] = _mm256_add_epi64(lo, _mm256_slli_epi64(hi, 32));
  }
}

WIDE static void long_wide(uint64_t out[8], const uint8_t *p, size_t n) {
  __m256i acc[2] = {_mm256_loadu_si256((const __m256i *)out), _mm256_loadu_si256((const __m256i *)(out + 4))};
  size_t blocks = (n - 1) / BLOCK;
  for (size_t b = 0; b < blocks; b++, p += BLOCK) {
    for (int s = 0; s < STRIPES_PER_BLOCK; s++) accumulate_wide(acc, p + STRIPE * s, secret + 8 * s);
    scramble_wide(acc);
  }
  size_t last = n - blocks * BLOCK;
  for (size_t s = 0; s < (last - 1) / STRIPE; s++) accumulate_wide(acc, p + STRIPE * s, secret + 8 * s);
  accumulate_wide(acc, p + last - STRIPE, secret + SECRET_SIZE - STRIPE - 7);
  _mm256_storeu_si256((__m256i *)out, acc[0]);
  _mm256_storeu_si256((__m256i *)(out + 4), acc[1]);
}

static int wide_available;
static pthread_once_t wide_once = PTHREAD_ONCE_INIT;
static void detect_wide(void) {
  __builtin_cpu_init();
  wide_available = __builtin_cpu_supports("avx2") != 0;
}
int atlas_xxh3_wide(void) {
  pthread_once(&wide_once, detect_wide);
  return wide_available;
}
#else
int atlas_xxh3_wide(void) { return 0; }
static void long_wide(uint64_t acc[8], const uint8_t *p, size_t n) { long_portable(acc, p, n); }
#endif

static uint64_t large(const uint8_t *p, size_t n, int portable) {
  uint64_t acc[8] = {P32_3, P64_1, P64_2, P64_3, P64_4, P32_2, P64_5, P32_1};
  if (!portable && atlas_xxh3_wide()) long_wide(acc, p, n);
  else long_portable(acc, p, n);
  uint64_t result = n * P64_1;
  for (int i = 0; i < 4; i++) {
    result += mul_fold(acc[2 * i] ^ rd64(secret + 11 + 16 * i), acc[2 * i + 1] ^ rd64(secret + 11 + 16 * i + 8));
  }
  return avalanche(result);
}

uint64_t atlas_xxh3(const uint8_t *p, size_t n, int portable) {
  if (n <= 16) return small(p, n);
  if (n <= 240) return medium(p, n);
  return large(p, n, portable);
}
