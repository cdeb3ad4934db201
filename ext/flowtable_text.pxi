# Address text for flow output, formatted by the C library (included by flowtable.pyx).

cdef extern from "arpa/inet.h" nogil:
    const char *inet_ntop(int af, const void *src, char *dst, unsigned int size)

cdef extern from "sys/socket.h":
    int AF_INET6

cdef enum:
    ADDR_TEXT_WIDTH = 46      # INET6_ADDRSTRLEN

cdef const char *HEX_DIGITS = b"0123456789abcdef"


cdef inline int format_ipv4(const uint8_t *a, char *out) noexcept nogil:
    """Dotted quad of 4 bytes; returns the length (glibc's inet_ntop is sprintf-based)."""
    cdef int i, n = 0
    cdef uint8_t v
    for i in range(4):
        v = a[i]
        if v >= 100:
            out[n] = <char>(48 + v // 100)
            n += 1
        if v >= 10:
            out[n] = <char>(48 + (v // 10) % 10)
            n += 1
        out[n] = <char>(48 + v % 10)
        n += 1
        if i < 3:
            out[n] = b'.'
            n += 1
    out[n] = 0
    return n


cdef inline int format_ipv6(const uint8_t *a, char *out) noexcept nogil:
    """RFC 5952 text of 16 bytes: lower-case hex, the first longest run of two or more
    zero groups as "::". Addresses with an embedded IPv4 tail (::a.b.c.d, ::ffff:a.b.c.d)
    go to inet_ntop, which prints them the way tshark and tcpdump do."""
    cdef uint16_t w[8]
    cdef int i, n = 0, best = -1, best_len = 0, run = 0, start = 0, shift
    cdef bint started
    for i in range(8):
        w[i] = (<uint16_t>a[2 * i] << 8) | a[2 * i + 1]
    for i in range(9):
        if i < 8 and w[i] == 0:
            if run == 0:
                start = i
            run += 1
        else:
            if run > best_len:
                best, best_len = start, run
            run = 0
    if best_len < 2:
        best = -1
    if best == 0 and (best_len == 6 or (best_len == 5 and w[5] == 0xFFFF)):
        inet_ntop(AF_INET6, a, out, ADDR_TEXT_WIDTH)
        return <int>strlen(out)
    i = 0
    while i < 8:
        if i == best:
            out[n] = b':'
            out[n + 1] = b':'
            n += 2
            i += best_len
            continue
        if i > 0 and i != best + best_len:
            out[n] = b':'
            n += 1
        started = False
        for shift in range(12, -4, -4):
            if started or (w[i] >> shift) & 15 or shift == 0:
                out[n] = HEX_DIGITS[(w[i] >> shift) & 15]
                n += 1
                started = True
        i += 1
    out[n] = 0
    return n


def format_addresses(const uint8_t[:, ::1] addrs, const uint8_t[::1] family):
    """Addresses as text (a numpy str array as wide as the longest): dotted quad where
    `family` is 4 (the last 4 bytes of the mapped address), IPv6 notation otherwise."""
    cdef Py_ssize_t n = addrs.shape[0]
    cdef Py_ssize_t i, width = 1, length
    ascii = np.zeros(n, dtype=f"S{ADDR_TEXT_WIDTH}")
    cdef char *buf = <char *>cnp.PyArray_DATA(ascii)
    cdef char *dst
    with nogil:
        for i in range(n):
            dst = buf + i * ADDR_TEXT_WIDTH
            if family[i] == 4:
                length = format_ipv4(&addrs[i, 12], dst)
            else:
                length = format_ipv6(&addrs[i, 0], dst)
            if length > width:
                width = length
    return widen_ascii(buf, n, ADDR_TEXT_WIDTH, width)


cdef object widen_ascii(const char *src, Py_ssize_t n, Py_ssize_t src_width,
                        Py_ssize_t width):
    """Fixed-width ASCII records -> a numpy str array of `width` (UCS4, zero padded);
    numpy's own bytes-to-str cast is several times slower."""
    out = np.zeros(n, dtype=f"U{width}")
    cdef uint32_t *dst = <uint32_t *>cnp.PyArray_DATA(out)
    cdef Py_ssize_t i, j
    with nogil:
        for i in range(n):
            for j in range(width):
                dst[i * width + j] = <uint8_t>src[i * src_width + j]
    return out


def narrow_ascii(cnp.ndarray texts):
    """Arrow's string layout of a C-contiguous numpy str array: (int32 offsets, n + 1 of
    them; uint8 characters), each text without numpy's zero padding. None when a
    character is not ASCII or the characters overflow 32-bit offsets (the caller then
    lets pyarrow convert)."""
    if texts.ndim != 1 or texts.dtype.kind != "U" or not cnp.PyArray_IS_C_CONTIGUOUS(texts):
        raise TypeError("narrow_ascii takes a C-contiguous 1-D numpy str array")
    cdef Py_ssize_t n = texts.shape[0]
    cdef Py_ssize_t width = texts.itemsize // 4
    cdef const uint32_t *codes = <const uint32_t *>cnp.PyArray_DATA(texts)
    offsets = np.empty(n + 1, dtype=np.int32)
    cdef int32_t *off = <int32_t *>cnp.PyArray_DATA(offsets)
    cdef Py_ssize_t total = ascii_lengths(codes, n, width, off)
    if total < 0:
        return None
    data = np.empty(total, dtype=np.uint8)
    cdef uint8_t *out = <uint8_t *>cnp.PyArray_DATA(data)
    cdef Py_ssize_t i, j
    with nogil:
        for i in range(n):
            for j in range(off[i + 1] - off[i]):
                out[off[i] + j] = <uint8_t>codes[i * width + j]
    return offsets, data


cdef Py_ssize_t ascii_lengths(const uint32_t *codes, Py_ssize_t n, Py_ssize_t width,
                              int32_t *off) noexcept nogil:
    """Fill the offsets (a text ends after its last non-zero code, as numpy's str_len
    counts); the total, or -1 for a non-ASCII character or more than 2**31 - 1 in all."""
    cdef Py_ssize_t i, j, length, total = 0
    off[0] = 0
    for i in range(n):
        length = width
        while length > 0 and codes[i * width + length - 1] == 0:
            length -= 1
        for j in range(length):
            if codes[i * width + j] > 127:
                return -1
        total += length
        if total > 2147483647:
            return -1
        off[i + 1] = <int32_t>total
    return total
