# Fragment table: the first fragment of a datagram records its ports, later
# fragments of the same datagram (src, dst, id, protocol) take them. A small
# direct-mapped table in C: a newer datagram simply replaces an older one in its
# slot, so memory stays bounded whatever the capture holds.

from libc.string cimport memcmp


cdef inline void frag_key(uint8_t* key, const Pkt* k, uint32_t ident, uint8_t proto) noexcept nogil:
    memcpy(key, k.r.src, 16)
    memcpy(key + 16, k.r.dst, 16)
    memcpy(key + 32, &ident, 4)
    key[36] = proto
    key[37] = k.r.wire_family
    key[38] = 0
    key[39] = 0


cdef inline uint32_t frag_hash(const uint8_t* key) noexcept nogil:
    cdef uint64_t h = 0xcbf29ce484222325ULL
    cdef uint64_t word
    cdef int i
    for i in range(5):
        memcpy(&word, key + 8 * i, 8)
        h = (h ^ word) * 0x100000001b3ULL
        h ^= h >> 29
    return <uint32_t>(h & (FRAG_SLOTS - 1))


cdef void frag_store(FragSlot* table, const Pkt* k, uint32_t ident, uint8_t proto) noexcept nogil:
    cdef FragSlot* slot
    cdef uint8_t key[40]
    frag_key(key, k, ident, proto)
    slot = table + frag_hash(key)
    memcpy(slot.key, key, 40)
    slot.used = 1
    slot.sport = k.r.sport
    slot.dport = k.r.dport


cdef void frag_lookup(FragSlot* table, Pkt* k, uint32_t ident, uint8_t proto) noexcept nogil:
    cdef FragSlot* slot
    cdef uint8_t key[40]
    frag_key(key, k, ident, proto)
    slot = table + frag_hash(key)
    if slot.used and memcmp(slot.key, key, 40) == 0:
        k.r.sport = slot.sport
        k.r.dport = slot.dport
