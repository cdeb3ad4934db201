# The batch columns (analyzer/capture/columns.py) as C pointers, and the store
# of one decoded packet into row `row` (of the columns, or of the packet records).

cdef inline void reset_packet(Pkt* k) noexcept nogil:
    memset(k, 0, sizeof(Pkt))
    k.vlan = -1
    k.vlan_inner = -1


cdef inline void store_packet(Cols* c, Py_ssize_t row, const Pkt* k) noexcept nogil:
    c.ts_ns[row] = k.ts_ns
    c.offset[row] = k.offset
    c.iface[row] = k.iface
    c.linktype[row] = k.linktype
    c.caplen[row] = k.caplen
    c.wirelen[row] = k.wirelen
    c.wire_family[row] = k.wire_family
    memcpy(c.src + 16 * row, k.src, 16)
    memcpy(c.dst + 16 * row, k.dst, 16)
    c.sport[row] = k.sport
    c.dport[row] = k.dport
    c.proto[row] = k.proto
    c.tcp_flags[row] = k.tcp_flags
    c.seq[row] = k.seq
    c.ack[row] = k.ack
    c.window[row] = k.window
    c.ip_len[row] = k.ip_len
    c.payload_len[row] = k.payload_len
    c.vlan[row] = k.vlan
    c.vlan_inner[row] = k.vlan_inner
    c.tunnel[row] = k.tunnel
    c.frag[row] = k.frag
    c.icmp_type[row] = k.icmp_type
    c.icmp_code[row] = k.icmp_code
    memcpy(c.q_src + 16 * row, k.q_src, 16)
    memcpy(c.q_dst + 16 * row, k.q_dst, 16)
    c.q_sport[row] = k.q_sport
    c.q_dport[row] = k.q_dport
    c.q_proto[row] = k.q_proto
    c.status[row] = k.status


cdef inline void store_record(ds_packet_record* r, const Pkt* k) noexcept nogil:
    """The packet record (ext/packet_record.h): for an ICMP error quoting a header, the
    quoted packet's endpoints."""
    cdef bint quoted = (k.proto == IPPROTO_ICMP or k.proto == IPPROTO_ICMPV6) and k.q_proto != 0
    r.ts_ns = k.ts_ns
    if quoted:
        memcpy(r.src, k.q_src, 16)
        memcpy(r.dst, k.q_dst, 16)
        r.sport = k.q_sport
        r.dport = k.q_dport
        r.key_proto = k.q_proto
    else:
        memcpy(r.src, k.src, 16)
        memcpy(r.dst, k.dst, 16)
        r.sport = k.sport
        r.dport = k.dport
        r.key_proto = k.proto
    r.quoted = quoted
    r.ip_len = k.ip_len
    r.payload_len = k.payload_len
    r.vlan = k.vlan
    r.vlan_inner = k.vlan_inner
    r.iface = k.iface
    r.caplen = k.caplen
    r.wirelen = k.wirelen
    r.linktype = k.linktype
    r.proto = k.proto
    r.tcp_flags = k.tcp_flags
    r.wire_family = k.wire_family
    r.tunnel = k.tunnel
    r.frag = k.frag
    r.status = k.status
    r.icmp_type = k.icmp_type
    r.icmp_code = k.icmp_code


cdef inline void store_row(Cols* c, Py_ssize_t row, const Pkt* k) noexcept nogil:
    if c.records != NULL:
        store_record(c.records + row, k)
        tally_packet(<Tally*>c.tally, k)
    else:
        store_packet(c, row, k)
