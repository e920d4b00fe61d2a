#ifndef ATLAS_CRC32_H
#define ATLAS_CRC32_H
#include <stddef.h>
#include <stdint.h>

/* Fills the table (once per process, whoever calls it); call before the others. */
void atlas_crc32_init(void);
/* 1 where the folding (PCLMULQDQ) path runs on this CPU. */
int atlas_crc32_fast(void);
/* The CRC-32 register after p[0, n), from `reg`, without inversions (see crc32.c). */
uint32_t atlas_crc32_raw(uint32_t reg, const uint8_t *p, size_t n);

#endif
