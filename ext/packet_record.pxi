# The packet record shared by the reader and the flow table (ext/packet_record.h).

from libc.stdint cimport int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t

cdef extern from "packet_record.h" nogil:
    ctypedef struct ds_packet_record:
        int64_t ts_ns
        uint8_t src[16]
        uint8_t dst[16]
        uint32_t ip_len
        uint32_t payload_len
        int32_t vlan
        int32_t vlan_inner
        uint32_t iface
        uint32_t caplen
        uint32_t wirelen
        uint16_t sport
        uint16_t dport
        uint16_t linktype
        uint8_t proto
        uint8_t key_proto
        uint8_t tcp_flags
        uint8_t wire_family
        uint8_t tunnel
        uint8_t frag
        uint8_t status
        uint8_t icmp_type
        uint8_t icmp_code
        uint8_t quoted
        uint8_t kind
        uint64_t key_hash
    int DS_PACKET_RECORD_SIZE
