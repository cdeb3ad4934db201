# Address text for flow output, formatted by the C library (included by flowtable.pyx).

cdef extern from "arpa/inet.h" nogil:
    const char *inet_ntop(int af, const void *src, char *dst, unsigned int size)

cdef extern from "sys/socket.h":
    int AF_INET
    int AF_INET6

cdef enum:
    ADDR_TEXT_WIDTH = 46      # INET6_ADDRSTRLEN


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
                inet_ntop(AF_INET, &addrs[i, 12], dst, ADDR_TEXT_WIDTH)
            else:
                inet_ntop(AF_INET6, &addrs[i, 0], dst, ADDR_TEXT_WIDTH)
            length = strlen(dst)
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
