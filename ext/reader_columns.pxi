# The batch columns (analyzer/capture/columns.py) as C pointers, and the store
# of one decoded packet into row `row`.

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
