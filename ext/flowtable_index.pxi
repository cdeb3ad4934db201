# Canonical key hashing and the open-addressing index (included by flowtable.pyx).
#
# The index is a power-of-two array of 64-bit slots, linear probing, no tombstones
# (backward-shift deletion). A slot holds (high 32 bits of the flow hash) << 32 | (record
# id + 1); 0 is empty. The home position is taken from the stored high bits, so probing,
# deletion and rehashing never touch a flow record except to confirm a key.

from libc.string cimport memcpy


cdef inline uint64_t load64(const uint8_t *p) noexcept nogil:
    cdef uint64_t v
    memcpy(&v, p, 8)
    return v


cdef inline uint64_t key_hash(const uint8_t *a, const uint8_t *b, uint16_t port_a,
                              uint16_t port_b, uint8_t proto, int32_t vlan,
                              int32_t vlan_inner, uint8_t tunnel) noexcept nogil:
    """Three independent 128-bit multiplies (wyhash's mum) and one to finish: ~20
    instructions for the 44-byte key, and every key bit reaches the high 32 bits that
    pick the index slot."""
    cdef uint64_t h = ft_mum(load64(a) ^ <uint64_t>0xA0761D6478BD642F,
                             load64(a + 8) ^ <uint64_t>0xE7037ED1A0B428DB)
    h ^= ft_mum(load64(b) ^ <uint64_t>0x8EBC6AF09C88C6E3,
                load64(b + 8) ^ <uint64_t>0x589965CC75374CC3)
    h ^= ft_mum(((<uint64_t>port_a << 48) | (<uint64_t>port_b << 32)
                 | (<uint64_t>proto << 8) | tunnel) ^ <uint64_t>0x1D8E4E27C47D124F,
                ((<uint64_t><uint32_t>vlan << 32) | <uint32_t>vlan_inner)
                ^ <uint64_t>0x9E3779B97F4A7C15)
    return ft_mum(h ^ <uint64_t>0xA0761D6478BD642F, <uint64_t>0xE7037ED1A0B428DB)


cdef inline bint addr_equal(const uint8_t *x, const uint8_t *y) noexcept nogil:
    """16-byte address equality as two 64-bit compares (no libc call)."""
    return ((load64(x) ^ load64(y)) | (load64(x + 8) ^ load64(y + 8))) == 0


cdef inline bint src_is_a(const uint8_t *src, const uint8_t *dst,
                          uint16_t sport, uint16_t dport) noexcept nogil:
    """True when (src, sport) is the canonical endpoint a: the smaller of the two
    (addresses compared as memcmp would, as two big-endian 64-bit words)."""
    cdef uint64_t s0 = ft_bswap64(load64(src)), d0 = ft_bswap64(load64(dst))
    cdef uint64_t s1, d1
    if s0 != d0:
        return s0 < d0
    s1 = ft_bswap64(load64(src + 8))
    d1 = ft_bswap64(load64(dst + 8))
    if s1 != d1:
        return s1 < d1
    return sport <= dport


cdef inline bint key_equal(const FlowRec *r, uint64_t h, const uint8_t *a, const uint8_t *b,
                           uint16_t port_a, uint16_t port_b, uint8_t proto, int32_t vlan,
                           int32_t vlan_inner, uint8_t tunnel) noexcept nogil:
    return (r.hash == h and r.port_a == port_a and r.port_b == port_b and r.proto == proto
            and r.vlan == vlan and r.vlan_inner == vlan_inner and r.tunnel == tunnel
            and addr_equal(r.a, a) and addr_equal(r.b, b))


cdef inline uint64_t slot_of(uint64_t h, uint32_t rec_id) noexcept nogil:
    return ((h >> 32) << 32) | (<uint64_t>rec_id + 1)


cdef inline uint64_t home_of(uint64_t slot, uint64_t mask) noexcept nogil:
    return (slot >> 32) & mask


cdef inline uint32_t rec_of(uint64_t slot) noexcept nogil:
    return <uint32_t>slot - 1


cdef inline void index_insert(uint64_t *slots, uint64_t mask, uint64_t slot) noexcept nogil:
    cdef uint64_t i = home_of(slot, mask)
    while slots[i] != 0:
        i = (i + 1) & mask
    slots[i] = slot


cdef inline void index_remove(uint64_t *slots, uint64_t mask, uint64_t slot) noexcept nogil:
    """Remove `slot` (present) and shift later members of its cluster back."""
    cdef uint64_t i = home_of(slot, mask)
    cdef uint64_t j, k
    while slots[i] != slot:
        i = (i + 1) & mask
    j = i
    while True:
        j = (j + 1) & mask
        if slots[j] == 0:
            break
        k = home_of(slots[j], mask)
        # move slots[j] into the hole at i unless its home lies cyclically in (i, j]
        if (j > i and (k <= i or k > j)) or (j < i and k <= i and k > j):
            slots[i] = slots[j]
            i = j
    slots[i] = 0
