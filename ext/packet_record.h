/* The packet record: what the flow table needs of one packet (and what the capture
 * statistics count), as one 96-byte row, with the packet's flow key already classified
 * and hashed (`kind`, `key_hash`: ext/packet_key.pxi) while its bytes are in cache. The reader writes these rows instead of the
 * 30 packet columns when only flows are wanted (Parser.bind_records); the flow table
 * reads them (FlowTable.update_records). One write stream and one read stream per
 * packet instead of thirty.
 *
 * For an ICMP/ICMPv6 error that quotes an IP header (`quoted` = 1) the addresses and
 * ports are the quoted packet's and `key_proto` is its protocol; otherwise they are the
 * packet's own and `key_proto` = `proto`. analyzer/capture/records.py mirrors this
 * layout as a numpy dtype (keep both in step; the offsets are checked below and there).
 */
#ifndef DUALSTACK_PACKET_RECORD_H
#define DUALSTACK_PACKET_RECORD_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int64_t ts_ns;          /*  0 */
    uint8_t src[16];        /*  8 */
    uint8_t dst[16];        /* 24 */
    uint32_t ip_len;        /* 40 */
    uint32_t payload_len;   /* 44 */
    int32_t vlan;           /* 48 */
    int32_t vlan_inner;     /* 52 */
    uint32_t iface;         /* 56 */
    uint32_t caplen;        /* 60 */
    uint32_t wirelen;       /* 64 */
    uint16_t sport;         /* 68 */
    uint16_t dport;         /* 70 */
    uint16_t linktype;      /* 72 */
    uint8_t proto;          /* 74 */
    uint8_t key_proto;      /* 75 */
    uint8_t tcp_flags;      /* 76 */
    uint8_t wire_family;    /* 77 */
    uint8_t tunnel;         /* 78 */
    uint8_t frag;           /* 79 */
    uint8_t status;         /* 80 */
    uint8_t icmp_type;      /* 81 */
    uint8_t icmp_code;      /* 82 */
    uint8_t quoted;         /* 83 */
    uint8_t kind;           /* 84: what the flow table does with it (PK_* of packet_key.pxi) */
    uint8_t pad[3];         /* 85 */
    uint64_t key_hash;      /* 88: hash of the canonical flow key (when kind != PK_SKIP) */
} ds_packet_record;

_Static_assert(sizeof(ds_packet_record) == 96, "packet record is 96 bytes");
_Static_assert(offsetof(ds_packet_record, wirelen) == 64, "packet record layout");
_Static_assert(offsetof(ds_packet_record, dport) == offsetof(ds_packet_record, sport) + 2,
               "sport and dport are read as one word");
_Static_assert(offsetof(ds_packet_record, vlan_inner) == offsetof(ds_packet_record, vlan) + 4,
               "both VLAN ids are read as one word");
_Static_assert(offsetof(ds_packet_record, tcp_flags) == 76, "packet record layout");
_Static_assert(offsetof(ds_packet_record, quoted) == 83, "packet record layout");
_Static_assert(offsetof(ds_packet_record, key_hash) == 88, "packet record layout");

#define DS_PACKET_RECORD_SIZE ((int)sizeof(ds_packet_record))

#endif
