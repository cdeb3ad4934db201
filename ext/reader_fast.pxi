# The fast path of records mode: the common packet decoded straight into its packet
# record, with no decoded-packet struct to clear and copy and no decoder chain.
#
# It takes only what the general decoders (reader_link/ip/l4.pxi) would decode without
# any status, fragment, tunnel or ICMP quote: Ethernet with at most one 802.1Q tag, then
# IPv4 (options allowed, not a fragment, total length set) or IPv6 without extension
# headers (payload length set), then TCP with a whole header or UDP with a sane length.
# For such a packet it writes exactly the record the general path writes (checked byte
# for byte on every corpus capture by tests/test_reader_fastpath.py); for any other
# packet it writes nothing and returns False, and the general path decodes it.

cdef enum:
    FAST_ETHERNET = 1


cdef inline bint fast_transport(const uint8_t* l4, uint32_t cap, uint32_t length,
                                ds_packet_record* r) noexcept nogil:
    """TCP or UDP of `cap` captured bytes and `length` bytes by the IP header."""
    cdef uint32_t doff, ulen
    if r.proto == IPPROTO_TCP:
        if cap < 20:
            return False
        doff = <uint32_t>(l4[12] >> 4) * 4
        if doff < 20 or doff > length:
            return False
        r.tcp_flags = l4[13]
        r.payload_len = length - doff
    else:
        if cap < 8:
            return False
        ulen = be16(l4 + 4)
        if ulen < 8 or ulen > length:
            return False
        r.payload_len = ulen - 8
    r.sport = be16(l4)
    r.dport = be16(l4 + 2)
    return True


cdef inline bint fast_ipv4(const uint8_t* d, uint32_t cap, uint32_t wire,
                           ds_packet_record* r) noexcept nogil:
    cdef uint32_t ihl, total, avail
    if cap < 20 or (d[0] >> 4) != 4:
        return False
    ihl = <uint32_t>(d[0] & 15) * 4
    total = be16(d + 2)
    if ihl < 20 or ihl > total or ihl > cap or total > wire or (be16(d + 6) & 0x3FFF) != 0:
        return False                    # also total == 0 (segmentation offload)
    r.proto = d[9]
    if r.proto != IPPROTO_TCP and r.proto != IPPROTO_UDP:
        return False
    avail = cap if cap < total else total
    r.wire_family = 4
    r.ip_len = total
    put_v4(r.src, d + 12)
    put_v4(r.dst, d + 16)
    return fast_transport(d + ihl, avail - ihl, total - ihl, r)


cdef inline bint fast_ipv6(const uint8_t* d, uint32_t cap, uint32_t wire,
                           ds_packet_record* r) noexcept nogil:
    cdef uint32_t total, avail
    if cap < 40 or (d[0] >> 4) != 6:
        return False
    total = 40 + <uint32_t>be16(d + 4)
    r.proto = d[6]
    if total == 40 or total > wire or (r.proto != IPPROTO_TCP and r.proto != IPPROTO_UDP):
        return False
    avail = cap if cap < total else total
    r.wire_family = 6
    r.ip_len = total
    memcpy(r.src, d + 8, 16)
    memcpy(r.dst, d + 24, 16)
    return fast_transport(d + 40, avail - 40, total - 40, r)


cdef inline bint fast_record(const uint8_t* p, uint32_t cap, uint32_t wire,
                             uint32_t linktype, ds_packet_record* r) noexcept nogil:
    """The record of an Ethernet frame on the fast path (ts_ns, iface, linktype, caplen
    and wirelen are the caller's; every other field is written here), or False with
    the record's contents undefined."""
    cdef uint32_t et, off = 14
    if linktype != FAST_ETHERNET or cap < 18:
        return False
    memset(&r.tcp_flags, 0, 12)     # tcp_flags .. pad: bytes 76-87 (packet_record.h)
    r.vlan = -1
    r.vlan_inner = -1
    et = be16(p + 12)
    if et == 0x8100:
        r.vlan = be16(p + 14) & 0x0FFF
        et = be16(p + 16)
        off = 18
    if wire < cap:
        wire = cap
    if et == 0x0800:
        if not fast_ipv4(p + off, cap - off, wire - off, r):
            return False
    elif et == 0x86DD:
        if not fast_ipv6(p + off, cap - off, wire - off, r):
            return False
    else:
        return False
    r.key_proto = r.proto
    classify_record(r)
    return True


cdef inline void decode_row(State* s, Cols* c, Py_ssize_t row, const uint8_t* frame,
                            uint32_t caplen, uint32_t wirelen, uint32_t linktype,
                            uint32_t iface, int64_t ts, int64_t offset) noexcept nogil:
    """One frame into row `row`: straight into its packet record when the fast path
    takes it, else through the general decoders."""
    cdef Pkt k
    cdef ds_packet_record* r
    if c.records != NULL and not s.general_only:
        r = c.records + row
        if fast_record(frame, caplen, wirelen, linktype, r):
            r.ts_ns = ts
            r.iface = iface
            r.linktype = <uint16_t>linktype
            r.caplen = caplen
            r.wirelen = wirelen
            tally_fast(<Tally*>c.tally, r)
            return
    reset_packet(&k)
    k.r.ts_ns = ts
    k.offset = offset
    k.r.iface = iface
    k.r.linktype = <uint16_t>linktype
    k.r.caplen = caplen
    k.r.wirelen = wirelen
    decode_packet(frame, caplen, wirelen, linktype, &k, s.frags)
    store_row(c, row, &k)
