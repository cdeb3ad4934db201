# Small IP helpers shared by the packet decoder and the ICMP quote decoder:
# IPv4-mapped address stores and IPv6 extension-header lengths (RFC 8200 §4).

cdef enum:
    IPPROTO_HOPOPTS = 0
    IPPROTO_ROUTING = 43
    IPPROTO_FRAGMENT = 44
    IPPROTO_AH = 51
    IPPROTO_NONE = 59
    IPPROTO_DSTOPTS = 60

cdef int MAX_EXT_HEADERS = 128


cdef inline void put_v4(uint8_t* out, const uint8_t* addr) noexcept nogil:
    """Store an IPv4 address as ::ffff:a.b.c.d."""
    ds_store64(out, 0)
    ds_store64(out + 8, ds_mapped_word(addr))


cdef inline bint is_ext_header(uint8_t nh) noexcept nogil:
    return (nh == IPPROTO_HOPOPTS or nh == IPPROTO_ROUTING or nh == IPPROTO_FRAGMENT
            or nh == IPPROTO_DSTOPTS or nh == IPPROTO_AH)


cdef inline uint32_t ext_header_length(uint8_t nh, const uint8_t* h) noexcept nogil:
    """Bytes of the extension header at h (at least 2 bytes readable)."""
    if nh == IPPROTO_FRAGMENT:
        return 8
    if nh == IPPROTO_AH:
        return (<uint32_t>h[1] + 2) * 4     # RFC 4302: 32-bit words minus 2
    return (<uint32_t>h[1] + 1) * 8


cdef uint32_t jumbo_payload_length(const uint8_t* h, uint32_t hl) noexcept nogil:
    """The Jumbo Payload option (RFC 2675, type 0xC2) of a hop-by-hop header, or 0."""
    cdef uint32_t off = 2
    while off < hl:
        if h[off] == 0:             # Pad1
            off += 1
            continue
        if off + 2 > hl:
            return 0
        if h[off] == 0xC2 and h[off + 1] == 4 and off + 6 <= hl:
            return be32(h + off + 2)
        off += 2 + h[off + 1]
    return 0
