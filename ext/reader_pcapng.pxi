# pcapng framing: sections (SHB) of either byte order, interfaces (IDB) with
# their own link type, if_tsresol and if_tsoffset, and the packet blocks EPB,
# SPB and the obsolete PB. Other blocks are skipped.
# https://datatracker.ietf.org/doc/draft-ietf-opsawg-pcapng/

cdef enum:
    BT_SHB = 0x0A0D0D0A
    BT_IDB = 1
    BT_PB = 2
    BT_SPB = 3
    BT_NRB = 4
    BT_ISB = 5
    BT_EPB = 6
    BT_DSB = 10
    BYTE_ORDER_MAGIC = 0x1A2B3C4D
    OPT_END = 0
    OPT_IF_TSRESOL = 9
    OPT_IF_TSOFFSET = 14

cdef int64_t POW10[19]


cdef void init_pow10() noexcept:
    cdef int i
    POW10[0] = 1
    for i in range(1, 19):
        POW10[i] = POW10[i - 1] * 10


cdef int64_t TS_MAX = 0x7FFFFFFFFFFFFFFF


cdef int64_t iface_ts_ns(const Iface* f, uint64_t ts) noexcept nogil:
    """A pcapng timestamp in the interface's units, as nanoseconds since the epoch.

    Times past 2262 do not fit int64 nanoseconds: they saturate at INT64_MAX.
    """
    cdef uint32_t e = f.ts_exp
    cdef uint64_t frac, ns
    if f.ts_binary:
        if e >= 64:
            return TS_MAX
        if (ts >> e) > <uint64_t>(TS_MAX // 1000000000 - 1):
            return TS_MAX
        frac = ts & ((<uint64_t>1 << e) - 1)
        ns = (ts >> e) * 1000000000
        if e > 32:
            frac >>= e - 32
            e = 32
        ns += (frac * 1000000000) >> e
    elif e <= 9:
        if ts > <uint64_t>(TS_MAX // POW10[9 - e]):
            return TS_MAX
        ns = ts * <uint64_t>POW10[9 - e]
    else:
        ns = ts // <uint64_t>POW10[e - 9]
    if <int64_t>ns > TS_MAX - f.ts_offset_ns and f.ts_offset_ns > 0:
        return TS_MAX
    return <int64_t>ns + f.ts_offset_ns


cdef int walk_options(const uint8_t* p, uint32_t length, int big, Iface* iface) noexcept nogil:
    """Check every option lies inside the block; pick up the interface's time options.

    Returns 0, or -1 when an option runs past the block.
    """
    cdef uint32_t off = 0
    cdef uint16_t code, olen
    cdef uint8_t resol
    while off + 4 <= length:
        code = ld16(p + off, big)
        olen = ld16(p + off + 2, big)
        if code == OPT_END:
            return 0
        if off + 4 + olen > length:
            return -1
        if iface != NULL and code == OPT_IF_TSRESOL and olen >= 1:
            resol = p[off + 4]
            iface.ts_binary = (resol & 0x80) != 0
            iface.ts_exp = resol & 0x7F
            if (iface.ts_binary and iface.ts_exp > 63) or (not iface.ts_binary and iface.ts_exp > 18):
                iface.ts_binary = 0     # unusable resolution: keep the default
                iface.ts_exp = 6
        elif iface != NULL and code == OPT_IF_TSOFFSET and olen >= 8:
            iface.ts_offset_ns = <int64_t>(ld64(p + off + 4, big) * <uint64_t>1000000000)
        off += 4 + ((<uint32_t>olen + 3) & ~(<uint32_t>3))
    return 0


cdef int add_interface(State* s) noexcept nogil:
    """Append a default interface; -1 when there are too many."""
    cdef Iface* grown
    cdef uint32_t cap
    if s.n_ifaces >= MAX_INTERFACES:
        return -1
    if s.n_ifaces == s.cap_ifaces:
        cap = s.cap_ifaces * 2 if s.cap_ifaces else 8
        grown = <Iface*>realloc(s.ifaces, cap * sizeof(Iface))
        if grown == NULL:
            return -1
        s.ifaces = grown
        s.cap_ifaces = cap
    memset(&s.ifaces[s.n_ifaces], 0, sizeof(Iface))
    s.ifaces[s.n_ifaces].ts_exp = 6
    s.n_ifaces += 1
    return 0


cdef int pcapng_section(State* s, const uint8_t* buf, size_t pos, size_t end, int64_t base,
                        uint32_t* pblen) noexcept nogil:
    """SHB: byte-order magic, length, version 1.0 (or 1.2), options. Starts a new section."""
    cdef uint32_t bom = le32(buf + pos + 8)
    cdef int big
    cdef uint32_t blen
    cdef uint16_t major, minor
    if bom == BYTE_ORDER_MAGIC:
        big = 0
    elif bom == ds_bswap32(BYTE_ORDER_MAGIC):
        big = 1
    else:
        return fail(s, E_SHB_BYTE_ORDER, pos, base, bom, 0)
    blen = ld32(buf + pos + 4, big)
    if blen < 28 or (blen & 3) or blen > MAX_RECORD:
        return fail(s, E_BLOCK_LENGTH, pos, base, blen, 0)
    if end - pos < blen:
        return R_NEED_MORE
    if ld32(buf + pos + blen - 4, big) != blen:
        return fail(s, E_BLOCK_TRAILER, pos, base, ld32(buf + pos + blen - 4, big), blen)
    major = ld16(buf + pos + 12, big)
    minor = ld16(buf + pos + 14, big)
    if major != 1 or (minor != 0 and minor != 2):
        return fail(s, E_PCAPNG_VERSION, pos, base, major, minor)
    if walk_options(buf + pos + 24, blen - 28, big, NULL) < 0:
        return fail(s, E_OPTION_LENGTH, pos, base, BT_SHB, 0)
    s.big = big
    s.in_section = 1
    s.n_ifaces = 0
    pblen[0] = blen
    return R_END


cdef int pcapng_interface(State* s, const uint8_t* block, uint32_t blen, size_t pos,
                          int64_t base) noexcept nogil:
    """IDB: linktype(2) reserved(2) snaplen(4) options."""
    cdef Iface* f
    if blen < 20:
        return fail(s, E_BLOCK_TOO_SHORT, pos, base, BT_IDB, blen)
    if add_interface(s) < 0:
        return fail(s, E_TOO_MANY_INTERFACES, pos, base, s.n_ifaces, 0)
    f = &s.ifaces[s.n_ifaces - 1]
    f.linktype = ld16(block + 8, s.big)
    f.snaplen = ld32(block + 12, s.big)
    if walk_options(block + 16, blen - 20, s.big, f) < 0:
        return fail(s, E_OPTION_LENGTH, pos, base, BT_IDB, 0)
    return R_END


cdef void pcapng_packet(State* s, uint32_t iface, uint64_t ts, bint has_ts,
                        const uint8_t* data, uint32_t caplen, uint32_t wirelen,
                        int64_t offset, Cols* c, Py_ssize_t row) noexcept nogil:
    """Decode one packet of interface `iface` (timestamp in its units) into row `row`."""
    cdef const Iface* f
    cdef Pkt k
    if iface >= s.n_ifaces:
        start_packet(&k, s.last_ts, offset, iface, 0, caplen, wirelen)
        k.r.status = ST_BAD_INTERFACE
        store_row(c, row, &k)
        return
    f = &s.ifaces[iface]
    if has_ts:
        s.last_ts = iface_ts_ns(f, ts)
    decode_row(s, c, row, data, caplen, wirelen, f.linktype, iface, s.last_ts, offset)


cdef int pcapng_packet_block(State* s, uint32_t btype, const uint8_t* block, uint32_t blen,
                             size_t pos, int64_t base, Cols* c, Py_ssize_t row) noexcept nogil:
    """EPB, PB (same layout, 16-bit interface id) or SPB into row `row`; R_END when
    done."""
    cdef int big = s.big
    cdef uint32_t iface, caplen, wirelen, room
    cdef uint64_t ts
    if btype == BT_SPB:
        if blen < 16:
            return fail(s, E_BLOCK_TOO_SHORT, pos, base, btype, blen)
        wirelen = ld32(block + 8, big)
        room = blen - 16
        caplen = wirelen if wirelen < room else room
        if s.n_ifaces > 0 and s.ifaces[0].snaplen and caplen > s.ifaces[0].snaplen:
            caplen = s.ifaces[0].snaplen
        pcapng_packet(s, 0, 0, False, block + 12, caplen, wirelen, base + <int64_t>pos, c, row)
        return R_END
    if blen < 32:
        return fail(s, E_BLOCK_TOO_SHORT, pos, base, btype, blen)
    iface = ld32(block + 8, big) if btype == BT_EPB else ld16(block + 8, big)
    ts = (<uint64_t>ld32(block + 12, big) << 32) | ld32(block + 16, big)
    caplen = ld32(block + 20, big)
    wirelen = ld32(block + 24, big)
    if caplen > blen - 32:
        return fail(s, E_PACKET_LENGTH, pos, base, caplen, blen - 32)
    pcapng_packet(s, iface, ts, True, block + 28, caplen, wirelen, base + <int64_t>pos, c,
                  row)
    return R_END


cdef int run_pcapng(State* s, const uint8_t* buf, size_t* ppos, size_t end, int64_t base,
                    Cols* c, Py_ssize_t* prow, Py_ssize_t limit) noexcept nogil:
    """Blocks from *ppos into rows from *prow until the batch is full or the bytes end."""
    cdef size_t pos = ppos[0]
    cdef Py_ssize_t row = prow[0]
    cdef int result = R_BATCH_FULL
    cdef uint32_t btype, blen
    while row < limit:
        if end - pos < 12:
            result = R_END if pos == end else R_NEED_MORE
            break
        btype = ld32(buf + pos, s.big)
        if btype == BT_SHB:
            result = pcapng_section(s, buf, pos, end, base, &blen)
            if result != R_END:
                break
            pos += blen
            continue
        blen = ld32(buf + pos + 4, s.big)
        if blen < 12 or (blen & 3) or blen > MAX_RECORD:
            result = fail(s, E_BLOCK_LENGTH, pos, base, blen, 0)
            break
        if end - pos < blen:
            result = R_NEED_MORE
            break
        if ld32(buf + pos + blen - 4, s.big) != blen:
            result = fail(s, E_BLOCK_TRAILER, pos, base, ld32(buf + pos + blen - 4, s.big), blen)
            break
        ds_prefetch_record(buf, pos, end)
        if btype == BT_EPB or btype == BT_SPB or btype == BT_PB:
            result = pcapng_packet_block(s, btype, buf + pos, blen, pos, base, c, row)
            if result != R_END:
                break
            row += 1
        elif btype == BT_IDB:
            result = pcapng_interface(s, buf + pos, blen, pos, base)
            if result != R_END:
                break
        pos += blen
    else:
        result = R_BATCH_FULL
    ppos[0] = pos
    prow[0] = row
    return result


cdef bint pcapng_block_plausible(const State* s, const uint8_t* buf, size_t pos, size_t end) noexcept nogil:
    """Could a block start at pos? A known type, a sane length and a matching trailer."""
    cdef uint32_t btype = ld32(buf + pos, s.big)
    cdef uint32_t blen
    if btype == BT_SHB:
        return le32(buf + pos + 8) == BYTE_ORDER_MAGIC or be32(buf + pos + 8) == BYTE_ORDER_MAGIC
    if not (BT_IDB <= btype <= BT_EPB or btype == BT_DSB):
        return False
    blen = ld32(buf + pos + 4, s.big)
    if blen < 12 or (blen & 3) or blen > MAX_RECORD or blen > end - pos:
        return False
    return ld32(buf + pos + blen - 4, s.big) == blen


cdef Py_ssize_t pcapng_resync(const State* s, const uint8_t* buf, size_t pos, size_t end) noexcept nogil:
    while pos + 12 <= end:
        if pcapng_block_plausible(s, buf, pos, end):
            return <Py_ssize_t>pos
        pos += 1
    return -1
