/* Big-endian integers in byte buffers: network order, as Kafka's frames
 * and SHA-1's words are.
 * common/ferry_be.h
 *
 * Byte by byte, so any alignment and any host order work; compilers turn
 * each into one load or store and a byte swap.  The caller owns the
 * buffers and guarantees the bytes are there. */
#ifndef FERRY_BE_H
#define FERRY_BE_H

#include <stdint.h>

static inline uint16_t
ferry_be16_get(const unsigned char *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t
ferry_be32_get(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
           (uint32_t)p[3];
}

static inline void
ferry_be32_put(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

#endif
