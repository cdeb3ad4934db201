# Link-layer decoders: each finds where the IP header starts (LinkOut) and the
# VLAN ids on the way. Dispatch is a C table indexed by link type.
# Link types: https://www.tcpdump.org/linktypes.html

ctypedef int (*link_fn)(const uint8_t* p, uint32_t cap, LinkOut* lo, Pkt* k) noexcept nogil

cdef uint32_t LINK_TABLE_SIZE = 512
cdef link_fn LINK_TABLE[512]

cdef int MAX_LINK_TAGS = 8
cdef int MAX_MPLS_LABELS = 16


cdef inline int net_by_nibble(const uint8_t* p, uint32_t cap, uint32_t off, LinkOut* lo) noexcept nogil:
    """MPLS and raw payloads carry no type: the IP version nibble tells."""
    lo.off = off
    if off >= cap:
        return ST_TRUNCATED_LINK
    lo.kind = NET_IPV4 if (p[off] >> 4) == 4 else (NET_IPV6 if (p[off] >> 4) == 6 else NET_OTHER)
    return ST_OK


cdef int mpls_payload(const uint8_t* p, uint32_t cap, uint32_t off, LinkOut* lo) noexcept nogil:
    """RFC 3032 label stack: 4 bytes per label until the bottom-of-stack bit."""
    cdef int i
    for i in range(MAX_MPLS_LABELS):
        if off + 4 > cap:
            return ST_TRUNCATED_LINK
        off += 4
        if p[off - 2] & 1:
            return net_by_nibble(p, cap, off, lo)
    return ST_TOO_MANY_LINK_TAGS


cdef int ethertype_payload(const uint8_t* p, uint32_t cap, uint32_t et, uint32_t off,
                           LinkOut* lo, Pkt* k) noexcept nogil:
    """Follow an EtherType at payload offset `off` through VLAN tags, MPLS, PPPoE."""
    cdef int i
    for i in range(MAX_LINK_TAGS):
        if et == 0x0800:
            lo.off = off
            lo.kind = NET_IPV4
            return ST_OK
        if et == 0x86DD:
            lo.off = off
            lo.kind = NET_IPV6
            return ST_OK
        if et == 0x8100 or et == 0x88A8 or et == 0x9100 or et == 0x9200:
            # 802.1Q / 802.1ad tag: TCI (2 bytes) then the next EtherType.
            if off + 4 > cap:
                return ST_TRUNCATED_LINK
            if k.r.vlan < 0:
                k.r.vlan = be16(p + off) & 0x0FFF
            elif k.r.vlan_inner < 0:
                k.r.vlan_inner = be16(p + off) & 0x0FFF
            et = be16(p + off + 2)
            off += 4
            continue
        if et == 0x8847 or et == 0x8848:
            return mpls_payload(p, cap, off, lo)
        if et == 0x8864:
            # PPPoE session (RFC 2516): 6-byte header, then the PPP protocol.
            if off + 8 > cap:
                return ST_TRUNCATED_LINK
            et = be16(p + off + 6)
            lo.off = off + 8
            lo.kind = NET_IPV4 if et == 0x0021 else (NET_IPV6 if et == 0x0057 else NET_OTHER)
            return ST_OK
        if et <= 1500:
            return llc_snap_payload(p, cap, off, lo)
        lo.off = off
        lo.kind = NET_OTHER
        return ST_OK
    return ST_TOO_MANY_LINK_TAGS


cdef int llc_snap_payload(const uint8_t* p, uint32_t cap, uint32_t off, LinkOut* lo) noexcept nogil:
    """802.3 length field: IP only behind 802.2 LLC SNAP (AA AA 03, OUI 0, EtherType)."""
    cdef uint32_t et
    lo.off = off
    lo.kind = NET_OTHER
    if off + 8 > cap or p[off] != 0xAA or p[off + 1] != 0xAA or p[off + 2] != 0x03:
        return ST_OK
    if p[off + 3] != 0 or p[off + 4] != 0 or p[off + 5] != 0:
        return ST_OK
    et = be16(p + off + 6)
    lo.off = off + 8
    lo.kind = NET_IPV4 if et == 0x0800 else (NET_IPV6 if et == 0x86DD else NET_OTHER)
    return ST_OK


cdef int link_ethernet(const uint8_t* p, uint32_t cap, LinkOut* lo, Pkt* k) noexcept nogil:
    """IEEE 802.3: dst(6) src(6) EtherType(2)."""
    if cap < 14:
        return ST_TRUNCATED_LINK
    return ethertype_payload(p, cap, be16(p + 12), 14, lo, k)


cdef int link_sll(const uint8_t* p, uint32_t cap, LinkOut* lo, Pkt* k) noexcept nogil:
    """Linux cooked v1 (113): type(2) hatype(2) halen(2) addr(8) protocol(2)."""
    if cap < 16:
        return ST_TRUNCATED_LINK
    return ethertype_payload(p, cap, be16(p + 14), 16, lo, k)


cdef int link_sll2(const uint8_t* p, uint32_t cap, LinkOut* lo, Pkt* k) noexcept nogil:
    """Linux cooked v2 (276): protocol(2) reserved(2) ifindex(4) hatype(2) ... 20 bytes."""
    if cap < 20:
        return ST_TRUNCATED_LINK
    return ethertype_payload(p, cap, be16(p), 20, lo, k)


cdef int link_raw(const uint8_t* p, uint32_t cap, LinkOut* lo, Pkt* k) noexcept nogil:
    """Raw IP (101, and 12/14 as BSDs number DLT_RAW): the version nibble tells."""
    lo.off = 0
    lo.kind = NET_ANY_IP
    return ST_OK


cdef int link_ipv4(const uint8_t* p, uint32_t cap, LinkOut* lo, Pkt* k) noexcept nogil:
    lo.off = 0
    lo.kind = NET_IPV4
    return ST_OK


cdef int link_ipv6(const uint8_t* p, uint32_t cap, LinkOut* lo, Pkt* k) noexcept nogil:
    lo.off = 0
    lo.kind = NET_IPV6
    return ST_OK


cdef int link_null(const uint8_t* p, uint32_t cap, LinkOut* lo, Pkt* k) noexcept nogil:
    """BSD NULL (0, host order) and LOOP (108, network order): a 4-byte address family.

    The writer's byte order is unknown, so a value with only its high half set is
    read swapped. AF_INET is 2 everywhere; AF_INET6 is 24 (NetBSD, OpenBSD),
    28 (FreeBSD, DragonFly) or 30 (macOS).
    """
    cdef uint32_t af
    if cap < 4:
        return ST_TRUNCATED_LINK
    af = le32(p)
    if (af & 0xFFFF) == 0:
        af = ds_bswap32(af)
    lo.off = 4
    if af == 2:
        lo.kind = NET_IPV4
    elif af == 24 or af == 28 or af == 30:
        lo.kind = NET_IPV6
    else:
        lo.kind = NET_OTHER
    return ST_OK


cdef int link_pktap(const uint8_t* p, uint32_t cap, LinkOut* lo, Pkt* k) noexcept nogil:
    """macOS PKTAP (258): a host-order header (length at 0, inner DLT at 8), then a frame."""
    cdef uint32_t hlen, dlt
    cdef link_fn inner
    cdef int status
    if cap < 12:
        return ST_TRUNCATED_LINK
    hlen = le32(p)
    dlt = le32(p + 8)
    if hlen < 12 or hlen > cap:
        return ST_TRUNCATED_LINK
    inner = link_decoder(dlt) if dlt != 258 else NULL
    if inner == NULL:
        lo.kind = NET_OTHER
        return ST_OK
    status = inner(p + hlen, cap - hlen, lo, k)
    lo.off += hlen
    return status


cdef int link_nflog(const uint8_t* p, uint32_t cap, LinkOut* lo, Pkt* k) noexcept nogil:
    """Linux NFLOG (239): family(1) version(1) resource(2), then host-order TLVs;
    the packet is the NFULA_PAYLOAD (type 9) value."""
    cdef uint32_t off = 4
    cdef uint32_t tlv_len, tlv_type
    cdef int i
    if cap < 4:
        return ST_TRUNCATED_LINK
    for i in range(64):
        if off + 4 > cap:
            return ST_TRUNCATED_LINK
        tlv_len = ld16(p + off, 0)
        tlv_type = ld16(p + off + 2, 0)
        if tlv_len < 4 or off + tlv_len > cap:
            return ST_TRUNCATED_LINK
        if (tlv_type & 0x7FFF) == 9:
            lo.off = off + 4
            lo.kind = NET_IPV4 if p[0] == 2 else (NET_IPV6 if p[0] == 10 else NET_ANY_IP)
            return ST_OK
        off += (tlv_len + 3) & ~(<uint32_t>3)
    lo.kind = NET_OTHER
    return ST_OK


cdef void init_link_table() noexcept:
    cdef uint32_t i
    for i in range(LINK_TABLE_SIZE):
        LINK_TABLE[i] = NULL
    LINK_TABLE[0] = link_null
    LINK_TABLE[1] = link_ethernet
    LINK_TABLE[12] = link_raw
    LINK_TABLE[14] = link_raw
    LINK_TABLE[101] = link_raw
    LINK_TABLE[108] = link_null
    LINK_TABLE[113] = link_sll
    LINK_TABLE[239] = link_nflog
    LINK_TABLE[258] = link_pktap
    LINK_TABLE[228] = link_ipv4
    LINK_TABLE[229] = link_ipv6
    LINK_TABLE[276] = link_sll2


cdef inline link_fn link_decoder(uint32_t linktype) noexcept nogil:
    if linktype < LINK_TABLE_SIZE:
        return LINK_TABLE[linktype]
    return NULL
