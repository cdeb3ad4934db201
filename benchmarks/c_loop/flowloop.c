/*
 * flowloop: the plain C reference loop of the benchmark suite.
 *
 * mmap a classic pcap file (any of the four magics), madvise it sequential, walk the
 * records prefetching a few KiB ahead (and each flow slot PENDING packets ahead), parse Ethernet (802.1Q / 802.1ad / 0x9100 tags),
 * IPv4 (options; later fragments skipped), IPv6 (hop-by-hop, routing, fragment,
 * destination options and AH headers), TCP and UDP ports, and count packets per
 * direction in an open-addressing table keyed by the canonical 5-tuple
 * (the smaller (address, port) endpoint first; IPv4 stored as ::ffff:a.b.c.d).
 *
 * Prints one JSON line: packets, TCP/UDP packets, flows, the time of the loop and the
 * flow fingerprint of benchmarks/flowcheck.py (sum of FNV-1a over each flow's
 * proto | a | port a | b | port b | n_ab | n_ba). Build: cc -O2 -o flowloop flowloop.c
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PREFETCH_AHEAD 4096

typedef struct {
    uint64_t hash; /* 0 = empty slot */
    uint64_t n[2]; /* packets a->b, b->a */
    uint8_t a[16];
    uint8_t b[16];
    uint16_t port_a, port_b;
    uint8_t proto;
    uint8_t pad[3];
} flow_t; /* 64 bytes: one cache line */

typedef struct {
    flow_t *slots;
    uint64_t mask;
    uint64_t used;
} table_t;

static inline uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

static inline uint32_t ld32(const uint8_t *p, int swap) {
    uint32_t v;
    memcpy(&v, p, 4);
    return swap ? __builtin_bswap32(v) : v;
}

static inline uint64_t ld64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static inline uint64_t be64(const uint8_t *p) { return __builtin_bswap64(ld64(p)); }

/* memcmp(x, y, 16) < 0, <= 0 as two big-endian 64-bit compares (no libc call) */
static inline int addr_cmp(const uint8_t *x, const uint8_t *y) {
    uint64_t x0 = be64(x), y0 = be64(y);
    if (x0 != y0)
        return x0 < y0 ? -1 : 1;
    uint64_t x1 = be64(x + 8), y1 = be64(y + 8);
    return x1 < y1 ? -1 : x1 > y1;
}

static inline int addr_eq(const uint8_t *x, const uint8_t *y) {
    return ((ld64(x) ^ ld64(y)) | (ld64(x + 8) ^ ld64(y + 8))) == 0;
}

static inline uint64_t mix(uint64_t h, uint64_t v) {
    h ^= v;
    h *= 0x9E3779B97F4A7C15ULL;
    return h ^ (h >> 29);
}

static uint64_t key_hash(const uint8_t *a, const uint8_t *b, uint32_t ports, uint8_t proto) {
    uint64_t h = mix(0x243F6A8885A308D3ULL, ld64(a));
    h = mix(h, ld64(a + 8));
    h = mix(h, ld64(b));
    h = mix(h, ld64(b + 8));
    h = mix(h, (uint64_t)ports << 8 | proto);
    return h | 1; /* never 0 */
}

static void table_init(table_t *t, uint64_t cap) {
    t->slots = calloc(cap, sizeof(flow_t));
    if (!t->slots) {
        perror("calloc");
        exit(2);
    }
    t->mask = cap - 1;
    t->used = 0;
}

static flow_t *table_slot(table_t *t, uint64_t h, const uint8_t *a, const uint8_t *b,
                          uint16_t pa, uint16_t pb, uint8_t proto) {
    uint64_t i = h & t->mask;
    for (;;) {
        flow_t *f = &t->slots[i];
        if (f->hash == 0)
            return f;
        if (f->hash == h && f->port_a == pa && f->port_b == pb && f->proto == proto &&
            addr_eq(f->a, a) && addr_eq(f->b, b))
            return f;
        i = (i + 1) & t->mask;
    }
}

static void table_grow(table_t *t) {
    table_t bigger;
    table_init(&bigger, (t->mask + 1) * 2);
    for (uint64_t i = 0; i <= t->mask; i++) {
        flow_t *f = &t->slots[i];
        if (f->hash == 0)
            continue;
        uint64_t j = f->hash & bigger.mask;
        while (bigger.slots[j].hash != 0)
            j = (j + 1) & bigger.mask;
        bigger.slots[j] = *f;
    }
    bigger.used = t->used;
    free(t->slots);
    *t = bigger;
}

/* A parsed packet waiting for its table update (its slot is being prefetched). */
typedef struct {
    uint8_t a[16], b[16];
    uint64_t hash;
    uint16_t port_a, port_b;
    uint8_t proto, dir;
} pending_t;

#define PENDING 16 /* packets between hashing a key and touching its slot */

/* Canonical key (smaller endpoint first), its hash, and a prefetch of its slot. */
static void stage_packet(const table_t *t, pending_t *p, uint8_t proto, const uint8_t *src,
                         uint16_t sport, const uint8_t *dst, uint16_t dport) {
    int c = addr_cmp(src, dst);
    p->dir = !(c < 0 || (c == 0 && sport <= dport));
    memcpy(p->a, p->dir ? dst : src, 16);
    memcpy(p->b, p->dir ? src : dst, 16);
    p->port_a = p->dir ? dport : sport;
    p->port_b = p->dir ? sport : dport;
    p->proto = proto;
    p->hash = key_hash(p->a, p->b, (uint32_t)p->port_a << 16 | p->port_b, proto);
    __builtin_prefetch(&t->slots[p->hash & t->mask], 1, 0);
}

static void count_packet(table_t *t, const pending_t *p) {
    flow_t *f = table_slot(t, p->hash, p->a, p->b, p->port_a, p->port_b, p->proto);
    if (f->hash == 0) {
        f->hash = p->hash;
        memcpy(f->a, p->a, 16);
        memcpy(f->b, p->b, 16);
        f->port_a = p->port_a;
        f->port_b = p->port_b;
        f->proto = p->proto;
        f->n[0] = f->n[1] = 0;
        if (++t->used * 2 > t->mask + 1) {
            f->n[p->dir] = 1;
            table_grow(t);
            return;
        }
    }
    f->n[p->dir]++;
}

/* Returns the IP protocol and sets src/dst/l4 offset, or 0 for packets without ports. */
static int parse_packet(const uint8_t *pkt, uint32_t caplen, uint8_t *src, uint8_t *dst,
                        uint16_t *sport, uint16_t *dport) {
    static const uint8_t v4_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    uint32_t off = 14;
    if (caplen < 14)
        return 0;
    uint16_t et = be16(pkt + 12);
    while (et == 0x8100 || et == 0x88a8 || et == 0x9100) {
        if (off + 4 > caplen)
            return 0;
        et = be16(pkt + off + 2);
        off += 4;
    }
    uint32_t l4;
    uint8_t proto;
    if (et == 0x0800) {
        if (off + 20 > caplen)
            return 0;
        const uint8_t *ip = pkt + off;
        if ((be16(ip + 6) & 0x1fff) != 0)
            return 0; /* a later fragment: no ports */
        proto = ip[9];
        memcpy(src, v4_prefix, 12);
        memcpy(src + 12, ip + 12, 4);
        memcpy(dst, v4_prefix, 12);
        memcpy(dst + 12, ip + 16, 4);
        l4 = off + (uint32_t)(ip[0] & 15) * 4;
    } else if (et == 0x86dd) {
        if (off + 40 > caplen)
            return 0;
        const uint8_t *ip = pkt + off;
        proto = ip[6];
        memcpy(src, ip + 8, 16);
        memcpy(dst, ip + 24, 16);
        l4 = off + 40;
        for (int hops = 0; hops < 8; hops++) {
            if (l4 + 8 > caplen)
                return 0;
            if (proto == 0 || proto == 43 || proto == 60) {
                uint8_t next = pkt[l4];
                l4 += ((uint32_t)pkt[l4 + 1] + 1) * 8;
                proto = next;
            } else if (proto == 44) {
                if ((be16(pkt + l4 + 2) & 0xfff8) != 0)
                    return 0;
                proto = pkt[l4];
                l4 += 8;
            } else if (proto == 51) {
                uint8_t next = pkt[l4];
                l4 += ((uint32_t)pkt[l4 + 1] + 2) * 4;
                proto = next;
            } else {
                break;
            }
        }
    } else {
        return 0;
    }
    if ((proto != 6 && proto != 17) || l4 + 4 > caplen)
        return 0;
    *sport = be16(pkt + l4);
    *dport = be16(pkt + l4 + 2);
    return proto;
}

static uint64_t fnv(uint64_t h, const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001B3ULL;
    }
    return h;
}

static uint64_t fingerprint(const table_t *t) {
    uint64_t sum = 0;
    for (uint64_t i = 0; i <= t->mask; i++) {
        const flow_t *f = &t->slots[i];
        if (f->hash == 0)
            continue;
        uint8_t row[53], *r = row;
        *r++ = f->proto;
        memcpy(r, f->a, 16), r += 16;
        *r++ = f->port_a >> 8, *r++ = f->port_a & 0xff;
        memcpy(r, f->b, 16), r += 16;
        *r++ = f->port_b >> 8, *r++ = f->port_b & 0xff;
        for (int d = 0; d < 2; d++)
            for (int k = 0; k < 8; k++)
                *r++ = (uint8_t)(f->n[d] >> (8 * k));
        sum += fnv(0xCBF29CE484222325ULL, row, sizeof row);
    }
    return sum;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s FILE.pcap\n", argv[0]);
        return 2;
    }
    double t0 = now();
    int fd = open(argv[1], O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || st.st_size < 24) {
        perror(argv[1]);
        return 2;
    }
    size_t size = (size_t)st.st_size;
    const uint8_t *base = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (base == MAP_FAILED) {
        perror("mmap");
        return 2;
    }
    madvise((void *)base, size, MADV_SEQUENTIAL);
    uint32_t magic = ld32(base, 0);
    int swap;
    if (magic == 0xa1b2c3d4 || magic == 0xa1b23c4d)
        swap = 0;
    else if (magic == 0xd4c3b2a1 || magic == 0x4d3cb2a1)
        swap = 1;
    else {
        fprintf(stderr, "%s: not a classic pcap file\n", argv[1]);
        return 2;
    }
    if ((ld32(base + 20, swap) & 0x0fffffff) != 1) {
        fprintf(stderr, "%s: link type is not Ethernet\n", argv[1]);
        return 2;
    }
    table_t t;
    table_init(&t, 1 << 16);
    const uint8_t *p = base + 24, *end = base + size;
    uint64_t packets = 0, flow_packets = 0;
    uint8_t src[16], dst[16];
    uint16_t sport = 0, dport = 0;
    pending_t pending[PENDING];
    unsigned staged = 0;
    while (p + 16 <= end) {
        __builtin_prefetch(p + PREFETCH_AHEAD, 0, 0);
        uint32_t caplen = ld32(p + 8, swap);
        const uint8_t *pkt = p + 16;
        if (caplen > (size_t)(end - pkt)) {
            fprintf(stderr, "%s: truncated record at offset %zu\n", argv[1],
                    (size_t)(p - base));
            break;
        }
        p = pkt + caplen;
        packets++;
        int proto = parse_packet(pkt, caplen, src, dst, &sport, &dport);
        if (proto) {
            flow_packets++;
            pending_t *p = &pending[staged++ % PENDING];
            if (staged > PENDING)
                count_packet(&t, p); /* the packet staged PENDING packets ago */
            stage_packet(&t, p, (uint8_t)proto, src, sport, dst, dport);
        }
    }
    for (unsigned k = staged > PENDING ? staged - PENDING : 0; k < staged; k++)
        count_packet(&t, &pending[k % PENDING]);
    double elapsed = now() - t0;
    printf("{\"packets\": %llu, \"flow_packets\": %llu, \"flows\": %llu, "
           "\"checksum\": \"0x%016llx\", \"seconds\": %.6f}\n",
           (unsigned long long)packets, (unsigned long long)flow_packets,
           (unsigned long long)t.used, (unsigned long long)fingerprint(&t), elapsed);
    return 0;
}
