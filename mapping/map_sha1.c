/* SHA-1, FIPS 180-4 section 6.1, one 64-byte block at a time.
 * mapping/map_sha1.c */
#include "map_sha1.h"

#include "ferry_be.h"

#include <string.h>

#define ROL(x, n) (((x) << (n)) | ((x) >> (32 - (n))))

/* The message schedule kept as 16 words: W[t] for t >= 16 replaces
 * W[t - 16] in place. */
#define W(t) w[(t)&15]
#define SCHED(t) (W(t) = ROL(W((t) + 13) ^ W((t) + 8) ^ W((t) + 2) ^ W(t), 1))

/* One round: e takes a's rotation plus f, the constant and the word; b is
 * rotated.  The caller rotates the roles of a..e instead of the values. */
#define ROUND(a, b, c, d, e, f, k, wt)                                         \
    do {                                                                       \
        (e) += ROL(a, 5) + (f) + (k) + (wt);                                   \
        (b) = ROL(b, 30);                                                      \
    } while (0)

#define F0(b, c, d) (((b) & (c)) | (~(b) & (d)))
#define F1(b, c, d) ((b) ^ (c) ^ (d))
#define F2(b, c, d) (((b) & (c)) | ((b) & (d)) | ((c) & (d)))

#define FIVE(t, f, k, wt)                                                      \
    do {                                                                       \
        ROUND(a, b, c, d, e, f(b, c, d), k, wt(t));                            \
        ROUND(e, a, b, c, d, f(a, b, c), k, wt((t) + 1));                      \
        ROUND(d, e, a, b, c, f(e, a, b), k, wt((t) + 2));                      \
        ROUND(c, d, e, a, b, f(d, e, a), k, wt((t) + 3));                      \
        ROUND(b, c, d, e, a, f(c, d, e), k, wt((t) + 4));                      \
    } while (0)

#define K0 0x5a827999u
#define K1 0x6ed9eba1u
#define K2 0x8f1bbcdcu
#define K3 0xca62c1d6u

static void
compress(uint32_t h[5], const unsigned char *block)
{
    uint32_t w[16];
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    int i, t;

    for (i = 0; i < 16; i++)
        w[i] = ferry_be32_get(block + 4 * i);
    for (t = 0; t < 15; t += 5)
        FIVE(t, F0, K0, W);
    ROUND(a, b, c, d, e, F0(b, c, d), K0, W(15));
    ROUND(e, a, b, c, d, F0(a, b, c), K0, SCHED(16));
    ROUND(d, e, a, b, c, F0(e, a, b), K0, SCHED(17));
    ROUND(c, d, e, a, b, F0(d, e, a), K0, SCHED(18));
    ROUND(b, c, d, e, a, F0(c, d, e), K0, SCHED(19));
    for (t = 20; t < 40; t += 5)
        FIVE(t, F1, K1, SCHED);
    for (t = 40; t < 60; t += 5)
        FIVE(t, F2, K2, SCHED);
    for (t = 60; t < 80; t += 5)
        FIVE(t, F1, K3, SCHED);
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
}

void
map_sha1_init(map_sha1_t *s)
{
    s->h[0] = 0x67452301u;
    s->h[1] = 0xefcdab89u;
    s->h[2] = 0x98badcfeu;
    s->h[3] = 0x10325476u;
    s->h[4] = 0xc3d2e1f0u;
    s->total = 0;
    s->used = 0;
}

void
map_sha1_update(map_sha1_t *s, const void *p, size_t n)
{
    const unsigned char *in = p;

    s->total += n;
    if (s->used > 0) {
        size_t take = 64 - s->used < n ? 64 - s->used : n;

        memcpy(s->block + s->used, in, take);
        s->used += take;
        in += take;
        n -= take;
        if (s->used < 64)
            return;
        compress(s->h, s->block);
        s->used = 0;
    }
    for (; n >= 64; in += 64, n -= 64)
        compress(s->h, in);
    if (n > 0)
        memcpy(s->block, in, n);
    s->used = n;
}

void
map_sha1_final(map_sha1_t *s, unsigned char out[MAP_SHA1_LEN])
{
    uint64_t bits = s->total * 8;
    int i;

    /* A 1 bit, zeros to 56 bytes mod 64, the length in bits big-endian. */
    s->block[s->used++] = 0x80;
    if (s->used > 56) {
        memset(s->block + s->used, 0, 64 - s->used);
        compress(s->h, s->block);
        s->used = 0;
    }
    memset(s->block + s->used, 0, 56 - s->used);
    ferry_be32_put(s->block + 56, (uint32_t)(bits >> 32));
    ferry_be32_put(s->block + 60, (uint32_t)bits);
    compress(s->h, s->block);
    for (i = 0; i < 5; i++)
        ferry_be32_put(out + 4 * i, s->h[i]);
}
