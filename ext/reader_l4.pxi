# Transport decoders: TCP (RFC 9293), UDP (RFC 768), ICMP (RFC 792) and ICMPv6
# (RFC 4443) with the quoted header of error messages.
# `cap` is what was captured of the transport segment, `length` what the IP
# header says it is (they differ on snaplen-cut packets).

cdef enum:
    IPPROTO_ICMP = 1
    IPPROTO_IPIP = 4
    IPPROTO_TCP = 6
    IPPROTO_UDP = 17
    IPPROTO_IPV6 = 41
    IPPROTO_ICMPV6 = 58
    IPPROTO_SCTP = 132
    IPPROTO_UDPLITE = 136


cdef inline void set_status(Pkt* k, int status) noexcept nogil:
    if k.r.status == ST_OK:
        k.r.status = <uint8_t>status


cdef inline bint has_ports(uint8_t proto) noexcept nogil:
    return proto == IPPROTO_TCP or proto == IPPROTO_UDP or proto == IPPROTO_SCTP or proto == IPPROTO_UDPLITE


cdef inline bint is_icmp_error(uint8_t proto, uint8_t icmp_type) noexcept nogil:
    if proto == IPPROTO_ICMP:
        # unreachable, source quench, redirect, time exceeded, parameter problem
        return icmp_type == 3 or icmp_type == 4 or icmp_type == 5 or icmp_type == 11 or icmp_type == 12
    # ICMPv6: unreachable, packet too big, time exceeded, parameter problem
    return 1 <= icmp_type <= 4


cdef void decode_tcp(const uint8_t* p, uint32_t cap, uint32_t length, Pkt* k) noexcept nogil:
    cdef uint32_t doff
    if cap >= 4:
        k.r.sport = be16(p)
        k.r.dport = be16(p + 2)
    if cap < 20:
        if cap >= 8:
            k.seq = be32(p + 4)
        if cap >= 14:
            k.ack = be32(p + 8)
            k.r.tcp_flags = p[13]
        set_status(k, ST_TRUNCATED_L4)
        return
    k.seq = be32(p + 4)
    k.ack = be32(p + 8)
    k.r.tcp_flags = p[13]
    k.window = be16(p + 14)
    doff = <uint32_t>(p[12] >> 4) * 4
    if doff < 20 or (doff > length and k.r.frag == 0):
        set_status(k, ST_BAD_TCP_HEADER_LENGTH)
        return
    k.r.payload_len = length - doff if length >= doff else 0


cdef void decode_udp(const uint8_t* p, uint32_t cap, uint32_t length, Pkt* k) noexcept nogil:
    cdef uint32_t ulen
    if cap >= 4:
        k.r.sport = be16(p)
        k.r.dport = be16(p + 2)
    if cap < 8:
        set_status(k, ST_TRUNCATED_L4)
        return
    ulen = be16(p + 4)
    if (ulen == 0 and length > 65535) or (k.r.frag == 1 and ulen >= 8):
        # jumbogram (RFC 2675), or a first fragment: count only this fragment's bytes
        k.r.payload_len = length - 8
    elif ulen < 8 or ulen > length:
        set_status(k, ST_BAD_UDP_LENGTH)
        k.r.payload_len = length - 8 if length >= 8 else 0
    else:
        k.r.payload_len = ulen - 8


cdef void decode_quote(const uint8_t* q, uint32_t cap, Pkt* k) noexcept nogil:
    """The IP header an ICMP error quotes, and the ports after it when captured."""
    cdef uint32_t off
    cdef uint8_t nh
    cdef uint32_t hl
    cdef int i
    if cap < 1:
        return
    if (q[0] >> 4) == 4:
        if cap < 20:
            return
        put_v4(k.q_src, q + 12)
        put_v4(k.q_dst, q + 16)
        nh = q[9]
        off = <uint32_t>(q[0] & 15) * 4
        if off < 20 or (be16(q + 6) & 0x1FFF) != 0:
            k.q_proto = nh
            return
    elif (q[0] >> 4) == 6:
        if cap < 40:
            return
        memcpy(k.q_src, q + 8, 16)
        memcpy(k.q_dst, q + 24, 16)
        nh = q[6]
        off = 40
        for i in range(MAX_EXT_HEADERS):
            if not is_ext_header(nh) or off + 8 > cap:
                break
            if nh == IPPROTO_FRAGMENT and (be16(q + off + 2) & 0xFFF8) != 0:
                k.q_proto = q[off]
                return
            hl = ext_header_length(nh, q + off)
            nh = q[off]
            off += hl
    else:
        return
    k.q_proto = nh
    if has_ports(nh) and off + 4 <= cap:
        k.q_sport = be16(q + off)
        k.q_dport = be16(q + off + 2)


cdef void decode_icmp(const uint8_t* p, uint32_t cap, uint32_t length, Pkt* k) noexcept nogil:
    if cap < 4:
        set_status(k, ST_TRUNCATED_L4)
        return
    k.r.icmp_type = p[0]
    k.r.icmp_code = p[1]
    k.r.payload_len = length - 8 if length >= 8 else 0
    if cap > 8 and is_icmp_error(k.r.proto, p[0]):
        decode_quote(p + 8, cap - 8, k)


cdef void decode_l4(const uint8_t* p, uint32_t cap, uint32_t length, Pkt* k) noexcept nogil:
    if k.r.proto == IPPROTO_TCP:
        decode_tcp(p, cap, length, k)
    elif k.r.proto == IPPROTO_UDP:
        decode_udp(p, cap, length, k)
    elif k.r.proto == IPPROTO_ICMP or k.r.proto == IPPROTO_ICMPV6:
        decode_icmp(p, cap, length, k)
    else:
        k.r.payload_len = length
