# Canonical key hashing and the open-addressing index (included by flowtable.pyx).
#
# The index is a power-of-two array of 64-bit slots, linear probing, no tombstones
# (backward-shift deletion). A slot holds (high 32 bits of the flow hash) << 32 | (record
# id + 1); 0 is empty. The home position is taken from the stored high bits, so probing,
# deletion and rehashing never touch a flow record except to confirm a key.

from libc.string cimport memcmp, memcpy


cdef inline uint64_t load64(const uint8_t *p) noexcept nogil:
    cdef uint64_t v
    memcpy(&v, p, 8)
    return v


cdef inline uint64_t mix64(uint64_t h, uint64_t v) noexcept nogil:
    h ^= v * <uint64_t>0x9E3779B97F4A7C15
    h = ((h << 27) | (h >> 37)) * <uint64_t>0xC2B2AE3D27D4EB4F
    return h


cdef inline uint64_t fmix64(uint64_t h) noexcept nogil:
    h ^= h >> 33
    h *= <uint64_t>0xFF51AFD7ED558CCD
    h ^= h >> 33
    h *= <uint64_t>0xC4CEB9FE1A85EC53
    h ^= h >> 33
    return h


cdef inline uint64_t key_hash(const uint8_t *a, const uint8_t *b, uint16_t port_a,
                              uint16_t port_b, uint8_t proto, int32_t vlan,
                              int32_t vlan_inner, uint8_t tunnel) noexcept nogil:
    cdef uint64_t h = 0x5BD1E9955BD1E995
    h = mix64(h, load64(a))
    h = mix64(h, load64(a + 8))
    h = mix64(h, load64(b))
    h = mix64(h, load64(b + 8))
    h = mix64(h, (<uint64_t>port_a << 48) | (<uint64_t>port_b << 32)
              | (<uint64_t>proto << 8) | tunnel)
    h = mix64(h, (<uint64_t><uint32_t>vlan << 32) | <uint32_t>vlan_inner)
    return fmix64(h)


cdef inline bint src_is_a(const uint8_t *src, const uint8_t *dst,
                          uint16_t sport, uint16_t dport) noexcept nogil:
    """True when (src, sport) is the canonical endpoint a: the smaller of the two."""
    cdef int c = memcmp(src, dst, 16)
    return c < 0 or (c == 0 and sport <= dport)


cdef inline bint key_equal(const FlowRec *r, uint64_t h, const uint8_t *a, const uint8_t *b,
                           uint16_t port_a, uint16_t port_b, uint8_t proto, int32_t vlan,
                           int32_t vlan_inner, uint8_t tunnel) noexcept nogil:
    return (r.hash == h and r.port_a == port_a and r.port_b == port_b and r.proto == proto
            and r.vlan == vlan and r.vlan_inner == vlan_inner and r.tunnel == tunnel
            and memcmp(r.a, a, 16) == 0 and memcmp(r.b, b, 16) == 0)


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
