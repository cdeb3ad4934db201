# Classic pcap framing: a 24-byte file header, then 16-byte record headers.
# https://datatracker.ietf.org/doc/draft-ietf-opsawg-pcap/

cdef inline int fail(State* s, int code, size_t pos, int64_t base, uint64_t a, uint64_t b) noexcept nogil:
    s.err = code
    s.err_offset = base + <int64_t>pos
    s.err_a = a
    s.err_b = b
    return R_ERROR


cdef inline uint32_t pcap_caplen_limit(uint32_t snaplen) noexcept nogil:
    """Larger records are impossible: libpcap's bound, or the file's snaplen if larger."""
    cdef uint32_t limit = snaplen if snaplen > PCAP_MAX_SNAPLEN else PCAP_MAX_SNAPLEN
    return limit if limit < MAX_RECORD else MAX_RECORD


cdef inline uint32_t pcap_max_caplen(const State* s) noexcept nogil:
    return pcap_caplen_limit(s.ifaces[0].snaplen)


cdef int pcap_file_header(State* s, const uint8_t* buf, size_t pos, size_t end,
                          int64_t base) noexcept nogil:
    """magic(4) version(2+2) thiszone(4) sigfigs(4) snaplen(4) linktype(4)."""
    cdef uint32_t magic, linktype
    cdef uint16_t major, minor
    if end - pos < 24:
        return R_NEED_MORE
    magic = le32(buf + pos)
    s.big = magic == 0xD4C3B2A1U or magic == 0x4D3CB2A1U
    s.nanos = magic == 0xA1B23C4DU or magic == 0x4D3CB2A1U
    major = ld16(buf + pos + 4, s.big)
    minor = ld16(buf + pos + 6, s.big)
    if major != 2:
        return fail(s, E_PCAP_VERSION, pos, base, major, minor)
    linktype = ld32(buf + pos + 20, s.big)
    if linktype & 0x03FF0000:
        return fail(s, E_PCAP_LINKTYPE_RESERVED, pos + 20, base, linktype, 0)
    s.ifaces[0].snaplen = ld32(buf + pos + 16, s.big)
    s.ifaces[0].linktype = linktype & 0xFFFF     # upper bits: FCS length, ignored
    s.ifaces[0].ts_exp = 9 if s.nanos else 6
    s.n_ifaces = 1
    s.header_done = 1
    return R_END


cdef int run_pcap(State* s, const uint8_t* buf, size_t* ppos, size_t end, int64_t base,
                  Cols* c, Py_ssize_t* prow, Py_ssize_t limit) noexcept nogil:
    """Records from *ppos into rows from *prow until the batch is full or the bytes end."""
    cdef size_t pos = ppos[0]
    cdef Py_ssize_t row = prow[0]
    cdef int result = R_BATCH_FULL
    cdef int big = s.big
    cdef uint32_t caplen
    cdef uint32_t max_caplen = pcap_max_caplen(s)
    cdef uint32_t linktype = s.ifaces[0].linktype
    cdef int64_t frac_ns = 1 if s.nanos else 1000
    cdef int64_t ts = 0
    while row < limit:
        if end - pos < 16:
            result = R_END if pos == end else R_NEED_MORE
            break
        caplen = ld32(buf + pos + 8, big)
        if caplen > max_caplen:
            result = fail(s, E_RECORD_LENGTH, pos, base, caplen, max_caplen)
            break
        if end - pos - 16 < caplen:
            result = R_NEED_MORE
            break
        ds_prefetch_record(buf, pos, end)
        ts = <int64_t>ld32(buf + pos, big) * 1000000000 + <int64_t>ld32(buf + pos + 4, big) * frac_ns
        decode_row(s, c, row, buf + pos + 16, caplen, ld32(buf + pos + 12, big), linktype, 0,
                   ts, base + <int64_t>pos)
        row += 1
        pos += 16 + caplen
    if row > prow[0]:
        s.last_ts = ts
    ppos[0] = pos
    prow[0] = row
    return result


cdef bint pcap_record_plausible(const State* s, const uint8_t* h, uint32_t max_caplen) noexcept nogil:
    """Could a record header start at h? (used to resynchronise after a bad record)"""
    cdef uint32_t caplen = ld32(h + 8, s.big)
    cdef uint32_t wirelen = ld32(h + 12, s.big)
    cdef uint32_t frac = ld32(h + 4, s.big)
    cdef int64_t seconds = ld32(h, s.big)
    cdef int64_t last = s.last_ts // 1000000000
    if caplen == 0 or caplen > max_caplen or caplen > wirelen or wirelen > 16 * max_caplen:
        return False
    if s.last_ts != 0 and (seconds < last - 86400 or seconds > last + 86400 * 366):
        return False    # a day before or a year after the last good packet: not a header
    return frac < (1000000000 if s.nanos else 1000000)


cdef Py_ssize_t pcap_resync(const State* s, const uint8_t* buf, size_t pos, size_t end) noexcept nogil:
    """The first offset >= pos where two plausible records follow (or one ends the data)."""
    cdef uint32_t max_caplen = pcap_max_caplen(s)
    cdef size_t nxt
    while pos + 16 <= end:
        if pcap_record_plausible(s, buf + pos, max_caplen):
            nxt = pos + 16 + ld32(buf + pos + 8, s.big)
            if nxt == end or (nxt + 16 <= end and pcap_record_plausible(s, buf + nxt, max_caplen)):
                return <Py_ssize_t>pos
        pos += 1
    return -1


cdef Py_ssize_t pcap_walk_starts(const uint8_t* buf, size_t size, size_t chunk_size,
                                 int64_t* starts, Py_ssize_t room) noexcept nogil:
    """Walk the record headers of a whole classic pcap file (header checked by the
    caller) and write the chunk starts: 24, then the first record at or after
    `chunk_size` bytes past the previous start. The walk stops where run_pcap would
    (an impossible length, a record past the end). Returns how many starts."""
    cdef int big = le32(buf) == 0xD4C3B2A1U or le32(buf) == 0x4D3CB2A1U
    cdef uint32_t max_caplen = pcap_caplen_limit(ld32(buf + 16, big))
    cdef size_t pos = 24
    cdef size_t next_cut = 24 + chunk_size
    cdef uint32_t caplen
    cdef Py_ssize_t count = 1
    starts[0] = 24
    while count < room and size - pos >= 16:
        caplen = ld32(buf + pos + 8, big)
        if caplen > max_caplen or size - pos - 16 < caplen:
            break
        pos += 16 + caplen
        if pos >= next_cut and pos < size:
            starts[count] = <int64_t>pos
            count += 1
            next_cut = pos + chunk_size
    return count
