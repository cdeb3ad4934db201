# Network layer: IPv4 with options (RFC 791), IPv6 with its extension-header
# chain (RFC 8200), fragments, and one level of IP-in-IP (6in4, 4in6, 4in4, 6in6):
# the inner packet is reported and `tunnel` says what carried it.

cdef void decode_ip(const uint8_t* d, uint32_t cap, uint32_t wire, int kind,
                    Pkt* k, FragSlot* frags, int depth) noexcept nogil:
    cdef int version
    if cap < 1:
        set_status(k, ST_TRUNCATED_IP)
        return
    version = d[0] >> 4
    if (kind == NET_IPV4 and version != 4) or (kind == NET_IPV6 and version != 6):
        set_status(k, ST_BAD_IP_VERSION)
    elif version == 4:
        decode_ipv4(d, cap, wire, k, frags, depth)
    elif version == 6:
        decode_ipv6(d, cap, wire, k, frags, depth)
    else:
        set_status(k, ST_BAD_IP_VERSION)


cdef inline bint decode_tunnel(const uint8_t* p, uint32_t cap, uint32_t length, int outer,
                               Pkt* k, FragSlot* frags, int depth) noexcept nogil:
    """IP-in-IP: decode the inner header instead of a transport. False if not a tunnel."""
    if depth > 0 or k.r.frag != 0:
        return False
    if k.r.proto == IPPROTO_IPV6:
        k.r.tunnel = TUN_6IN4 if outer == 4 else TUN_6IN6
        decode_ip(p, cap, length, NET_IPV6, k, frags, depth + 1)
        return True
    if k.r.proto == IPPROTO_IPIP:
        k.r.tunnel = TUN_4IN4 if outer == 4 else TUN_4IN6
        decode_ip(p, cap, length, NET_IPV4, k, frags, depth + 1)
        return True
    return False


cdef void decode_ipv4(const uint8_t* d, uint32_t cap, uint32_t wire,
                      Pkt* k, FragSlot* frags, int depth) noexcept nogil:
    cdef uint32_t ihl, total, avail, frag_field, ident
    if cap < 20:
        set_status(k, ST_TRUNCATED_IP)
        return
    k.r.wire_family = 4
    put_v4(k.r.src, d + 12)
    put_v4(k.r.dst, d + 16)
    k.r.proto = d[9]
    ihl = <uint32_t>(d[0] & 15) * 4
    total = be16(d + 2)
    if total == 0:
        total = wire                # TCP segmentation offload: length left 0
    k.r.ip_len = total
    if ihl < 20 or ihl > total:
        set_status(k, ST_BAD_IP_HEADER_LENGTH)
        return
    if ihl > cap:
        set_status(k, ST_TRUNCATED_IP)
        return
    if total > wire:
        set_status(k, ST_BAD_IP_LENGTH)
        total = wire
    avail = cap if cap < total else total
    frag_field = be16(d + 6)
    ident = be16(d + 4)
    if (frag_field & 0x1FFF) != 0:
        k.r.frag = 2
        k.r.payload_len = total - ihl
        frag_lookup(frags, k, ident, k.r.proto)
        return
    if frag_field & 0x2000:
        k.r.frag = 1
    if decode_tunnel(d + ihl, avail - ihl, total - ihl, 4, k, frags, depth):
        return
    decode_l4(d + ihl, avail - ihl, total - ihl, k)
    if k.r.frag == 1:
        frag_store(frags, k, ident, k.r.proto)


cdef void decode_ipv6(const uint8_t* d, uint32_t cap, uint32_t wire,
                      Pkt* k, FragSlot* frags, int depth) noexcept nogil:
    cdef uint32_t total, avail, off, hl, jumbo, l4cap, ident = 0
    cdef uint8_t nh, frag_proto = 0
    cdef int i
    cdef bint chain_ended = False
    if cap < 40:
        set_status(k, ST_TRUNCATED_IP)
        return
    k.r.wire_family = 6
    memcpy(k.r.src, d + 8, 16)
    memcpy(k.r.dst, d + 24, 16)
    nh = d[6]
    total = 40 + <uint32_t>be16(d + 4)
    if total == 40 and nh != IPPROTO_NONE:
        total = wire                # jumbogram (refined below) or offloaded segment
    if total > wire:
        set_status(k, ST_BAD_IP_LENGTH)
        total = wire
    k.r.ip_len = total
    avail = cap if cap < total else total
    off = 40
    for i in range(MAX_EXT_HEADERS):
        if not is_ext_header(nh):
            chain_ended = True
            break
        if off + 8 > avail:
            k.r.proto = nh
            set_status(k, ST_TRUNCATED_EXT_HEADER)
            return
        hl = ext_header_length(nh, d + off)
        if off + hl > total:
            k.r.proto = nh
            set_status(k, ST_BAD_EXT_HEADER_LENGTH)
            return
        if nh == IPPROTO_HOPOPTS and off == 40 and be16(d + 4) == 0:
            jumbo = jumbo_payload_length(d + off, hl if off + hl <= avail else avail - off)
            if jumbo > 0 and 40 + <uint64_t>jumbo <= wire:
                total = 40 + jumbo
                k.r.ip_len = total
                avail = cap if cap < total else total
        if nh == IPPROTO_FRAGMENT:
            ident = be32(d + off + 4)
            frag_proto = d[off]
            if (be16(d + off + 2) & 0xFFF8) != 0:
                k.r.frag = 2
                k.r.proto = frag_proto
                k.r.payload_len = total - off - 8
                frag_lookup(frags, k, ident, frag_proto)
                return
            if d[off + 3] & 1:
                k.r.frag = 1
        nh = d[off]
        off += hl
    if not chain_ended:
        k.r.proto = nh
        set_status(k, ST_EXT_HEADER_CHAIN_TOO_LONG)
        return
    k.r.proto = nh
    l4cap = avail - off if avail > off else 0
    if decode_tunnel(d + off, l4cap, total - off, 6, k, frags, depth):
        return
    decode_l4(d + off, l4cap, total - off, k)
    if k.r.frag == 1:
        frag_store(frags, k, ident, frag_proto)


cdef void decode_packet(const uint8_t* p, uint32_t cap, uint32_t wire, uint32_t linktype,
                        Pkt* k, FragSlot* frags) noexcept nogil:
    """Decode one frame into k (link, network, transport). Never reads past cap."""
    cdef LinkOut lo
    cdef link_fn link = link_decoder(linktype)
    cdef int status
    if link == NULL:
        k.r.status = ST_LINKTYPE_SKIPPED
        return
    lo.off = 0
    lo.kind = NET_OTHER
    status = link(p, cap, &lo, k)
    if status != ST_OK:
        k.r.status = <uint8_t>status
        return
    if lo.kind == NET_OTHER:
        k.r.status = ST_NOT_IP
        return
    if wire < cap:
        wire = cap
    decode_ip(p + lo.off, cap - lo.off, wire - lo.off, lo.kind, k, frags, 0)
