# cython: language_level=3
"""Bidirectional TCP/UDP flow table: packet batch columns in, finished flow records out.

The update loop runs without the GIL and without Python calls: for each packet it hashes
the canonical key (protocol, both endpoints, VLANs, tunnel), finds or creates the flow in an
open-addressing index and updates its counters. Flows finish when closed (RST, or FIN from
both sides) and quiet for the linger time, when idle longer than their protocol's
timeout, or when a new SYN reuses a closed flow's ports; finished flows are copied to an
output buffer that the driver drains after each batch, so memory follows live flows.
"""

include "flowtable_defs.pxi"
include "packet_record.pxi"
include "packet_key.pxi"
include "flowtable_index.pxi"

import numpy as np

from analyzer.hugepages import huge_page_arrays

cimport cython
cimport numpy as cnp
from libc.stdlib cimport free, malloc, realloc
from libc.string cimport memset, strlen

cnp.import_array()
if sizeof(FlowRec) != 128:
    raise ImportError("flow table: FlowRec must be two cache lines (128 bytes)")

include "flowtable_text.pxi"
include "flowtable_cid.pxi"
include "flowtable_rows.pxi"
include "flowtable_stitch.pxi"

# The packet columns of `update`, as raw pointers into C-contiguous numpy arrays; packed
# into packet records (ext/packet_record.h) before the loop, which reads records only.
cdef struct PacketCols:
    Py_ssize_t n
    const int64_t *ts_ns
    const uint32_t *iface
    const uint8_t *wire_family
    const uint8_t *src
    const uint8_t *dst
    const uint16_t *sport
    const uint16_t *dport
    const uint8_t *proto
    const uint8_t *tcp_flags
    const uint32_t *ip_len
    const uint32_t *payload_len
    const int32_t *vlan
    const int32_t *vlan_inner
    const uint8_t *tunnel
    const uint8_t *frag
    const uint8_t *icmp_type
    const uint8_t *icmp_code
    const uint8_t *q_src
    const uint8_t *q_dst
    const uint16_t *q_sport
    const uint16_t *q_dport
    const uint8_t *q_proto
    const uint8_t *status

cdef enum:
    PREFETCH_DISTANCE = 8

PACKET_INPUTS = (
    "ts_ns", "iface", "wire_family", "src", "dst", "sport", "dport", "proto", "tcp_flags",
    "ip_len", "payload_len", "vlan", "vlan_inner", "tunnel", "frag", "icmp_type",
    "icmp_code", "q_src", "q_dst", "q_sport", "q_dport", "q_proto", "status",
)

# name -> dtype of the raw finished-flow columns that take_finished() returns
RAW_FLOW_COLUMNS = {
    "client_addr": (np.uint8, (16,)),
    "server_addr": (np.uint8, (16,)),
    "client_port": (np.uint16, ()),
    "server_port": (np.uint16, ()),
    "proto": (np.uint8, ()),
    "wire_family": (np.uint8, ()),
    "vlan": (np.int32, ()),
    "vlan_inner": (np.int32, ()),
    "tunnel": (np.uint8, ()),
    "iface": (np.uint32, ()),
    "first_ts_ns": (np.int64, ()),
    "last_ts_ns": (np.int64, ()),
    "packets_c2s": (np.uint64, ()),
    "packets_s2c": (np.uint64, ()),
    "ip_bytes_c2s": (np.uint64, ()),
    "ip_bytes_s2c": (np.uint64, ()),
    "payload_bytes_c2s": (np.uint64, ()),
    "payload_bytes_s2c": (np.uint64, ()),
    "tcp_flags_c2s": (np.uint8, ()),
    "tcp_flags_s2c": (np.uint8, ()),
    "sent_c2s": (np.uint8, ()),
    "sent_s2c": (np.uint8, ()),
    "flow_flags": (np.uint8, ()),
    "syn_count": (np.uint32, ()),
}

FLAG_BITS = {
    "midstream": F_MIDSTREAM, "guessed": F_GUESSED, "closed": F_CLOSED,
    "icmp_unreach": F_ICMP_UNREACH, "first_synack": F_FIRST_SYNACK,
}
SENT_BITS = {
    "syn": S_SYN, "synack": S_SYNACK, "fin": S_FIN, "rst": S_RST, "data": S_DATA,
    "pure_ack": S_PURE_ACK, "first_syn": S_FIRST_SYN,
}


cdef uint8_t TCP_SENT[256]     # S_* bits of a TCP segment without payload, by flag byte


cdef uint8_t tcp_sent_bits(uint8_t fl) noexcept nogil:
    """What a segment with flags `fl` (and no payload) tells of its sender: a pure SYN,
    a SYN-ACK, a bare ACK (Zeek history 'A'), a FIN, a RST."""
    cdef uint8_t bits = 0
    if fl & TH_SYN and not fl & TH_ACK:
        bits |= S_SYN
    elif fl & TH_SYN:
        bits |= S_SYNACK
    elif fl & TH_ACK and not fl & (TH_FIN | TH_RST):
        bits |= S_PURE_ACK
    if fl & TH_FIN:
        bits |= S_FIN
    if fl & TH_RST:
        bits |= S_RST
    return bits


for _flags in range(256):
    TCP_SENT[_flags] = tcp_sent_bits(_flags)


cdef inline bint is_port_unreachable(uint8_t family, uint8_t icmp_type,
                                     uint8_t icmp_code) noexcept nogil:
    if family == 4:
        return icmp_type == 3 and icmp_code == 3
    return icmp_type == 1 and icmp_code == 4


cdef inline uint8_t guess_client_is_b(uint16_t port_a, uint16_t port_b) noexcept nogil:
    """Midstream: the client is the side with the ephemeral (larger, or >= 1024) port."""
    if port_a < 1024 <= port_b:
        return 1
    if port_b < 1024 <= port_a:
        return 0
    return 1 if port_b > port_a else 0


@cython.final        # cdef methods called directly (inlinable), not through the vtable
cdef class FlowTable:
    """Live flows of one packet stream. Feed batches with `update`, drain with
    `take_finished`, end with `finish_all`."""

    cdef uint64_t *slots
    cdef uint64_t mask
    cdef FlowRec *recs
    cdef uint32_t rec_cap
    cdef uint32_t rec_hw
    cdef uint32_t *free_ids
    cdef int64_t *deadline   # per record: last packet + its timeout; sweeps scan only this
    cdef uint32_t n_free
    cdef FlowRec *done
    cdef Py_ssize_t n_done
    cdef Py_ssize_t done_cap
    cdef ds_packet_record *pbuf     # update(): the columns packed into records
    cdef Py_ssize_t pbuf_cap
    cdef readonly int64_t tcp_timeout_ns
    cdef readonly int64_t udp_timeout_ns
    cdef readonly int64_t linger_ns
    cdef int64_t now
    cdef int64_t last_sweep_now
    cdef uint64_t since_sweep
    cdef uint32_t finish_cursor
    cdef bint ended          # finish_all was called: no packet comes any more, so the
                             # index is no longer kept (finishing a flow skips its slot)
    cdef bint busy
    cdef readonly uint64_t packets_in_flows
    cdef readonly uint64_t packets_ignored
    cdef readonly uint64_t icmp_errors_matched
    cdef readonly uint64_t icmp_errors_unmatched
    cdef readonly uint64_t flows_started
    cdef readonly uint64_t peak_live_flows

    def __cinit__(self, int64_t tcp_timeout_ns, int64_t udp_timeout_ns, int64_t linger_ns,
                  Py_ssize_t initial_capacity=1 << 16):
        cdef uint64_t cap = 1024
        while cap < <uint64_t>initial_capacity * 2:
            cap <<= 1
        self.mask = cap - 1
        self.slots = <uint64_t *>ft_calloc_lines(cap * sizeof(uint64_t))
        self.rec_cap = <uint32_t>(cap // 2)
        self.recs = <FlowRec *>ft_alloc_lines(self.rec_cap * sizeof(FlowRec))
        self.free_ids = <uint32_t *>malloc(self.rec_cap * sizeof(uint32_t))
        self.deadline = <int64_t *>malloc(self.rec_cap * sizeof(int64_t))
        self.done_cap = 1024
        self.done = <FlowRec *>malloc(self.done_cap * sizeof(FlowRec))
        if not (self.slots and self.recs and self.free_ids and self.done and self.deadline):
            raise MemoryError("flow table: cannot allocate the initial table")
        self.tcp_timeout_ns = tcp_timeout_ns
        self.udp_timeout_ns = udp_timeout_ns
        self.linger_ns = linger_ns
        self.now = -(1 << 62)
        self.last_sweep_now = self.now

    def __dealloc__(self):
        free(self.slots)
        free(self.recs)
        free(self.deadline)
        free(self.free_ids)
        free(self.done)
        free(self.pbuf)

    @property
    def live_flows(self) -> int:
        return self.rec_hw - self.n_free

    @property
    def capacity(self) -> int:
        return self.mask + 1

    @property
    def pending_finished(self) -> int:
        return self.n_done

    # ---- record pool and finished buffer -------------------------------------------------

    cdef int alloc_rec(self, uint32_t *out) noexcept nogil:
        cdef FlowRec *recs
        cdef uint32_t *ids
        cdef int64_t *deadline
        cdef uint32_t cap
        if self.n_free:
            self.n_free -= 1
            out[0] = self.free_ids[self.n_free]
            return FT_OK
        if self.rec_hw == self.rec_cap:
            cap = self.rec_cap + self.rec_cap // 2
            recs = <FlowRec *>ft_grow_lines(self.recs, self.rec_cap * sizeof(FlowRec),
                                            cap * sizeof(FlowRec))
            if recs == NULL:
                return FT_NOMEM
            self.recs = recs
            ids = <uint32_t *>realloc(self.free_ids, cap * sizeof(uint32_t))
            if ids == NULL:
                return FT_NOMEM
            self.free_ids = ids
            deadline = <int64_t *>realloc(self.deadline, cap * sizeof(int64_t))
            if deadline == NULL:
                return FT_NOMEM
            self.deadline = deadline
            self.rec_cap = cap
        out[0] = self.rec_hw
        self.rec_hw += 1
        if self.rec_hw - self.n_free > self.peak_live_flows:
            self.peak_live_flows = self.rec_hw - self.n_free
        return FT_OK

    cdef int finish(self, uint32_t rid) noexcept nogil:
        """Move flow `rid` to the finished buffer and free its record and index slot."""
        cdef FlowRec *done
        cdef Py_ssize_t cap
        cdef FlowRec *r = &self.recs[rid]
        if self.n_done == self.done_cap:
            cap = self.done_cap * 2
            done = <FlowRec *>realloc(self.done, cap * sizeof(FlowRec))
            if done == NULL:
                return FT_NOMEM
            self.done = done
            self.done_cap = cap
        self.done[self.n_done] = r[0]
        self.n_done += 1
        if not self.ended:       # at the end no packet looks a flow up: the slot can stay
            index_remove(self.slots, self.mask, slot_of(r.tag, rid))
        r.flags = 0
        self.deadline[rid] = INT64_MAX
        self.free_ids[self.n_free] = rid
        self.n_free += 1
        return FT_OK

    cdef inline int64_t timeout_of(self, const FlowRec *r) noexcept nogil:
        if r.flags & F_CLOSED:
            return self.linger_ns
        if r.proto == PROTO_TCP:
            return self.tcp_timeout_ns
        return self.udp_timeout_ns

    cdef int sweep(self) noexcept nogil:
        """Finish every flow whose timeout has passed at the current capture time."""
        cdef uint32_t rid
        for rid in range(self.rec_hw):
            if self.now > self.deadline[rid]:
                if self.finish(rid) != FT_OK:
                    return FT_NOMEM
        self.last_sweep_now = self.now
        self.since_sweep = 0
        return FT_OK

    cdef int grow_index(self) noexcept nogil:
        cdef uint64_t old_cap = self.mask + 1
        cdef uint64_t new_mask = old_cap * 2 - 1
        cdef uint64_t *old = self.slots
        cdef uint64_t *slots = <uint64_t *>ft_calloc_lines((new_mask + 1) * sizeof(uint64_t))
        cdef uint64_t i
        if slots == NULL:
            return FT_NOMEM
        for i in range(old_cap):
            if old[i] != 0:
                index_insert(slots, new_mask, old[i])
        self.slots = slots
        self.mask = new_mask
        free(old)
        return FT_OK

    cdef int make_room(self) noexcept nogil:
        """Keep the index at most half full: sweep out expired flows first, grow if that
        frees too little."""
        cdef uint64_t live = self.rec_hw - self.n_free
        cdef uint64_t cap = self.mask + 1
        if (live + 1) * 2 <= cap:
            return FT_OK
        if self.now != self.last_sweep_now:
            if self.sweep() != FT_OK:
                return FT_NOMEM
            live = self.rec_hw - self.n_free
        if live * 8 > cap * 3:
            return self.grow_index()
        return FT_OK

    # ---- the per-packet work ---------------------------------------------------------------

    cdef int new_flow(self, const ds_packet_record *p, bint src_a,
                      uint32_t *out) noexcept nogil:
        cdef uint32_t rid
        cdef FlowRec *r
        cdef uint8_t fl = p.tcp_flags
        if self.make_room() != FT_OK or self.alloc_rec(&rid) != FT_OK:
            return FT_NOMEM
        r = &self.recs[rid]
        r.tag = <uint32_t>(p.key_hash >> 32)
        if src_a:
            memcpy(r.a, p.src, 16)
            memcpy(r.b, p.dst, 16)
            r.port_a = p.sport
            r.port_b = p.dport
        else:
            memcpy(r.a, p.dst, 16)
            memcpy(r.b, p.src, 16)
            r.port_a = p.dport
            r.port_b = p.sport
        r.vlan = p.vlan
        r.vlan_inner = p.vlan_inner
        r.proto = p.key_proto
        r.tunnel = p.tunnel
        r.wire_family = p.wire_family
        r.iface = p.iface
        r.first_ts = p.ts_ns
        r.last_ts = p.ts_ns
        r.flags = F_IN_USE
        r.client_is_b = 0 if src_a else 1
        if r.proto == PROTO_TCP and not (fl & TH_SYN and not fl & TH_ACK):
            r.flags |= F_MIDSTREAM
            if fl & TH_SYN:                      # SYN-ACK first: its receiver is the client
                r.flags |= F_FIRST_SYNACK
                r.client_is_b = 1 if src_a else 0
            else:
                r.flags |= F_GUESSED
                r.client_is_b = guess_client_is_b(r.port_a, r.port_b)
        r.tcp_flags[0] = 0
        r.tcp_flags[1] = 0
        r.sent[0] = 0
        r.sent[1] = 0
        r.syn_count = 0
        r.packets[0] = 0
        r.packets[1] = 0
        r.ip_bytes[0] = 0
        r.ip_bytes[1] = 0
        r.payload_bytes[0] = 0
        r.payload_bytes[1] = 0
        index_insert(self.slots, self.mask, slot_of(r.tag, rid))
        self.flows_started += 1
        out[0] = rid
        return FT_OK

    cdef inline int64_t find(self, const ds_packet_record *p, bint src_a) noexcept nogil:
        """The record id of the flow of packet record p (a quoted packet's for an ICMP
        error; its source is endpoint a when src_a), or -1."""
        cdef uint64_t tag = p.key_hash >> 32
        cdef uint64_t i = tag & self.mask
        cdef uint64_t s
        while True:
            s = self.slots[i]
            if s == 0:
                return -1
            if (s >> 32) == tag and key_equal(&self.recs[rec_of(s)], p, src_a):
                return rec_of(s)
            i = (i + 1) & self.mask

    cdef inline int flow_packet(self, const ds_packet_record *p, bint src_a) noexcept nogil:
        cdef uint8_t fl = p.tcp_flags
        cdef bint tcp = p.proto == PROTO_TCP
        cdef uint8_t bits = TCP_SENT[fl] if tcp else 0    # S_* bits of this packet
        cdef int64_t ts = p.ts_ns
        cdef int64_t found = self.find(p, src_a)
        cdef uint32_t rid
        cdef FlowRec *r
        cdef int role
        if found >= 0:
            r = &self.recs[found]
            if ts - r.last_ts > self.timeout_of(r) or (bits & S_SYN and r.flags & F_CLOSED):
                if self.finish(<uint32_t>found) != FT_OK:
                    return FT_NOMEM
                found = -1
        if found < 0:
            if self.new_flow(p, src_a, &rid) != FT_OK:
                return FT_NOMEM
        else:
            rid = <uint32_t>found
        r = &self.recs[rid]
        role = (0 if src_a else 1) ^ r.client_is_b
        if ts > r.last_ts:
            r.last_ts = ts
        if ts < r.first_ts:
            r.first_ts = ts
        r.packets[role] += 1
        r.ip_bytes[role] += p.ip_len
        r.payload_bytes[role] += p.payload_len
        if p.payload_len:
            bits = (bits & ~S_PURE_ACK) | S_DATA
        if tcp:
            if bits & S_SYN:
                if r.packets[role] == 1:
                    bits |= S_FIRST_SYN
                r.syn_count += role == 0
            r.tcp_flags[role] |= fl
            r.sent[role] |= bits
            if fl & TH_RST or (r.sent[0] & r.sent[1] & S_FIN):
                r.flags |= F_CLOSED
        else:
            r.sent[role] |= bits
        self.deadline[rid] = r.last_ts + self.timeout_of(r)
        return FT_OK

    cdef void icmp_error(self, const ds_packet_record *p, bint src_a) noexcept nogil:
        """Attribute an ICMP port unreachable to the UDP flow of the datagram it quotes."""
        cdef int64_t found = self.find(p, src_a)
        cdef FlowRec *r
        if found < 0:
            self.icmp_errors_unmatched += 1
            return
        self.icmp_errors_matched += 1
        r = &self.recs[found]
        if (r.proto == PROTO_UDP and ((0 if src_a else 1) ^ r.client_is_b) == 0
                and is_port_unreachable(p.wire_family, p.icmp_type, p.icmp_code)):
            r.flags |= F_ICMP_UNREACH

    cdef int run(self, const ds_packet_record *pk, Py_ssize_t n) noexcept nogil:
        """Update the flows of n classified records (packet_key.pxi), prefetching index
        slots and flow records a few packets ahead."""
        cdef Py_ssize_t i, j
        cdef uint8_t k
        cdef uint64_t slot
        cdef const char *rec
        for i in range(n):
            j = i + 2 * PREFETCH_DISTANCE
            if j < n and pk[j].kind != PK_SKIP:
                FT_PREFETCH(&self.slots[(pk[j].key_hash >> 32) & self.mask])
            j = i + PREFETCH_DISTANCE
            if j < n and pk[j].kind != PK_SKIP:
                # the record of the home slot (the likely match), all its cache lines;
                # written out here: GCC drops a call to a function doing only prefetches
                slot = self.slots[(pk[j].key_hash >> 32) & self.mask]
                if slot != 0:
                    rec = <const char *>&self.recs[rec_of(slot)]
                    FT_PREFETCH(rec)
                    FT_PREFETCH(rec + 64)
            k = pk[i].kind
            if k == PK_SKIP:
                self.packets_ignored += 1
                continue
            if pk[i].ts_ns > self.now:
                self.now = pk[i].ts_ns
            if k <= PK_FLOW_SRC_B:
                if self.flow_packet(&pk[i], k == PK_FLOW_SRC_A) != FT_OK:
                    return FT_NOMEM
                self.packets_in_flows += 1
            else:
                self.packets_ignored += 1
                self.icmp_error(&pk[i], k == PK_ICMP_SRC_A)
        self.since_sweep += n
        if self.since_sweep * 2 >= self.rec_hw and self.now - self.last_sweep_now >= min(
                self.linger_ns, 1000000000):
            return self.sweep()
        return FT_OK

    cdef int enter(self) except -1:
        """The GIL is released while a batch is processed: refuse a second thread."""
        if self.busy:
            raise RuntimeError("FlowTable is in use by another thread")
        self.busy = True
        return 0

    cdef int reserve_packed(self, Py_ssize_t n) except -1:
        if n <= self.pbuf_cap:
            return 0
        free(self.pbuf)
        self.pbuf = <ds_packet_record *>malloc(n * sizeof(ds_packet_record))
        if self.pbuf == NULL:
            self.pbuf_cap = 0
            raise MemoryError("flow table: cannot allocate batch buffers")
        self.pbuf_cap = n
        return 0

    cdef int feed(self, const ds_packet_record *pk, Py_ssize_t n) except -1:
        """n classified packet records into the flows, without the GIL."""
        cdef int status
        if self.ended:
            raise RuntimeError("flow table: packets after finish_all (the input has ended)")
        self.enter()
        try:
            with nogil:
                status = self.run(pk, n)
        finally:
            self.busy = False
        if status == FT_NOMEM:
            raise MemoryError(f"flow table: out of memory with {self.live_flows} live flows")
        return 0

    # ---- Python interface --------------------------------------------------------------------

    def update(self, columns: dict) -> None:
        """Feed one packet batch (the columns of analyzer.capture.columns.PACKET_COLUMNS)."""
        cdef PacketCols c
        cdef dict arrays = {name: np.ascontiguousarray(columns[name]) for name in PACKET_INPUTS}
        memset(&c, 0, sizeof(PacketCols))   # fill_cols sets every pointer; GCC cannot see it
        c.n = len(arrays["ts_ns"])
        if c.n == 0:
            return
        fill_cols(&c, arrays)
        self.reserve_packed(c.n)
        with nogil:
            pack_records(&c, self.pbuf)
        self.feed(self.pbuf, c.n)

    def update_records(self, cnp.ndarray records) -> None:
        """Feed one batch of packet records (ext/packet_record.h; the reader writes them
        with Parser.bind_records): the fast path, no columns in between."""
        if not cnp.PyArray_IS_C_CONTIGUOUS(records) or records.ndim != 1 \
                or records.itemsize != DS_PACKET_RECORD_SIZE:
            raise TypeError(f"flow table: records must be a C-contiguous 1-D array of "
                            f"{DS_PACKET_RECORD_SIZE}-byte items")
        if records.shape[0]:
            self.feed(<const ds_packet_record *>cnp.PyArray_DATA(records), records.shape[0])

    def expire(self, int64_t now_ns) -> None:
        """Advance the capture clock to `now_ns` and finish the flows that timed out."""
        cdef int status
        if now_ns > self.now:
            self.now = now_ns
        self.enter()
        try:
            with nogil:
                status = self.sweep()
        finally:
            self.busy = False
        if status == FT_NOMEM:
            raise MemoryError("flow table: out of memory while expiring flows")

    def finish_all(self, Py_ssize_t limit=-1) -> int:
        """End of input: move live flows to the finished buffer, at most `limit` of them
        (all when negative) so the caller can drain them in bounded chunks. Returns how
        many were moved. No packet may be fed afterwards (RuntimeError): the flows leave
        the index all at once, not one slot each (64 k live flows: 8.6-10 -> 3.7-5.3 ms)."""
        cdef Py_ssize_t moved = 0, scanned = 0
        cdef uint32_t rid
        cdef int status = FT_OK
        self.enter()
        self.ended = True
        try:
            with nogil:
                while scanned < self.rec_hw and (limit < 0 or moved < limit):
                    rid = self.finish_cursor
                    self.finish_cursor = (self.finish_cursor + 1) % self.rec_hw
                    scanned += 1
                    if self.recs[rid].flags & F_IN_USE:
                        status = self.finish(rid)
                        if status != FT_OK:
                            break
                        moved += 1
        finally:
            self.busy = False
        if status == FT_NOMEM:
            raise MemoryError("flow table: out of memory while finishing flows")
        return moved

    def take_finished(self, Py_ssize_t limit=-1) -> dict:
        """Finished flows as raw columns (RAW_FLOW_COLUMNS), at most `limit` of them (all
        when negative), removed from the buffer; rows in first-packet order (flows with the
        same first packet time in the order they finished)."""
        if self.busy:
            raise RuntimeError("FlowTable is in use by another thread")
        cdef Py_ssize_t n = self.n_done if limit < 0 else min(limit, self.n_done)
        cdef FlowRec *smaller
        cdef const FlowRec *recs = self.done + self.n_done - n
        cdef Py_ssize_t i
        first = np.empty(n, dtype=np.int64)
        cdef int64_t[::1] first_v = first
        for i in range(n):
            first_v[i] = recs[i].first_ts
        order = np.argsort(first, kind="stable").astype(np.intp)
        out = huge_page_arrays(n, RAW_FLOW_COLUMNS)   # fresh memory: in huge pages if big
        if n:
            export_records(recs, order, out)
        self.n_done -= n
        if self.n_done:
            return out
        if self.done_cap > 1 << 20:       # keep a moderate buffer: no regrowth churn
            smaller = <FlowRec *>realloc(self.done, 65536 * sizeof(FlowRec))
            if smaller != NULL:
                self.done = smaller
                self.done_cap = 65536
        return out


cdef void fill_cols(PacketCols *c, dict a) except *:
    check_dtypes(a)
    c.ts_ns = <const int64_t *>cnp.PyArray_DATA(a["ts_ns"])
    c.iface = <const uint32_t *>cnp.PyArray_DATA(a["iface"])
    c.wire_family = <const uint8_t *>cnp.PyArray_DATA(a["wire_family"])
    c.src = <const uint8_t *>cnp.PyArray_DATA(a["src"])
    c.dst = <const uint8_t *>cnp.PyArray_DATA(a["dst"])
    c.sport = <const uint16_t *>cnp.PyArray_DATA(a["sport"])
    c.dport = <const uint16_t *>cnp.PyArray_DATA(a["dport"])
    c.proto = <const uint8_t *>cnp.PyArray_DATA(a["proto"])
    c.tcp_flags = <const uint8_t *>cnp.PyArray_DATA(a["tcp_flags"])
    c.ip_len = <const uint32_t *>cnp.PyArray_DATA(a["ip_len"])
    c.payload_len = <const uint32_t *>cnp.PyArray_DATA(a["payload_len"])
    c.vlan = <const int32_t *>cnp.PyArray_DATA(a["vlan"])
    c.vlan_inner = <const int32_t *>cnp.PyArray_DATA(a["vlan_inner"])
    c.tunnel = <const uint8_t *>cnp.PyArray_DATA(a["tunnel"])
    c.frag = <const uint8_t *>cnp.PyArray_DATA(a["frag"])
    c.icmp_type = <const uint8_t *>cnp.PyArray_DATA(a["icmp_type"])
    c.icmp_code = <const uint8_t *>cnp.PyArray_DATA(a["icmp_code"])
    c.q_src = <const uint8_t *>cnp.PyArray_DATA(a["q_src"])
    c.q_dst = <const uint8_t *>cnp.PyArray_DATA(a["q_dst"])
    c.q_sport = <const uint16_t *>cnp.PyArray_DATA(a["q_sport"])
    c.q_dport = <const uint16_t *>cnp.PyArray_DATA(a["q_dport"])
    c.q_proto = <const uint8_t *>cnp.PyArray_DATA(a["q_proto"])
    c.status = <const uint8_t *>cnp.PyArray_DATA(a["status"])


cdef void pack_records(const PacketCols *c, ds_packet_record *out) noexcept nogil:
    """The classified packet records of the columns (the reader's store_record, from
    columns)."""
    cdef Py_ssize_t i
    cdef ds_packet_record *r
    cdef bint quoted
    for i in range(c.n):
        r = &out[i]
        quoted = (c.proto[i] == PROTO_ICMP or c.proto[i] == PROTO_ICMP6) and c.q_proto[i] != 0
        r.ts_ns = c.ts_ns[i]
        if quoted:
            memcpy(r.src, c.q_src + 16 * i, 16)
            memcpy(r.dst, c.q_dst + 16 * i, 16)
            r.sport = c.q_sport[i]
            r.dport = c.q_dport[i]
            r.key_proto = c.q_proto[i]
        else:
            memcpy(r.src, c.src + 16 * i, 16)
            memcpy(r.dst, c.dst + 16 * i, 16)
            r.sport = c.sport[i]
            r.dport = c.dport[i]
            r.key_proto = c.proto[i]
        r.quoted = quoted
        r.ip_len = c.ip_len[i]
        r.payload_len = c.payload_len[i]
        r.vlan = c.vlan[i]
        r.vlan_inner = c.vlan_inner[i]
        r.iface = c.iface[i]
        r.proto = c.proto[i]
        r.tcp_flags = c.tcp_flags[i]
        r.wire_family = c.wire_family[i]
        r.tunnel = c.tunnel[i]
        r.frag = c.frag[i]
        r.status = c.status[i]
        r.icmp_type = c.icmp_type[i]
        r.icmp_code = c.icmp_code[i]
        classify_record(r)


cdef void check_dtypes(dict a) except *:
    from analyzer.capture.columns import PACKET_COLUMNS
    for name in PACKET_INPUTS:
        dtype, shape = PACKET_COLUMNS[name][0], PACKET_COLUMNS[name][1]
        arr = a[name]
        if arr.dtype != np.dtype(dtype) or arr.shape[1:] != shape or len(arr) != len(a["ts_ns"]):
            raise TypeError(f"flow table: column {name!r} has dtype {arr.dtype} shape "
                            f"{arr.shape}, expected {np.dtype(dtype)} {shape}")


cdef void export_records(const FlowRec *recs, const Py_ssize_t[::1] order,
                         dict out) except *:
    """Row i of `out` <- recs[order[i]]."""
    cdef Py_ssize_t n = order.shape[0]
    cdef uint8_t[:, ::1] caddr = out["client_addr"]
    cdef uint8_t[:, ::1] saddr = out["server_addr"]
    cdef uint16_t[::1] cport = out["client_port"]
    cdef uint16_t[::1] sport = out["server_port"]
    cdef uint8_t[::1] proto = out["proto"]
    cdef uint8_t[::1] fam = out["wire_family"]
    cdef int32_t[::1] vlan = out["vlan"]
    cdef int32_t[::1] vlan_inner = out["vlan_inner"]
    cdef uint8_t[::1] tunnel = out["tunnel"]
    cdef uint32_t[::1] iface = out["iface"]
    cdef int64_t[::1] first = out["first_ts_ns"]
    cdef int64_t[::1] last = out["last_ts_ns"]
    cdef uint64_t[::1] pc = out["packets_c2s"]
    cdef uint64_t[::1] ps = out["packets_s2c"]
    cdef uint64_t[::1] ic = out["ip_bytes_c2s"]
    cdef uint64_t[::1] is_ = out["ip_bytes_s2c"]
    cdef uint64_t[::1] lc = out["payload_bytes_c2s"]
    cdef uint64_t[::1] ls = out["payload_bytes_s2c"]
    cdef uint8_t[::1] fc = out["tcp_flags_c2s"]
    cdef uint8_t[::1] fs = out["tcp_flags_s2c"]
    cdef uint8_t[::1] sc = out["sent_c2s"]
    cdef uint8_t[::1] ss = out["sent_s2c"]
    cdef uint8_t[::1] flags = out["flow_flags"]
    cdef uint32_t[::1] syn = out["syn_count"]
    cdef Py_ssize_t i
    cdef const FlowRec *r
    with nogil:
        for i in range(n):
            r = &recs[order[i]]
            if r.client_is_b:
                memcpy(&caddr[i, 0], r.b, 16)
                memcpy(&saddr[i, 0], r.a, 16)
                cport[i] = r.port_b
                sport[i] = r.port_a
            else:
                memcpy(&caddr[i, 0], r.a, 16)
                memcpy(&saddr[i, 0], r.b, 16)
                cport[i] = r.port_a
                sport[i] = r.port_b
            proto[i] = r.proto
            fam[i] = r.wire_family
            vlan[i] = r.vlan
            vlan_inner[i] = r.vlan_inner
            tunnel[i] = r.tunnel
            iface[i] = r.iface
            first[i] = r.first_ts
            last[i] = r.last_ts
            pc[i] = r.packets[0]
            ps[i] = r.packets[1]
            ic[i] = r.ip_bytes[0]
            is_[i] = r.ip_bytes[1]
            lc[i] = r.payload_bytes[0]
            ls[i] = r.payload_bytes[1]
            fc[i] = r.tcp_flags[0]
            fs[i] = r.tcp_flags[1]
            sc[i] = r.sent[0]
            ss[i] = r.sent[1]
            flags[i] = r.flags & ~F_IN_USE
            syn[i] = r.syn_count
