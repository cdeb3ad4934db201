# Shared C types of the capture reader: byte loads, the decoded packet, column
# pointers, interface and reader state, and the status / result / error codes.

from libc.stdint cimport int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.string cimport memcpy, memset
from libc.stdlib cimport calloc, free, realloc

include "packet_record.pxi"
include "packet_key.pxi"


cdef extern from "reader_bytes.h" nogil:
    uint16_t be16(const uint8_t* p)
    uint32_t be32(const uint8_t* p)
    uint32_t le32(const uint8_t* p)
    uint16_t ld16(const uint8_t* p, int big)
    uint32_t ld32(const uint8_t* p, int big)
    uint64_t ld64(const uint8_t* p, int big)
    uint32_t ds_bswap32(uint32_t v)
    void ds_prefetch_record "DS_PREFETCH_RECORD"(const uint8_t* buf, size_t pos, size_t end)
    void ds_store64(uint8_t* p, uint64_t v)
    uint64_t ds_mapped_word(const uint8_t* v4)


# Per-packet status: 0 ok, else why decoding stopped (analyzer/capture/status.py
# names them; keep both in the same order).
cdef enum PacketStatus:
    ST_OK = 0
    ST_NOT_IP = 1
    ST_LINKTYPE_SKIPPED = 2
    ST_BAD_INTERFACE = 3
    ST_TRUNCATED_LINK = 4
    ST_TOO_MANY_LINK_TAGS = 5
    ST_BAD_IP_VERSION = 6
    ST_TRUNCATED_IP = 7
    ST_BAD_IP_HEADER_LENGTH = 8
    ST_BAD_IP_LENGTH = 9
    ST_TRUNCATED_EXT_HEADER = 10
    ST_BAD_EXT_HEADER_LENGTH = 11
    ST_EXT_HEADER_CHAIN_TOO_LONG = 12
    ST_TRUNCATED_L4 = 13
    ST_BAD_TCP_HEADER_LENGTH = 14
    ST_BAD_UDP_LENGTH = 15

STATUS_NAMES = (
    "ok", "not_ip", "linktype_skipped", "bad_interface", "truncated_link",
    "too_many_link_tags", "bad_ip_version", "truncated_ip", "bad_ip_header_length",
    "bad_ip_length", "truncated_ext_header", "bad_ext_header_length",
    "ext_header_chain_too_long", "truncated_l4", "bad_tcp_header_length",
    "bad_udp_length",
)

# Why a framing run stopped.
cdef enum RunResult:
    R_BATCH_FULL = 0
    R_END = 1
    R_NEED_MORE = 2
    R_ERROR = 3

# Framing errors (the Python driver turns them into messages, once).
cdef enum FrameError:
    E_NONE = 0
    E_PCAP_VERSION = 1
    E_PCAP_LINKTYPE_RESERVED = 2
    E_RECORD_LENGTH = 3
    E_SHB_BYTE_ORDER = 4
    E_PCAPNG_VERSION = 5
    E_BLOCK_LENGTH = 6
    E_BLOCK_TRAILER = 7
    E_OPTION_LENGTH = 8
    E_PACKET_LENGTH = 9
    E_TOO_MANY_INTERFACES = 10
    E_BLOCK_TOO_SHORT = 11

# Where the network layer starts, as the link decoder found it.
cdef enum NetKind:
    NET_OTHER = 0
    NET_IPV4 = 4
    NET_IPV6 = 6
    NET_ANY_IP = 1

cdef enum Tunnel:
    TUN_NONE = 0
    TUN_6IN4 = 1
    TUN_4IN6 = 2
    TUN_4IN4 = 3
    TUN_6IN6 = 4

cdef enum Format:
    FMT_PCAP = 1
    FMT_PCAPNG = 2

cdef uint32_t MAX_RECORD = 64 * 1024 * 1024
cdef uint32_t PCAP_MAX_SNAPLEN = 262144
cdef uint32_t MAX_INTERFACES = 1 << 16


# The decoded packet: the packet record's fields (what the flow table and the
# statistics need, decoded in place) and the rest of the packet columns.
cdef struct Pkt:
    ds_packet_record r
    int64_t offset
    uint32_t seq
    uint32_t ack
    uint16_t window
    uint16_t q_sport
    uint16_t q_dport
    uint8_t q_proto
    uint8_t q_src[16]
    uint8_t q_dst[16]


cdef struct Cols:
    int64_t* ts_ns
    int64_t* offset
    uint32_t* iface
    uint16_t* linktype
    uint32_t* caplen
    uint32_t* wirelen
    uint8_t* wire_family
    uint8_t* src
    uint8_t* dst
    uint16_t* sport
    uint16_t* dport
    uint8_t* proto
    uint8_t* tcp_flags
    uint32_t* seq
    uint32_t* ack
    uint16_t* window
    uint32_t* ip_len
    uint32_t* payload_len
    int32_t* vlan
    int32_t* vlan_inner
    uint8_t* tunnel
    uint8_t* frag
    uint8_t* icmp_type
    uint8_t* icmp_code
    uint8_t* q_src
    uint8_t* q_dst
    uint16_t* q_sport
    uint16_t* q_dport
    uint8_t* q_proto
    uint8_t* status
    ds_packet_record* records   # not NULL: write packet records instead of the columns
    void* tally                 # records mode: the Tally (reader_tally.pxi) to count in


cdef struct LinkOut:
    uint32_t off        # network header offset in the frame
    int kind            # NetKind


# One pcapng interface (IDB) or the pcap file's single interface.
cdef struct Iface:
    uint32_t linktype
    uint32_t snaplen
    int ts_binary       # if_tsresol high bit: 2^-exp instead of 10^-exp
    uint32_t ts_exp
    int64_t ts_offset_ns


cdef struct FragSlot:
    uint8_t key[40]     # src(16) dst(16) id(4) proto(1) family(1) pad(2)
    uint8_t used
    uint16_t sport
    uint16_t dport


cdef uint32_t FRAG_SLOTS = 4096


cdef struct State:
    int format          # Format
    int header_done     # pcap: global header parsed
    int big             # file / current section is big-endian
    int nanos           # pcap: nanosecond timestamps
    int in_section      # pcapng: an SHB was seen
    int general_only    # records mode: no fast path (reader_fast.pxi), for checking it
    Iface* ifaces
    uint32_t n_ifaces
    uint32_t cap_ifaces
    int64_t last_ts
    FragSlot* frags
    int err             # FrameError
    int64_t err_offset
    uint64_t err_a
    uint64_t err_b
