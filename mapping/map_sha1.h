/* SHA-1 (FIPS 180-4) of a message given in pieces, for UUIDv5.
 * mapping/map_sha1.h
 *
 * UUIDv5 is SHA-1 by definition (RFC 4122, section 4.3).  ferry-sink
 * derives a UUID for every row and every ref of every event, and libuuid's
 * SHA-1 took a sixth of its instructions (docs/sink.md, Throughput); this
 * one takes about a third of that.  tests/unit/mapping/test_map_uuid.c
 * checks it against FIPS 180's examples and against libuuid.  Not for
 * anything that needs a collision-resistant hash.  Thread-safe: all state
 * is the caller's.
 */
#ifndef MAP_SHA1_H
#define MAP_SHA1_H

#include <stddef.h>
#include <stdint.h>

/* Bytes of a digest. */
#define MAP_SHA1_LEN 20

typedef struct map_sha1 {
    uint32_t h[5];           /* the chaining state */
    uint64_t total;          /* bytes hashed so far */
    unsigned char block[64]; /* the block being filled ... */
    size_t used;             /* ... and its bytes */
} map_sha1_t;

/* Starts a digest in *s (caller-owned). */
void map_sha1_init(map_sha1_t *s);

/* Adds the n bytes at p (borrowed for the call). */
void map_sha1_update(map_sha1_t *s, const void *p, size_t n);

/* Writes the digest into out; *s must be initialised again before reuse. */
void map_sha1_final(map_sha1_t *s, unsigned char out[MAP_SHA1_LEN]);

#endif
