/* Unaligned, byte-order-aware loads for capture bytes (never pointer casts). */
#ifndef DUALSTACK_READER_BYTES_H
#define DUALSTACK_READER_BYTES_H

#include <stdint.h>
#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define DS_HOST_BIG 1
#else
#define DS_HOST_BIG 0
#endif

static inline uint16_t ds_bswap16(uint16_t v) { return (uint16_t)((v >> 8) | (v << 8)); }
static inline uint32_t ds_bswap32(uint32_t v) { return __builtin_bswap32(v); }
static inline uint64_t ds_bswap64(uint64_t v) { return __builtin_bswap64(v); }

/* Network (big-endian) order. */
static inline uint16_t be16(const uint8_t *p) {
    uint16_t v; memcpy(&v, p, 2); return DS_HOST_BIG ? v : ds_bswap16(v);
}
static inline uint32_t be32(const uint8_t *p) {
    uint32_t v; memcpy(&v, p, 4); return DS_HOST_BIG ? v : ds_bswap32(v);
}
static inline uint32_t le32(const uint8_t *p) {
    uint32_t v; memcpy(&v, p, 4); return DS_HOST_BIG ? ds_bswap32(v) : v;
}

/* File order: big != 0 when the file (or pcapng section) is big-endian. */
static inline uint16_t ld16(const uint8_t *p, int big) {
    uint16_t v; memcpy(&v, p, 2); return (big != DS_HOST_BIG) ? ds_bswap16(v) : v;
}
static inline uint32_t ld32(const uint8_t *p, int big) {
    uint32_t v; memcpy(&v, p, 4); return (big != DS_HOST_BIG) ? ds_bswap32(v) : v;
}
static inline uint64_t ld64(const uint8_t *p, int big) {
    uint64_t v; memcpy(&v, p, 8); return (big != DS_HOST_BIG) ? ds_bswap64(v) : v;
}

/* Prefetch the record (or block) DS_PREFETCH_AHEAD bytes ahead of the one being decoded:
 * its first two cache lines (file header, link, IP and transport headers span 70 bytes
 * or more, so often two lines). Measured on a 1.3 GB capture of 650-byte packets in page
 * cache (read_flows, medians of 8 alternated runs): one line 4 KiB ahead 0.32 s, one line
 * 8 KiB ahead ~0.29 s, two lines 8 KiB ahead 0.26 s; small packets unchanged. A macro,
 * not a function: GCC deletes calls to a function that only prefetches (it counts as
 * pure), as objdump showed. */
#define DS_PREFETCH_AHEAD 8192
#define DS_PREFETCH_RECORD(buf, pos, end)                                         \
    do {                                                                          \
        if ((end) - (pos) > DS_PREFETCH_AHEAD + 128) {                            \
            __builtin_prefetch((buf) + (pos) + DS_PREFETCH_AHEAD, 0, 0);          \
            __builtin_prefetch((buf) + (pos) + DS_PREFETCH_AHEAD + 64, 0, 0);     \
        }                                                                         \
    } while (0)

/* A host-order 64-bit word of a packet record, in one store (so that a later 8-byte load
   of the same bytes is forwarded from the store instead of stalling). */
static inline void ds_store64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

/* The second word of an IPv4-mapped address ::ffff:a.b.c.d (bytes 8-15: 0 0 ff ff a b c d)
   as a host-order load of those bytes would give it; the first word is 0. */
static inline uint64_t ds_mapped_word(const uint8_t *v4) {
    uint32_t a; memcpy(&a, v4, 4);
#if DS_HOST_BIG
    return ((uint64_t)0x0000FFFFu << 32) | a;
#else
    return (uint64_t)0xFFFF0000u | ((uint64_t)a << 32);
#endif
}

#endif
