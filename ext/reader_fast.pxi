# The fast path of records mode: the common packet decoded straight into its packet
# record, with no decoded-packet struct to clear and copy and no decoder chain.
#
# It takes only what the general decoders (reader_link/ip/l4.pxi) would decode without
# any status, fragment, tunnel or ICMP quote: Ethernet with at most one 802.1Q tag, then
# IPv4 (options allowed, not a fragment, total length set) or IPv6 without extension
# headers (payload length set), then TCP with a whole header or UDP with a sane length.
# For such a packet it writes exactly the record the general path writes (checked field
# for field on every corpus capture by tests/test_reader_fastpath.py); for any other
# packet it returns False, having written part of the record, and the general path
# decodes the packet and writes the whole record.

cdef enum:
    FAST_ETHERNET = 1


cdef inline int64_t fast_transport(const uint8_t* l4, uint32_t cap, uint32_t length,
                                   ds_packet_record* r) noexcept nogil:
    """TCP or UDP of `cap` captured bytes and `length` bytes by the IP header: its ports
    (sport | dport << 16), or -1."""
    cdef uint32_t doff, ulen, sport, dport
    if r.proto == IPPROTO_TCP:
        if cap < 20:
            return -1
        doff = <uint32_t>(l4[12] >> 4) * 4
        if doff < 20 or doff > length:
            return -1
        r.tcp_flags = l4[13]
        r.payload_len = length - doff
    else:
        if cap < 8:
            return -1
        ulen = be16(l4 + 4)
        if ulen < 8 or ulen > length:
            return -1
        r.payload_len = ulen - 8
    sport = be16(l4)
    dport = be16(l4 + 2)
    r.sport = <uint16_t>sport
    r.dport = <uint16_t>dport
    return sport | (dport << 16)


cdef inline void fast_key(ds_packet_record* r, uint64_t s0, uint64_t s1, uint64_t d0,
                          uint64_t d1, uint32_t ports, int32_t vlan) noexcept nogil:
    """The addresses (two words each) into the record, and its flow key."""
    ds_store64(r.src, s0)
    ds_store64(r.src + 8, s1)
    ds_store64(r.dst, d0)
    ds_store64(r.dst + 8, d1)
    r.key_proto = r.proto
    classify_key(r, PK_FLOW_SRC_A, s0, s1, d0, d1, ports, vlan_word(vlan, -1))


cdef inline bint fast_ipv4(const uint8_t* d, uint32_t cap, uint32_t wire,
                           ds_packet_record* r, int32_t vlan) noexcept nogil:
    cdef uint32_t ihl, total, avail
    cdef int64_t ports
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
    ports = fast_transport(d + ihl, avail - ihl, total - ihl, r)
    if ports < 0:
        return False
    r.wire_family = 4
    r.ip_len = total
    fast_key(r, 0, ds_mapped_word(d + 12), 0, ds_mapped_word(d + 16), <uint32_t>ports, vlan)
    return True


cdef inline bint fast_ipv6(const uint8_t* d, uint32_t cap, uint32_t wire,
                           ds_packet_record* r, int32_t vlan) noexcept nogil:
    cdef uint32_t total, avail
    cdef int64_t ports
    if cap < 40 or (d[0] >> 4) != 6:
        return False
    total = 40 + <uint32_t>be16(d + 4)
    r.proto = d[6]
    if total == 40 or total > wire or (r.proto != IPPROTO_TCP and r.proto != IPPROTO_UDP):
        return False
    avail = cap if cap < total else total
    ports = fast_transport(d + 40, avail - 40, total - 40, r)
    if ports < 0:
        return False
    r.wire_family = 6
    r.ip_len = total
    fast_key(r, load64(d + 8), load64(d + 16), load64(d + 24), load64(d + 32), <uint32_t>ports,
             vlan)
    return True


cdef inline bint fast_record(const uint8_t* p, uint32_t cap, uint32_t wire,
                             uint32_t linktype, ds_packet_record* r) noexcept nogil:
    """The record of an Ethernet frame on the fast path (ts_ns, iface, linktype, caplen
    and wirelen are the caller's; every other field is written here), or False with
    the record's contents undefined."""
    cdef uint32_t et, off = 14
    cdef int32_t vlan = -1
    if linktype != FAST_ETHERNET or cap < 18:
        return False
    memset(&r.tcp_flags, 0, 12)     # tcp_flags .. pad: bytes 76-87 (packet_record.h)
    et = be16(p + 12)
    if et == 0x8100:
        vlan = be16(p + 14) & 0x0FFF
        et = be16(p + 16)
        off = 18
    r.vlan = vlan
    r.vlan_inner = -1
    if wire < cap:
        wire = cap
    if et == 0x0800:
        return fast_ipv4(p + off, cap - off, wire - off, r, vlan)
    if et == 0x86DD:
        return fast_ipv6(p + off, cap - off, wire - off, r, vlan)
    return False


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
    start_packet(&k, ts, offset, iface, linktype, caplen, wirelen)
    decode_packet(frame, caplen, wirelen, linktype, &k, s.frags)
    store_row(c, row, &k)
