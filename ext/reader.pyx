# cython: language_level=3
"""Capture bytes -> packet columns: the Cython core of analyzer.capture.

One extension module assembled from one file per job:

    reader_bytes.h        unaligned, byte-order-aware loads
    reader_types.pxi      the decoded packet, columns, state, status codes
    packet_record.pxi     the packet record shared with the flow table (packet_record.h)
    packet_key.pxi        its flow key: canonical order and hash (also the flow table's)
    reader_tally.pxi      capture statistics counted in the loop (records mode)
    reader_columns.pxi    store a decoded packet into the batch columns, or as a record
    reader_link.pxi       link-layer decoders and their dispatch table
    reader_frag.pxi       the bounded fragment table
    reader_ip_fields.pxi  IPv4-mapped stores, IPv6 extension-header lengths
    reader_l4.pxi         TCP, UDP, ICMP/ICMPv6 (with quoted headers)
    reader_ip.pxi         IPv4, IPv6, fragments, IP-in-IP
    reader_fast.pxi       the fast path: common packets straight into packet records
    reader_pcap.pxi       classic pcap framing
    reader_pcapng.pxi     pcapng framing

The framing loops run without the GIL and return a result code; Parser.run
hands it to Python, which raises (once) where it must.
"""

cimport numpy as cnp

include "reader_types.pxi"
include "reader_tally.pxi"
include "reader_columns.pxi"
include "reader_link.pxi"
include "reader_frag.pxi"
include "reader_ip_fields.pxi"
include "reader_l4.pxi"
include "reader_ip.pxi"
include "reader_fast.pxi"
include "reader_pcap.pxi"
include "reader_pcapng.pxi"
include "reader_guard.pxi"

cnp.import_array()
init_link_table()
init_pow10()

FORMAT_PCAP = FMT_PCAP
FORMAT_PCAPNG = FMT_PCAPNG
RESULT_BATCH_FULL = R_BATCH_FULL
RESULT_END = R_END
RESULT_NEED_MORE = R_NEED_MORE
RESULT_ERROR = R_ERROR
MAX_RECORD_BYTES = MAX_RECORD
PACKET_RECORD_SIZE = DS_PACKET_RECORD_SIZE
SUPPORTED_LINKTYPES = tuple(i for i in range(LINK_TABLE_SIZE) if LINK_TABLE[i] != NULL)

_COLUMN_ITEMSIZE = {
    "ts_ns": 8, "offset": 8, "iface": 4, "linktype": 2, "caplen": 4, "wirelen": 4,
    "wire_family": 1, "src": 16, "dst": 16, "sport": 2, "dport": 2, "proto": 1,
    "tcp_flags": 1, "seq": 4, "ack": 4, "window": 2, "ip_len": 4, "payload_len": 4,
    "vlan": 4, "vlan_inner": 4, "tunnel": 1, "frag": 1, "icmp_type": 1, "icmp_code": 1,
    "q_src": 16, "q_dst": 16, "q_sport": 2, "q_dport": 2, "q_proto": 1, "status": 1,
}


def pcap_record_starts(const uint8_t[::1] data, Py_ssize_t chunk_size) -> cnp.ndarray:
    """Offsets where the chunks of a whole classic pcap file (`data`, its header valid)
    start: 24, then the first record at or after `chunk_size` bytes past the previous
    start, found by a walk over the record headers (nogil). See analyzer.capture.cuts."""
    cdef size_t size = <size_t>data.shape[0]
    cdef Py_ssize_t room, count
    cdef cnp.ndarray starts
    if chunk_size < 1 or size < 24:
        raise ValueError("chunk_size must be at least 1 and data hold a pcap file header")
    room = <Py_ssize_t>((size - 24) // <size_t>chunk_size) + 2
    starts = cnp.PyArray_ZEROS(1, [room], cnp.NPY_INT64, 0)
    with nogil:
        count = pcap_walk_starts(&data[0], size, <size_t>chunk_size,
                                 <int64_t*>cnp.PyArray_DATA(starts), room)
    return starts[:count]


cdef void* column_pointer(dict columns, str name, Py_ssize_t rows) except NULL:
    cdef cnp.ndarray array = columns[name]
    if not cnp.PyArray_IS_C_CONTIGUOUS(array) or array.shape[0] < rows:
        raise ValueError(f"column {name!r} must be C-contiguous with {rows} rows")
    if array.itemsize * (array.size // array.shape[0]) != _COLUMN_ITEMSIZE[name]:
        raise ValueError(f"column {name!r} has the wrong dtype {array.dtype}")
    return cnp.PyArray_DATA(array)


cdef class Parser:
    """State of one capture being parsed: format, byte order, interfaces, fragments.

    bind() the batch columns, then run() over a byte window as often as needed.
    """

    cdef State s
    cdef Cols cols
    cdef Tally tally
    cdef bint tally_ready
    cdef Py_ssize_t capacity
    cdef dict bound

    def __cinit__(self, int fmt) -> None:
        memset(&self.s, 0, sizeof(State))
        if fmt != FMT_PCAP and fmt != FMT_PCAPNG:
            raise ValueError(f"unknown capture format {fmt}")
        self.s.format = fmt
        self.s.frags = <FragSlot*>calloc(FRAG_SLOTS, sizeof(FragSlot))
        if self.s.frags == NULL or add_interface(&self.s) < 0:
            raise MemoryError()
        self.s.n_ifaces = 0
        self.capacity = 0

    def __dealloc__(self) -> None:
        free(self.s.frags)
        free(self.s.ifaces)
        if self.tally_ready:
            tally_free(&self.tally)

    def bind(self, dict columns, Py_ssize_t rows) -> None:
        """Fill these arrays (PACKET_COLUMNS keys) from now on, up to `rows` rows."""
        self.cols.ts_ns = <int64_t*>column_pointer(columns, "ts_ns", rows)
        self.cols.offset = <int64_t*>column_pointer(columns, "offset", rows)
        self.cols.iface = <uint32_t*>column_pointer(columns, "iface", rows)
        self.cols.linktype = <uint16_t*>column_pointer(columns, "linktype", rows)
        self.cols.caplen = <uint32_t*>column_pointer(columns, "caplen", rows)
        self.cols.wirelen = <uint32_t*>column_pointer(columns, "wirelen", rows)
        self.cols.wire_family = <uint8_t*>column_pointer(columns, "wire_family", rows)
        self.cols.src = <uint8_t*>column_pointer(columns, "src", rows)
        self.cols.dst = <uint8_t*>column_pointer(columns, "dst", rows)
        self.cols.sport = <uint16_t*>column_pointer(columns, "sport", rows)
        self.cols.dport = <uint16_t*>column_pointer(columns, "dport", rows)
        self.cols.proto = <uint8_t*>column_pointer(columns, "proto", rows)
        self.cols.tcp_flags = <uint8_t*>column_pointer(columns, "tcp_flags", rows)
        self.cols.seq = <uint32_t*>column_pointer(columns, "seq", rows)
        self.cols.ack = <uint32_t*>column_pointer(columns, "ack", rows)
        self.cols.window = <uint16_t*>column_pointer(columns, "window", rows)
        self.cols.ip_len = <uint32_t*>column_pointer(columns, "ip_len", rows)
        self.cols.payload_len = <uint32_t*>column_pointer(columns, "payload_len", rows)
        self.cols.vlan = <int32_t*>column_pointer(columns, "vlan", rows)
        self.cols.vlan_inner = <int32_t*>column_pointer(columns, "vlan_inner", rows)
        self.cols.tunnel = <uint8_t*>column_pointer(columns, "tunnel", rows)
        self.cols.frag = <uint8_t*>column_pointer(columns, "frag", rows)
        self.cols.icmp_type = <uint8_t*>column_pointer(columns, "icmp_type", rows)
        self.cols.icmp_code = <uint8_t*>column_pointer(columns, "icmp_code", rows)
        self.cols.q_src = <uint8_t*>column_pointer(columns, "q_src", rows)
        self.cols.q_dst = <uint8_t*>column_pointer(columns, "q_dst", rows)
        self.cols.q_sport = <uint16_t*>column_pointer(columns, "q_sport", rows)
        self.cols.q_dport = <uint16_t*>column_pointer(columns, "q_dport", rows)
        self.cols.q_proto = <uint8_t*>column_pointer(columns, "q_proto", rows)
        self.cols.status = <uint8_t*>column_pointer(columns, "status", rows)
        self.cols.records = NULL
        self.bound = columns
        self.capacity = rows

    def bind_records(self, cnp.ndarray records) -> None:
        """Write packet records (ext/packet_record.h) into this C-contiguous array of
        PACKET_RECORD_SIZE-byte items from now on, one per packet, instead of columns."""
        if not cnp.PyArray_IS_C_CONTIGUOUS(records) or records.ndim != 1 \
                or records.itemsize != DS_PACKET_RECORD_SIZE:
            raise ValueError(f"records must be a C-contiguous 1-D array of "
                             f"{DS_PACKET_RECORD_SIZE}-byte items")
        if not self.tally_ready:
            if tally_init(&self.tally) < 0:
                tally_free(&self.tally)
                raise MemoryError()
            self.tally_ready = True
        memset(&self.cols, 0, sizeof(Cols))
        self.cols.records = <ds_packet_record*>cnp.PyArray_DATA(records)
        self.cols.tally = &self.tally
        self.bound = {"records": records}
        self.capacity = records.shape[0]

    def run(self, const uint8_t[::1] window, Py_ssize_t pos, int64_t base, Py_ssize_t row):
        """Parse window[pos:] (window[0] is input byte `base`) into rows from `row`.

        Returns (result, pos, row): RESULT_BATCH_FULL, RESULT_END (all bytes used),
        RESULT_NEED_MORE (a record continues past the window) or RESULT_ERROR (see
        error()); pos is where parsing stopped, row the next free row.
        """
        cdef size_t p = <size_t>pos
        cdef size_t end = <size_t>window.shape[0]
        cdef const uint8_t* buf = &window[0] if end > 0 else NULL
        cdef int result
        if self.bound is None:
            raise RuntimeError("bind() the columns before run()")
        if pos < 0 or p > end or row < 0 or row > self.capacity:
            raise ValueError("position or row out of range")
        if end == p:
            return R_END, pos, row
        with nogil:
            result = self._run(buf, &p, end, base, &row)
        return result, <Py_ssize_t>p, row

    cdef int _run(self, const uint8_t* buf, size_t* p, size_t end, int64_t base,
                  Py_ssize_t* row) noexcept nogil:
        cdef int result
        if self.s.format == FMT_PCAP:
            if not self.s.header_done:
                result = pcap_file_header(&self.s, buf, p[0], end, base)
                if result != R_END:
                    return result
                p[0] += 24
            return run_pcap(&self.s, buf, p, end, base, &self.cols, row, self.capacity)
        return run_pcapng(&self.s, buf, p, end, base, &self.cols, row, self.capacity)

    @property
    def fast_path(self) -> bool:
        """Records mode: decode common packets straight into their records (the
        default). False sends every packet through the general decoders, which must
        give the same records (tests/test_reader_fastpath.py)."""
        return not self.s.general_only

    @fast_path.setter
    def fast_path(self, bint on) -> None:
        self.s.general_only = not on

    def take_tally(self) -> dict:
        """What CaptureStats counts, for the packet records written since the last call
        (records mode only; CaptureStats.add_tally takes it)."""
        if not self.tally_ready:
            raise RuntimeError("take_tally() needs bind_records()")
        return tally_take(&self.tally)

    def resync(self, const uint8_t[::1] window, Py_ssize_t pos) -> int:
        """The first offset >= pos in window where records plausibly resume, or -1."""
        cdef size_t end = <size_t>window.shape[0]
        cdef Py_ssize_t found = -1
        if pos < 0 or <size_t>pos >= end:
            return -1
        with nogil:
            if self.s.format == FMT_PCAP:
                found = pcap_resync(&self.s, &window[0], <size_t>pos, end)
            else:
                found = pcapng_resync(&self.s, &window[0], <size_t>pos, end)
        self.s.err = E_NONE
        return found

    def error(self) -> tuple:
        """(code, byte offset, value a, value b) of the last RESULT_ERROR."""
        return self.s.err, self.s.err_offset, self.s.err_a, self.s.err_b

    def interfaces(self) -> list:
        """[(linktype, snaplen)] of the current pcap file or pcapng section."""
        return [(self.s.ifaces[i].linktype, self.s.ifaces[i].snaplen)
                for i in range(self.s.n_ifaces)]


# the smallest page size: one touch per page of any size
cdef size_t PAGE_STRIDE = 4096


def fault_in(const uint8_t[::1] data, Py_ssize_t start, Py_ssize_t end) -> int:
    """Touch one byte of every page of data[start:end] (nogil), so that its page faults
    are taken here, on the caller's thread, and not by the parser that reads them next
    (analyzer.capture.prefault). Returns the bytes' sum, which keeps the loads."""
    cdef size_t size = <size_t>data.shape[0]
    cdef size_t p, stop
    cdef unsigned int total = 0
    if start < 0 or end < start:
        raise ValueError("start and end must satisfy 0 <= start <= end")
    stop = min(<size_t>end, size)
    p = <size_t>start
    if p >= stop:
        return 0
    with nogil:
        while p < stop:
            total += (<const volatile uint8_t*>&data[0])[p]
            p += PAGE_STRIDE
    return total
