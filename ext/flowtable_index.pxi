# Flow key comparison and the open-addressing index (included by flowtable.pyx; the
# canonical key and its hash are in packet_key.pxi).
#
# The index is a power-of-two array of 64-bit slots, linear probing, no tombstones
# (backward-shift deletion). A slot holds the flow's tag (high 32 bits of its key hash)
# << 32 | (record id + 1); 0 is empty. The home position is taken from the stored high
# bits, so probing, deletion and rehashing never touch a flow record except to confirm
# a key.

cdef inline bint addr_equal(const uint8_t *x, const uint8_t *y) noexcept nogil:
    """16-byte address equality as two 64-bit compares (no libc call)."""
    return ((load64(x) ^ load64(y)) | (load64(x + 8) ^ load64(y + 8))) == 0


cdef inline bint key_equal(const FlowRec *r, const ds_packet_record *p,
                           bint src_a) noexcept nogil:
    """Is r the flow of packet record p (whose source is endpoint a when src_a)?"""
    if src_a:
        if not (r.port_a == p.sport and r.port_b == p.dport and addr_equal(r.a, p.src)
                and addr_equal(r.b, p.dst)):
            return False
    elif not (r.port_a == p.dport and r.port_b == p.sport and addr_equal(r.a, p.dst)
              and addr_equal(r.b, p.src)):
        return False
    return (r.proto == p.key_proto and r.vlan == p.vlan and r.vlan_inner == p.vlan_inner
            and r.tunnel == p.tunnel)


cdef inline uint64_t slot_of(uint32_t tag, uint32_t rec_id) noexcept nogil:
    return (<uint64_t>tag << 32) | (<uint64_t>rec_id + 1)


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
