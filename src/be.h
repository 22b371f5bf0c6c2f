/* Big-endian loads.  Each byte is widened before it is shifted so that no
 * intermediate value is promoted to a signed int and shifted into its sign
 * bit, and nothing depends on the host's byte order or alignment. */
#ifndef QCOW2DUMP_BE_H
#define QCOW2DUMP_BE_H

#include <stdint.h>

static inline uint16_t be16_at(const uint8_t *p)
{
	return (uint16_t)(((uint16_t)p[0] << 8) | (uint16_t)p[1]);
}

static inline uint32_t be32_at(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
	       ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static inline uint64_t be64_at(const uint8_t *p)
{
	return ((uint64_t)be32_at(p) << 32) | (uint64_t)be32_at(p + 4);
}

#endif
