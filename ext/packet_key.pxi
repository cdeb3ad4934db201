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


cdef inline uint64_t key_hash(uint64_t a0, uint64_t a1, uint64_t b0, uint64_t b1,
                              uint32_t ports, uint8_t proto, uint8_t tunnel,
                              uint64_t vlans) noexcept nogil:
    """Three independent 128-bit multiplies (wyhash's mum) and one to finish for the
    44-byte key: endpoint a's and b's address as two words each (host order loads),
    `ports` (port a | port b << 16) and `vlans` (both VLAN ids as one word); every key
    bit reaches the high 32 bits that pick the index slot."""
    cdef uint64_t h = pk_mum(a0 ^ <uint64_t>0xA0761D6478BD642F, a1 ^ <uint64_t>0xE7037ED1A0B428DB)
    h ^= pk_mum(b0 ^ <uint64_t>0x8EBC6AF09C88C6E3, b1 ^ <uint64_t>0x589965CC75374CC3)
    h ^= pk_mum((ports | (<uint64_t>proto << 32) | (<uint64_t>tunnel << 40))
                ^ <uint64_t>0x1D8E4E27C47D124F, vlans ^ <uint64_t>0x9E3779B97F4A7C15)
    return pk_mum(h ^ <uint64_t>0xA0761D6478BD642F, <uint64_t>0xE7037ED1A0B428DB)


cdef inline bint words_src_first(uint64_t s0, uint64_t s1, uint64_t d0, uint64_t d1,
                                 uint16_t sport, uint16_t dport) noexcept nogil:
    """True when (source address, sport) is the canonical endpoint a: the smaller of the
    two (addresses as two host-order words each, compared as memcmp would)."""
    if s0 != d0:
        return pk_bswap64(s0) < pk_bswap64(d0)
    if s1 != d1:
        return pk_bswap64(s1) < pk_bswap64(d1)
    return sport <= dport


cdef inline bint src_is_a(const uint8_t *src, const uint8_t *dst,
                          uint16_t sport, uint16_t dport) noexcept nogil:
    """words_src_first for addresses in memory."""
    return words_src_first(load64(src), load64(src + 8), load64(dst), load64(dst + 8),
                           sport, dport)


cdef inline void classify_key(ds_packet_record *p, uint8_t kind, uint64_t s0, uint64_t s1,
                              uint64_t d0, uint64_t d1, uint32_t ports,
                              uint64_t vlans) noexcept nogil:
    """p.kind (`kind` for source first, else kind + 1) and p.key_hash, given p's address
    words (src s0 s1, dst d0 d1), ports (sport | dport << 16) and VLAN word: the fast
    path passes them from registers, so nothing just stored is loaded back (a load
    spanning several smaller stores waits for them to reach the cache)."""
    if words_src_first(s0, s1, d0, d1, <uint16_t>ports, <uint16_t>(ports >> 16)):
        p.kind = kind
        p.key_hash = key_hash(s0, s1, d0, d1, ports, p.key_proto, p.tunnel, vlans)
    else:
        p.kind = kind + 1
        p.key_hash = key_hash(d0, d1, s0, s1, (ports >> 16) | (ports << 16), p.key_proto,
                              p.tunnel, vlans)


cdef inline uint64_t vlan_word(int32_t vlan, int32_t vlan_inner) noexcept nogil:
    return <uint32_t>vlan | (<uint64_t><uint32_t>vlan_inner << 32)


cdef inline void classify_record(ds_packet_record *p) noexcept nogil:
    """Set p.kind and, for a flow packet or an ICMP error quoting one, p.key_hash."""
    cdef uint8_t kind
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
    classify_key(p, kind, load64(p.src), load64(p.src + 8), load64(p.dst), load64(p.dst + 8),
                 p.sport | (<uint32_t>p.dport << 16), vlan_word(p.vlan, p.vlan_inner))
