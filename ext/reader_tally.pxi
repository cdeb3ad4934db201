# Capture statistics counted in the nogil loop (packet-record mode): what CaptureStats
# would count from the columns, as plain counters, handed to Python once per batch
# (Parser.take_tally) instead of a numpy pass over every column.

from libc.stdint cimport INT64_MAX, INT64_MIN

cdef uint32_t N_LINKTYPES = 65536


cdef struct Tally:
    uint64_t packets
    uint64_t wire_bytes
    uint64_t cap_bytes
    uint64_t fragments
    int64_t first_ts
    int64_t last_ts
    uint64_t status[256]
    uint64_t family[256]
    uint64_t proto[256]         # IP packets only
    uint64_t tunnel[256]
    uint64_t* linktype          # N_LINKTYPES counters
    uint64_t* skipped           # N_LINKTYPES counters: status linktype_skipped
    uint16_t* seen              # link types counted since the last take, in order
    uint32_t n_seen
    uint32_t last_linktype      # a cache: most packets repeat the previous link type
    uint64_t fast[2][2]         # fast-path packets by [IPv6][UDP] (folded in at take)


cdef int tally_init(Tally* t) noexcept nogil:
    memset(t, 0, sizeof(Tally))
    t.linktype = <uint64_t*>calloc(N_LINKTYPES, sizeof(uint64_t))
    t.skipped = <uint64_t*>calloc(N_LINKTYPES, sizeof(uint64_t))
    t.seen = <uint16_t*>calloc(N_LINKTYPES, sizeof(uint16_t))
    t.last_linktype = N_LINKTYPES
    tally_reset_times(t)
    return 0 if t.linktype != NULL and t.skipped != NULL and t.seen != NULL else -1


cdef void tally_free(Tally* t) noexcept nogil:
    free(t.linktype)
    free(t.skipped)
    free(t.seen)


cdef inline void tally_reset_times(Tally* t) noexcept nogil:
    t.first_ts = INT64_MAX
    t.last_ts = INT64_MIN


cdef inline void tally_linktype(Tally* t, uint16_t linktype) noexcept nogil:
    if linktype != t.last_linktype:
        t.last_linktype = linktype
        if t.linktype[linktype] == 0 and t.skipped[linktype] == 0:
            t.seen[t.n_seen] = linktype
            t.n_seen += 1
    t.linktype[linktype] += 1


cdef inline void tally_times(Tally* t, const ds_packet_record* r) noexcept nogil:
    if r.ts_ns < t.first_ts:
        t.first_ts = r.ts_ns
    if r.ts_ns > t.last_ts:
        t.last_ts = r.ts_ns
    t.packets += 1
    t.wire_bytes += r.wirelen
    t.cap_bytes += r.caplen


cdef inline void tally_record(Tally* t, const ds_packet_record* r) noexcept nogil:
    tally_times(t, r)
    t.fragments += r.frag != 0
    t.status[r.status] += 1
    t.family[r.wire_family] += 1
    t.proto[r.proto] += r.wire_family != 0
    t.tunnel[r.tunnel] += 1
    tally_linktype(t, r.linktype)
    if r.status == ST_LINKTYPE_SKIPPED:
        t.skipped[r.linktype] += 1


cdef inline void tally_fast(Tally* t, const ds_packet_record* r) noexcept nogil:
    """tally_record for a record of the fast path (reader_fast.pxi): status ok, no
    tunnel, no fragment, TCP or UDP over IPv4 or IPv6; what varies is counted here, the
    rest by tally_fold."""
    tally_times(t, r)
    tally_linktype(t, r.linktype)
    t.fast[r.wire_family == 6][r.proto == 17] += 1


cdef void tally_fold(Tally* t) noexcept nogil:
    """The fast-path packets into the counts tally_record keeps (at take time)."""
    cdef uint64_t n = t.fast[0][0] + t.fast[0][1] + t.fast[1][0] + t.fast[1][1]
    cdef int v6, udp
    if n == 0:
        return
    for v6 in range(2):
        for udp in range(2):
            t.family[6 if v6 else 4] += t.fast[v6][udp]
            t.proto[17 if udp else 6] += t.fast[v6][udp]
    t.status[<int>ST_OK] += n
    t.tunnel[<int>TUN_NONE] += n
    memset(t.fast, 0, sizeof(t.fast))


cdef dict nonzero(const uint64_t* counts, int n):
    return {i: counts[i] for i in range(n) if counts[i]}


cdef dict tally_take(Tally* t):
    """The counts since the last take (CaptureStats.add_tally keys), then zero them."""
    cdef uint32_t i
    cdef uint16_t lt
    cdef dict linktypes = {}, skipped = {}
    tally_fold(t)
    for i in range(t.n_seen):
        lt = t.seen[i]
        if t.linktype[lt]:
            linktypes[lt] = t.linktype[lt]
        if t.skipped[lt]:
            skipped[lt] = t.skipped[lt]
        t.linktype[lt] = 0
        t.skipped[lt] = 0
    out = {
        "packets": t.packets, "bytes": t.wire_bytes, "captured_bytes": t.cap_bytes,
        "fragments": t.fragments,
        "first_ts_ns": t.first_ts if t.packets else None,
        "last_ts_ns": t.last_ts if t.packets else None,
        "status": nonzero(t.status, 256), "families": nonzero(t.family, 256),
        "protocols": nonzero(t.proto, 256), "tunnels": nonzero(t.tunnel, 256),
        "linktypes": linktypes, "skipped_linktypes": skipped,
    }
    t.packets = t.wire_bytes = t.cap_bytes = t.fragments = 0
    memset(t.status, 0, sizeof(t.status))
    memset(t.family, 0, sizeof(t.family))
    memset(t.proto, 0, sizeof(t.proto))
    memset(t.tunnel, 0, sizeof(t.tunnel))
    t.n_seen = 0
    t.last_linktype = N_LINKTYPES
    tally_reset_times(t)
    return out
