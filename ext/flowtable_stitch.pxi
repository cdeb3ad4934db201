# Joining the pieces of connections cut by file rotation (included by flowtable.pyx; the
# rules are analyzer/archive/stitch.py's docstring). One pass over the rows in (file, key,
# first packet) order, without the GIL: a file's first row of a key continues the latest
# flow of that key from the earlier files, or starts a flow of its own.

# The raw flow columns the join reads and updates, as pointers into C-contiguous arrays;
# [0] is the client-to-server direction, [1] server-to-client.
cdef struct RawCols:
    const uint8_t *client_addr
    const uint16_t *client_port
    const uint8_t *proto
    int64_t *first_ts
    int64_t *last_ts
    uint64_t *packets[2]
    uint64_t *ip_bytes[2]
    uint64_t *payload_bytes[2]
    uint8_t *tcp_flags[2]
    uint8_t *sent[2]
    uint8_t *flow_flags
    uint32_t *syn_count


cdef struct JoinLimits:
    int64_t tcp
    int64_t udp
    int64_t linger


cdef uint8_t START_FLAGS = F_MIDSTREAM | F_GUESSED | F_FIRST_SYNACK


cdef bint continues(const RawCols *c, Py_ssize_t earlier, Py_ssize_t later,
                    const JoinLimits *limits) noexcept nogil:
    """Would one stream have put `later`'s first packet into flow `earlier`?"""
    cdef bint closed = (c.flow_flags[earlier] & F_CLOSED) != 0
    cdef int64_t timeout = limits.linger if closed else (
        limits.tcp if c.proto[earlier] == PROTO_TCP else limits.udp)
    cdef bint starts_with_syn = (c.proto[later] == PROTO_TCP
                                 and (c.flow_flags[later] & F_MIDSTREAM) == 0)
    return (c.first_ts[later] - c.last_ts[earlier] <= timeout
            and not (closed and starts_with_syn))


cdef bint closing(const RawCols *c, Py_ssize_t row) noexcept nogil:
    """Closed, or half closed (a FIN from one side): the next piece may close it."""
    return ((c.flow_flags[row] & F_CLOSED) != 0
            or ((c.sent[0][row] | c.sent[1][row]) & S_FIN) != 0)


cdef void merge_into(RawCols *c, Py_ssize_t earlier, Py_ssize_t later) noexcept nogil:
    """Add flow `later` to flow `earlier`, direction by direction (the later piece may
    name the client differently: then its directions are swapped)."""
    cdef bint same = (c.client_port[earlier] == c.client_port[later]
                      and addr_equal(c.client_addr + 16 * earlier,
                                     c.client_addr + 16 * later))
    cdef int role, theirs
    cdef uint8_t sent
    for role in range(2):
        theirs = role if same else 1 - role
        sent = c.sent[theirs][later]
        if c.packets[role][earlier] > 0:  # this role's first packet is in `earlier`
            sent &= ~S_FIRST_SYN
        c.sent[role][earlier] |= sent
        c.tcp_flags[role][earlier] |= c.tcp_flags[theirs][later]
        c.packets[role][earlier] += c.packets[theirs][later]
        c.ip_bytes[role][earlier] += c.ip_bytes[theirs][later]
        c.payload_bytes[role][earlier] += c.payload_bytes[theirs][later]
    # syn_count counts the client's pure SYNs; a piece that took the other side for the
    # client saw them as its server's: at least one then.
    if same:
        c.syn_count[earlier] += c.syn_count[later]
    elif c.sent[1][later] & S_SYN:
        c.syn_count[earlier] += 1
    c.flow_flags[earlier] |= c.flow_flags[later] & ~START_FLAGS
    if ((c.sent[0][earlier] | c.sent[1][earlier]) & S_RST
            or (c.sent[0][earlier] & S_FIN and c.sent[1][earlier] & S_FIN)):
        c.flow_flags[earlier] |= F_CLOSED
    c.first_ts[earlier] = min(c.first_ts[earlier], c.first_ts[later])
    c.last_ts[earlier] = max(c.last_ts[earlier], c.last_ts[later])


cdef void join_rows(RawCols *c, const int64_t *keys, const int64_t *file_of, Py_ssize_t n,
                    int64_t *latest, uint8_t *keep, const JoinLimits *limits,
                    int64_t *joined, int64_t *near_close) noexcept nogil:
    """The pass: `latest[key]` is the flow that a later file's first row of that key may
    continue (-1: none); a row joined into an earlier flow gets keep = 0."""
    cdef Py_ssize_t row
    cdef int64_t earlier, flow
    cdef bint was_closing
    for row in range(n):
        keep[row] = 1
        flow = row
        if row == 0 or file_of[row] != file_of[row - 1] or keys[row] != keys[row - 1]:
            earlier = latest[keys[row]]
            if earlier >= 0 and continues(c, earlier, row, limits):
                was_closing = closing(c, earlier)
                merge_into(c, earlier, row)
                joined[0] += 1
                if was_closing and c.flow_flags[earlier] & F_CLOSED:
                    near_close[0] += 1
                keep[row] = 0
                flow = earlier
        if row == n - 1 or file_of[row + 1] != file_of[row] or keys[row + 1] != keys[row]:
            latest[keys[row]] = flow


def stitch_join(dict raw, const int64_t[::1] keys, const int64_t[::1] file_of,
                int64_t tcp_ns, int64_t udp_ns, int64_t linger_ns):
    """Join, in place, the rows of `raw` (RAW_FLOW_COLUMNS, C-contiguous, rows sorted by
    file, key and first packet) that continue a flow of an earlier file. Returns (keep:
    uint8 per row, 0 for a row joined into an earlier one; joins; joins around a close)."""
    cdef Py_ssize_t n = keys.shape[0]
    if file_of.shape[0] != n:
        raise ValueError("keys and file_of differ in length")
    check_raw(raw, n)
    cdef RawCols c
    fill_raw(&c, raw)
    cdef JoinLimits limits
    limits.tcp, limits.udp, limits.linger = tcp_ns, udp_ns, linger_ns
    keep_array = np.empty(n, dtype=np.uint8)
    cdef uint8_t[::1] keep = keep_array
    cdef int64_t joined = 0, near_close = 0, highest = -1
    cdef Py_ssize_t row
    for row in range(n):
        if keys[row] < 0:
            raise ValueError("keys must not be negative")
        highest = max(highest, keys[row])
    latest_array = np.full(highest + 1, -1, dtype=np.int64)
    cdef int64_t[::1] latest = latest_array
    if n:
        with nogil:
            join_rows(&c, &keys[0], &file_of[0], n, &latest[0], &keep[0], &limits,
                      &joined, &near_close)
    return keep_array, joined, near_close


cdef void check_raw(dict raw, Py_ssize_t n) except *:
    """Every raw column present, of its dtype, C-contiguous and of n rows (the pointers
    taken next rely on it)."""
    for name, (dtype, shape) in RAW_FLOW_COLUMNS.items():
        column = raw[name]
        if (not isinstance(column, np.ndarray) or column.dtype != np.dtype(dtype)
                or column.shape != (n, *shape) or not column.flags.c_contiguous
                or not column.flags.writeable):
            raise ValueError(f"raw column {name!r}: need a writable C-contiguous "
                             f"{np.dtype(dtype)} array of shape {(n, *shape)}")


cdef void fill_raw(RawCols *c, dict raw) except *:
    c.client_addr = <const uint8_t *>cnp.PyArray_DATA(<cnp.ndarray>raw["client_addr"])
    c.client_port = <const uint16_t *>cnp.PyArray_DATA(<cnp.ndarray>raw["client_port"])
    c.proto = <const uint8_t *>cnp.PyArray_DATA(<cnp.ndarray>raw["proto"])
    c.first_ts = <int64_t *>cnp.PyArray_DATA(<cnp.ndarray>raw["first_ts_ns"])
    c.last_ts = <int64_t *>cnp.PyArray_DATA(<cnp.ndarray>raw["last_ts_ns"])
    c.flow_flags = <uint8_t *>cnp.PyArray_DATA(<cnp.ndarray>raw["flow_flags"])
    c.syn_count = <uint32_t *>cnp.PyArray_DATA(<cnp.ndarray>raw["syn_count"])
    cdef int role
    for role, suffix in enumerate(("c2s", "s2c")):
        c.packets[role] = <uint64_t *>cnp.PyArray_DATA(<cnp.ndarray>raw["packets_" + suffix])
        c.ip_bytes[role] = <uint64_t *>cnp.PyArray_DATA(<cnp.ndarray>raw["ip_bytes_" + suffix])
        c.payload_bytes[role] = <uint64_t *>cnp.PyArray_DATA(
            <cnp.ndarray>raw["payload_bytes_" + suffix])
        c.tcp_flags[role] = <uint8_t *>cnp.PyArray_DATA(<cnp.ndarray>raw["tcp_flags_" + suffix])
        c.sent[role] = <uint8_t *>cnp.PyArray_DATA(<cnp.ndarray>raw["sent_" + suffix])


# The flow key of a raw row: protocol, tunnel, both VLANs and the unordered pair of
# endpoints (a later piece may name the client differently).
cdef struct KeyCols:
    const uint8_t *client_addr
    const uint8_t *server_addr
    const uint16_t *client_port
    const uint16_t *server_port
    const uint8_t *proto
    const uint8_t *tunnel
    const int32_t *vlan
    const int32_t *vlan_inner


cdef inline bint same_endpoint(const uint8_t *addr_x, uint16_t port_x, const uint8_t *addr_y,
                               uint16_t port_y) noexcept nogil:
    return port_x == port_y and addr_equal(addr_x, addr_y)


cdef bint same_key(const KeyCols *k, Py_ssize_t x, Py_ssize_t y) noexcept nogil:
    if (k.proto[x] != k.proto[y] or k.tunnel[x] != k.tunnel[y] or k.vlan[x] != k.vlan[y]
            or k.vlan_inner[x] != k.vlan_inner[y]):
        return False
    cdef const uint8_t *cx = k.client_addr + 16 * x
    cdef const uint8_t *sx = k.server_addr + 16 * x
    cdef const uint8_t *cy = k.client_addr + 16 * y
    cdef const uint8_t *sy = k.server_addr + 16 * y
    return ((same_endpoint(cx, k.client_port[x], cy, k.client_port[y])
             and same_endpoint(sx, k.server_port[x], sy, k.server_port[y]))
            or (same_endpoint(cx, k.client_port[x], sy, k.server_port[y])
                and same_endpoint(sx, k.server_port[x], cy, k.client_port[y])))


cdef uint64_t row_key_hash(const KeyCols *k, Py_ssize_t row) noexcept nogil:
    """The flow table's key hash of the row's key, endpoints in canonical order."""
    cdef uint64_t c0 = load64(k.client_addr + 16 * row), c1 = load64(k.client_addr + 16 * row + 8)
    cdef uint64_t s0 = load64(k.server_addr + 16 * row), s1 = load64(k.server_addr + 16 * row + 8)
    cdef uint16_t cport = k.client_port[row], sport = k.server_port[row]
    cdef uint64_t vlans = vlan_word(k.vlan[row], k.vlan_inner[row])
    if words_src_first(c0, c1, s0, s1, cport, sport):
        return key_hash(c0, c1, s0, s1, cport | (<uint32_t>sport << 16), k.proto[row],
                        k.tunnel[row], vlans)
    return key_hash(s0, s1, c0, c1, sport | (<uint32_t>cport << 16), k.proto[row],
                    k.tunnel[row], vlans)


cdef uint64_t key_row_hash(const void *rows, Py_ssize_t row) noexcept nogil:
    return row_key_hash(<const KeyCols *>rows, row)


cdef bint same_key_rows(const void *rows, Py_ssize_t x, Py_ssize_t y) noexcept nogil:
    return same_key(<const KeyCols *>rows, x, y)


def flow_key_codes(dict raw):
    """A small integer per row of `raw` (RAW_FLOW_COLUMNS, C-contiguous) for its flow
    key: protocol, tunnel, VLANs and both endpoints in either order; the keys numbered
    in the order they are first seen."""
    cdef Py_ssize_t n = len(raw["first_ts_ns"])
    check_raw(raw, n)
    cdef KeyCols k
    k.client_addr = <const uint8_t *>cnp.PyArray_DATA(<cnp.ndarray>raw["client_addr"])
    k.server_addr = <const uint8_t *>cnp.PyArray_DATA(<cnp.ndarray>raw["server_addr"])
    k.client_port = <const uint16_t *>cnp.PyArray_DATA(<cnp.ndarray>raw["client_port"])
    k.server_port = <const uint16_t *>cnp.PyArray_DATA(<cnp.ndarray>raw["server_port"])
    k.proto = <const uint8_t *>cnp.PyArray_DATA(<cnp.ndarray>raw["proto"])
    k.tunnel = <const uint8_t *>cnp.PyArray_DATA(<cnp.ndarray>raw["tunnel"])
    k.vlan = <const int32_t *>cnp.PyArray_DATA(<cnp.ndarray>raw["vlan"])
    k.vlan_inner = <const int32_t *>cnp.PyArray_DATA(<cnp.ndarray>raw["vlan_inner"])
    cdef uint64_t size = table_size(n)
    slots_array = np.zeros(size, dtype=np.int64)
    codes_array = np.empty(n, dtype=np.int64)
    cdef int64_t[::1] slots = slots_array
    cdef int64_t[::1] codes = codes_array
    if n:
        with nogil:
            number_rows(&k, key_row_hash, same_key_rows, n, &slots[0], size - 1, &codes[0],
                        NULL)
    return codes_array
