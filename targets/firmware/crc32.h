/* CRC-32 (IEEE 802.3, reflected 0xEDB88320), the one host/checkpoint.ts uses. */
#ifndef TT_CRC32_H
#define TT_CRC32_H

#include <stdint.h>

/* Start with crc32_update(0, ...) and feed chunks in order. */
uint32_t crc32_update(uint32_t crc, const void* data, uint32_t bytes);

#endif
