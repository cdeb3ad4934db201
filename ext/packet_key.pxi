# The flow key of a packet record: which flow a packet belongs to, in canonical order
# (endpoint "a" is the smaller (address, port), "b" the larger, plus protocol, both VLAN
# ids and the tunnel kind), and its hash. The reader classifies each record as it
# writes it, while the packet's bytes are in cache; the flow table's column path
# (FlowTable.update) does the same for records packed from columns. Included by both
# extension modules, after packet_record.pxi.

from libc.string cimport memcpy

cdef extern from *:
    """
    #include <stdint.h>
    /* 64x64 -> 128-bit multiply folded to 64 bits (the "mum" step of wyhash). */
    static inline uint64_t pk_mum(uint64_t a, uint64_t b) {
        __uint128_t r = (__uint128_t)a * b;
        return (uint64_t)r ^ (uint64_t)(r >> 64);
    }
    static inline uint64_t pk_bswap64(uint64_t v) { return __builtin_bswap64(v); }
    """
    uint64_t pk_mum(uint64_t a, uint64_t b) noexcept nogil
    uint64_t pk_bswap64(uint64_t v) noexcept nogil

# ds_packet_record.kind: what the flow table does with a packet
cdef enum:
    PK_SKIP = 0              # not a flow packet (not TCP/UDP, broken, a later fragment)
    PK_FLOW_SRC_A = 1        # a TCP/UDP packet whose source is canonical endpoint a
    PK_FLOW_SRC_B = 2
    PK_ICMP_SRC_A = 3        # an ICMP error whose quoted source is endpoint a
    PK_ICMP_SRC_B = 4

cdef enum:
    PK_TCP = 6
    PK_UDP = 17


cdef inline uint64_t load64(const uint8_t *p) noexcept nogil:
    cdef uint64_t v
    memcpy(&v, p, 8)
    return v


cdef inline uint32_t load32(const uint8_t *p) noexcept nogil:
    cdef uint32_t v
    memcpy(&v, p, 4)
    return v


cdef inline uint64_t key_hash(const uint8_t *a, const uint8_t *b, uint32_t ports,
                              uint8_t proto, uint8_t tunnel, uint64_t vlans) noexcept nogil:
    """Three independent 128-bit multiplies (wyhash's mum) and one to finish for the
    44-byte key (`ports`: port a and port b as one word, `vlans`: both VLAN ids); every
    key bit reaches the high 32 bits that pick the index slot."""
    cdef uint64_t h = pk_mum(load64(a) ^ <uint64_t>0xA0761D6478BD642F,
                             load64(a + 8) ^ <uint64_t>0xE7037ED1A0B428DB)
    h ^= pk_mum(load64(b) ^ <uint64_t>0x8EBC6AF09C88C6E3,
                load64(b + 8) ^ <uint64_t>0x589965CC75374CC3)
    h ^= pk_mum((ports | (<uint64_t>proto << 32) | (<uint64_t>tunnel << 40))
                ^ <uint64_t>0x1D8E4E27C47D124F, vlans ^ <uint64_t>0x9E3779B97F4A7C15)
    return pk_mum(h ^ <uint64_t>0xA0761D6478BD642F, <uint64_t>0xE7037ED1A0B428DB)


cdef inline bint src_is_a(const uint8_t *src, const uint8_t *dst,
                          uint16_t sport, uint16_t dport) noexcept nogil:
    """True when (src, sport) is the canonical endpoint a: the smaller of the two
    (addresses compared as memcmp would, as two big-endian 64-bit words)."""
    cdef uint64_t s0 = pk_bswap64(load64(src)), d0 = pk_bswap64(load64(dst))
    cdef uint64_t s1, d1
    if s0 != d0:
        return s0 < d0
    s1 = pk_bswap64(load64(src + 8))
    d1 = pk_bswap64(load64(dst + 8))
    if s1 != d1:
        return s1 < d1
    return sport <= dport


cdef inline void classify_record(ds_packet_record *p) noexcept nogil:
    """Set p.kind and, for a flow packet or an ICMP error quoting one, p.key_hash."""
    cdef uint8_t kind
    cdef uint32_t ports
    cdef uint64_t vlans
    p.kind = PK_SKIP
    if p.status != 0 or p.wire_family == 0:
        return
    if p.key_proto != PK_TCP and p.key_proto != PK_UDP:
        return
    if p.quoted:
        kind = PK_ICMP_SRC_A         # an ICMP error quoting a TCP/UDP header
    elif p.frag != 2:
        kind = PK_FLOW_SRC_A
    else:
        return                       # a later fragment (ports unknown)
    # the record's sport and dport as one word, both VLAN ids as another (packet_record.h)
    ports = load32(<const uint8_t *>&p.sport)
    vlans = load64(<const uint8_t *>&p.vlan)
    if src_is_a(p.src, p.dst, p.sport, p.dport):
        p.kind = kind
        p.key_hash = key_hash(p.src, p.dst, ports, p.key_proto, p.tunnel, vlans)
    else:
        p.kind = kind + 1
        p.key_hash = key_hash(p.dst, p.src, (ports >> 16) | (ports << 16), p.key_proto,
                              p.tunnel, vlans)
