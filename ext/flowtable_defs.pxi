# Flow record, flag bits and the C helpers shared by the flow table (included by flowtable.pyx).
#
# A flow is keyed canonically: endpoint "a" is the smaller (address, port), "b" the larger,
# plus protocol, both VLAN ids and the tunnel kind. Per-direction counters are kept in
# role order (0 = client/originator, 1 = server/responder); `client_is_b` maps the
# canonical direction of a packet to its role.

from libc.stdint cimport INT64_MAX, int16_t, int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t

cdef extern from *:
    """
    #include <stdint.h>
    #include <stdlib.h>
    #include <string.h>
    #include <sys/mman.h>
    #define FT_PREFETCH(p) __builtin_prefetch((const void *)(p), 0, 3)
    /* Ask for transparent huge pages on the big random-access arrays (index, records):
       fewer TLB misses and page faults. A hint only; errors are ignored. Only the 2 MiB
       pages inside [p, p + n) can be huge, and only those not touched yet. */
    static void ft_advise_huge(void *p, size_t n) {
    #ifdef MADV_HUGEPAGE
        const uintptr_t huge = (uintptr_t)2 << 20;
        uintptr_t start = ((uintptr_t)p + huge - 1) & ~(huge - 1);
        uintptr_t end = ((uintptr_t)p + n) & ~(huge - 1);
        if (end > start) madvise((void *)start, end - start, MADV_HUGEPAGE);
    #endif
    }
    /* Flow records start on a cache line, so that each takes exactly two. An array of
       2 MiB or more starts on a 2 MiB boundary and is advised before its first touch,
       so that all of it can be huge pages (one fault per 2 MiB instead of 512). */
    static void *ft_alloc_lines(size_t n) {
        const size_t huge = (size_t)2 << 20;
        void *p = NULL;
        if (n >= huge) {
            if (posix_memalign(&p, huge, n) != 0) return NULL;
            ft_advise_huge(p, n);
            return p;
        }
        return posix_memalign(&p, 64, n ? n : 64) == 0 ? p : NULL;
    }
    static void *ft_calloc_lines(size_t n) {
        void *p = ft_alloc_lines(n);
        if (p != NULL) memset(p, 0, n ? n : 64);
        return p;
    }
    static void *ft_grow_lines(void *old, size_t old_n, size_t n) {
        void *p = ft_alloc_lines(n);
        if (p != NULL) { memcpy(p, old, old_n < n ? old_n : n); free(old); }
        return p;
    }
    """
    void FT_PREFETCH(const void *p) noexcept nogil
    void *ft_alloc_lines(size_t n) noexcept nogil
    void *ft_calloc_lines(size_t n) noexcept nogil
    void *ft_grow_lines(void *old, size_t old_n, size_t n) noexcept nogil


cdef struct FlowRec:             # 128 bytes: two cache lines (checked at import)
    uint32_t tag             # high 32 bits of the key hash, as in the flow's index slot
    uint16_t port_a
    uint16_t port_b
    uint8_t a[16]
    uint8_t b[16]
    int16_t vlan             # 12-bit VLAN ids, or -1
    int16_t vlan_inner
    uint8_t proto
    uint8_t tunnel
    uint8_t wire_family
    uint8_t client_is_b
    uint8_t flags            # F_* bits below
    uint8_t tcp_flags[2]     # OR of TCP flag bytes per role
    uint8_t sent[2]          # S_* bits per role
    uint32_t syn_count       # pure SYNs sent by the client
    uint32_t iface
    int64_t first_ts
    int64_t last_ts
    uint64_t packets[2]
    uint64_t ip_bytes[2]
    uint64_t payload_bytes[2]


# FlowRec.flags
cdef enum:
    F_MIDSTREAM = 1          # the flow's first packet is not the client's pure SYN (TCP)
    F_GUESSED = 2            # client guessed from the ports
    F_CLOSED = 4             # RST seen, or FIN seen from both sides
    F_ICMP_UNREACH = 8       # an ICMP port unreachable quoted a client datagram
    F_FIRST_SYNACK = 16      # the flow's first packet was a SYN-ACK (client known)
    F_IN_USE = 128

# FlowRec.sent (per role)
cdef enum:
    S_SYN = 1                # pure SYN (SYN without ACK)
    S_SYNACK = 2
    S_FIN = 4
    S_RST = 8
    S_DATA = 16              # a packet with transport payload
    S_PURE_ACK = 32          # a bare ACK: no SYN, FIN, RST or payload (Zeek history 'A')
    S_FIRST_SYN = 64         # this role's first packet was a pure SYN

# TCP flag bits
cdef enum:
    TH_FIN = 0x01
    TH_SYN = 0x02
    TH_RST = 0x04
    TH_ACK = 0x10

# Status codes of the nogil loop
cdef enum:
    FT_OK = 0
    FT_NOMEM = 1

cdef enum:
    PROTO_ICMP = 1
    PROTO_TCP = 6
    PROTO_UDP = 17
    PROTO_ICMP6 = 58
