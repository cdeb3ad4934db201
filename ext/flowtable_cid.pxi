# Community ID v1 (corelight/community-id-spec) in C, for whole flow columns at once
# (included by flowtable.pyx). The hash input is at most 40 bytes, so SHA-1 (FIPS 180-4)
# is always a single 64-byte block here.

cdef enum:
    CID_TEXT_WIDTH = 30       # "1:" + 28 base64 characters

cdef const char *BASE64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


cdef inline uint32_t rotl32(uint32_t x, int n) noexcept nogil:
    return (x << n) | (x >> (32 - n))


cdef extern from "sha1_hw.h":
    int ds_cpu_has_sha1() noexcept nogil
    void ds_sha1_block_hw(const uint8_t *block, uint8_t *digest) noexcept nogil

# the CPU's SHA extensions when it has them (sha1_hardware() switches them off for tests)
cdef bint SHA1_HW = ds_cpu_has_sha1()


def sha1_hardware(on=None) -> bool:
    """Whether Community IDs use the CPU's SHA-1 instructions; `on` False makes them
    use the portable C loop, True the instructions again where the CPU has them."""
    global SHA1_HW
    if on is not None:
        SHA1_HW = bool(on) and ds_cpu_has_sha1()
    return SHA1_HW


cdef void sha1_one_block(const uint8_t *msg, int length, uint8_t *digest) noexcept nogil:
    """SHA-1 of a message shorter than 56 bytes (FIPS 180-4 section 6.1)."""
    cdef uint8_t block[64]
    memset(block, 0, 64)
    memcpy(block, msg, length)
    block[length] = 0x80
    block[62] = <uint8_t>((length * 8) >> 8)
    block[63] = <uint8_t>(length * 8)
    if SHA1_HW:
        ds_sha1_block_hw(block, digest)
    else:
        sha1_block_portable(block, digest)


cdef void sha1_block_portable(const uint8_t *block, uint8_t *digest) noexcept nogil:
    """The compression function over one padded block, in plain C."""
    cdef uint32_t w[80]
    cdef uint32_t h[5]
    cdef uint32_t a, b, c, d, e, f, k, tmp
    cdef int t
    for t in range(16):
        w[t] = ((<uint32_t>block[4 * t] << 24) | (<uint32_t>block[4 * t + 1] << 16)
                | (<uint32_t>block[4 * t + 2] << 8) | block[4 * t + 3])
    for t in range(16, 80):
        w[t] = rotl32(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1)
    h[0] = 0x67452301
    h[1] = 0xEFCDAB89
    h[2] = 0x98BADCFE
    h[3] = 0x10325476
    h[4] = 0xC3D2E1F0
    a, b, c, d, e = h[0], h[1], h[2], h[3], h[4]
    for t in range(80):
        if t < 20:
            f = (b & c) | (~b & d)
            k = 0x5A827999
        elif t < 40:
            f = b ^ c ^ d
            k = 0x6ED9EBA1
        elif t < 60:
            f = (b & c) | (b & d) | (c & d)
            k = 0x8F1BBCDC
        else:
            f = b ^ c ^ d
            k = 0xCA62C1D6
        tmp = rotl32(a, 5) + f + e + k + w[t]
        e = d
        d = c
        c = rotl32(b, 30)
        b = a
        a = tmp
    h[0] += a
    h[1] += b
    h[2] += c
    h[3] += d
    h[4] += e
    for t in range(5):
        digest[4 * t] = <uint8_t>(h[t] >> 24)
        digest[4 * t + 1] = <uint8_t>(h[t] >> 16)
        digest[4 * t + 2] = <uint8_t>(h[t] >> 8)
        digest[4 * t + 3] = <uint8_t>h[t]


cdef void base64_digest(const uint8_t *digest, char *out) noexcept nogil:
    """Standard base64 (RFC 4648) of 20 bytes: 27 characters and one '='."""
    cdef int i, j = 0
    cdef uint32_t v
    for i in range(0, 18, 3):
        v = (<uint32_t>digest[i] << 16) | (<uint32_t>digest[i + 1] << 8) | digest[i + 2]
        out[j] = BASE64[(v >> 18) & 63]
        out[j + 1] = BASE64[(v >> 12) & 63]
        out[j + 2] = BASE64[(v >> 6) & 63]
        out[j + 3] = BASE64[v & 63]
        j += 4
    v = (<uint32_t>digest[18] << 16) | (<uint32_t>digest[19] << 8)
    out[24] = BASE64[(v >> 18) & 63]
    out[25] = BASE64[(v >> 12) & 63]
    out[26] = BASE64[(v >> 6) & 63]
    out[27] = b'='


cdef int cid_input(uint8_t *buf, uint16_t seed, const uint8_t *src, const uint8_t *dst,
                   uint16_t sport, uint16_t dport, uint8_t proto, int width) noexcept nogil:
    """The spec's hash input with the smaller (address, port) endpoint first; its length."""
    cdef int off = 16 - width
    cdef bint keep = src_is_a(src, dst, sport, dport)
    cdef const uint8_t *lo = src if keep else dst
    cdef const uint8_t *hi = dst if keep else src
    cdef uint16_t lo_port = sport if keep else dport
    cdef uint16_t hi_port = dport if keep else sport
    buf[0] = <uint8_t>(seed >> 8)
    buf[1] = <uint8_t>seed
    memcpy(buf + 2, lo + off, width)
    memcpy(buf + 2 + width, hi + off, width)
    cdef int p = 2 + 2 * width
    buf[p] = proto
    buf[p + 1] = 0
    buf[p + 2] = <uint8_t>(lo_port >> 8)
    buf[p + 3] = <uint8_t>lo_port
    buf[p + 4] = <uint8_t>(hi_port >> 8)
    buf[p + 5] = <uint8_t>hi_port
    return p + 6


def community_id_text(const uint8_t[::1] proto, const uint8_t[:, ::1] src,
                      const uint8_t[:, ::1] dst, const uint16_t[::1] sport,
                      const uint16_t[::1] dport, const uint8_t[::1] family, int seed=0):
    """Community ID v1 strings (a numpy str array) of TCP/UDP flows; addresses (n, 16)
    with IPv4 mapped, hashed as 4 bytes where `family` is 4."""
    cdef Py_ssize_t n = proto.shape[0]
    cdef Py_ssize_t i
    cdef uint8_t buf[48]
    cdef uint8_t digest[20]
    cdef int length
    out = np.empty(n, dtype=f"S{CID_TEXT_WIDTH}")
    cdef char *text = <char *>cnp.PyArray_DATA(out)
    with nogil:
        for i in range(n):
            length = cid_input(buf, <uint16_t>seed, &src[i, 0], &dst[i, 0], sport[i],
                               dport[i], proto[i], 4 if family[i] == 4 else 16)
            sha1_one_block(buf, length, digest)
            text[i * CID_TEXT_WIDTH] = b'1'
            text[i * CID_TEXT_WIDTH + 1] = b':'
            base64_digest(digest, text + i * CID_TEXT_WIDTH + 2)
    return widen_ascii(text, n, CID_TEXT_WIDTH, CID_TEXT_WIDTH)
