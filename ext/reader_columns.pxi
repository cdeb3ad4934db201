# The batch columns (analyzer/capture/columns.py) as C pointers, and the store
# of one decoded packet into row `row` (of the columns, or of the packet records).

cdef inline void start_packet(Pkt* k, int64_t ts, int64_t offset, uint32_t iface,
                              uint32_t linktype, uint32_t caplen, uint32_t wirelen) noexcept nogil:
    """A cleared decoded packet with what its capture record says."""
    memset(k, 0, sizeof(Pkt))
    k.r.vlan = -1
    k.r.vlan_inner = -1
    k.r.ts_ns = ts
    k.offset = offset
    k.r.iface = iface
    k.r.linktype = <uint16_t>linktype
    k.r.caplen = caplen
    k.r.wirelen = wirelen


cdef inline void store_packet(Cols* c, Py_ssize_t row, const Pkt* k) noexcept nogil:
    c.ts_ns[row] = k.r.ts_ns
    c.offset[row] = k.offset
    c.iface[row] = k.r.iface
    c.linktype[row] = k.r.linktype
    c.caplen[row] = k.r.caplen
    c.wirelen[row] = k.r.wirelen
    c.wire_family[row] = k.r.wire_family
    memcpy(c.src + 16 * row, k.r.src, 16)
    memcpy(c.dst + 16 * row, k.r.dst, 16)
    c.sport[row] = k.r.sport
    c.dport[row] = k.r.dport
    c.proto[row] = k.r.proto
    c.tcp_flags[row] = k.r.tcp_flags
    c.seq[row] = k.seq
    c.ack[row] = k.ack
    c.window[row] = k.window
    c.ip_len[row] = k.r.ip_len
    c.payload_len[row] = k.r.payload_len
    c.vlan[row] = k.r.vlan
    c.vlan_inner[row] = k.r.vlan_inner
    c.tunnel[row] = k.r.tunnel
    c.frag[row] = k.r.frag
    c.icmp_type[row] = k.r.icmp_type
    c.icmp_code[row] = k.r.icmp_code
    memcpy(c.q_src + 16 * row, k.q_src, 16)
    memcpy(c.q_dst + 16 * row, k.q_dst, 16)
    c.q_sport[row] = k.q_sport
    c.q_dport[row] = k.q_dport
    c.q_proto[row] = k.q_proto
    c.status[row] = k.r.status


cdef inline void store_record(ds_packet_record* r, const Pkt* k) noexcept nogil:
    """The packet record, classified (packet_key.pxi): for an ICMP error quoting a
    header, the quoted packet's endpoints."""
    cdef bint quoted = (k.r.proto == IPPROTO_ICMP or k.r.proto == IPPROTO_ICMPV6) and k.q_proto != 0
    r[0] = k.r
    r.quoted = quoted
    if quoted:
        memcpy(r.src, k.q_src, 16)
        memcpy(r.dst, k.q_dst, 16)
        r.sport = k.q_sport
        r.dport = k.q_dport
        r.key_proto = k.q_proto
    else:
        r.key_proto = k.r.proto
    classify_record(r)


cdef inline void store_row(Cols* c, Py_ssize_t row, const Pkt* k) noexcept nogil:
    if c.records != NULL:
        store_record(c.records + row, k)
        tally_record(<Tally*>c.tally, c.records + row)
    else:
        store_packet(c, row, k)
