# Numbering rows by value (included by flowtable.pyx): each row gets the number of its
# value among the distinct values, in the order they are first seen, through one
# open-addressing table without the GIL. The flow keys of stitching (`flow_key_codes`)
# and the byte rows verify factorises (`distinct_rows`: addresses, names) both use it.

from libc.string cimport memcmp

ctypedef uint64_t (*RowHash)(const void *rows, Py_ssize_t row) noexcept nogil
ctypedef bint (*SameRows)(const void *rows, Py_ssize_t x, Py_ssize_t y) noexcept nogil

cdef uint64_t ROW_MIX = 0x9E3779B97F4A7C15
cdef uint64_t FMIX_1 = 0xFF51AFD7ED558CCD  # MurmurHash3's 64-bit finaliser
cdef uint64_t FMIX_2 = 0xC4CEB9FE1A85EC53


cdef Py_ssize_t number_rows(const void *rows, RowHash hash_of, SameRows same, Py_ssize_t n,
                            int64_t *slots, uint64_t mask, int64_t *codes,
                            int64_t *firsts) noexcept nogil:
    """codes[row]: the number of the row's value, in first-seen order; firsts[code]: the
    value's first row (when `firsts` is not NULL). `slots` (mask + 1 of them, zeroed, at
    least 2 n) hold 1 + that first row. Returns how many distinct values there are."""
    cdef Py_ssize_t row
    cdef uint64_t i
    cdef int64_t first, next_code = 0
    for row in range(n):
        i = hash_of(rows, row) & mask
        while True:
            first = slots[i] - 1
            if first < 0:
                slots[i] = row + 1
                codes[row] = next_code
                if firsts != NULL:
                    firsts[next_code] = row
                next_code += 1
                break
            if same(rows, first, row):
                codes[row] = codes[first]
                break
            i = (i + 1) & mask
    return next_code


cdef uint64_t table_size(Py_ssize_t n):
    """A power of two of at least 2 n slots (16 at least): probes stay short."""
    cdef uint64_t size = 16
    while size < 2 * <uint64_t>n:
        size *= 2
    return size


cdef struct ByteRows:
    const uint8_t *data
    Py_ssize_t width


cdef uint64_t byte_row_hash(const void *rows, Py_ssize_t row) noexcept nogil:
    """Each 8-byte word of the row (the last one zero-padded) xored in and mixed."""
    cdef const ByteRows *r = <const ByteRows *>rows
    cdef const uint8_t *p = r.data + row * r.width
    cdef uint64_t h = ROW_MIX, word
    cdef Py_ssize_t at = 0
    while at < r.width:
        word = 0
        memcpy(&word, p + at, min(8, r.width - at))
        h = (h ^ word) * ROW_MIX
        h ^= h >> 29
        at += 8
    # The multiplies carry low bits upwards only: IPv4-mapped addresses (the same low
    # half in every row) would share their low bits, the table's slot. MurmurHash3's
    # finaliser mixes every bit into every other.
    h ^= h >> 33
    h *= FMIX_1
    h ^= h >> 33
    h *= FMIX_2
    return h ^ (h >> 33)


cdef bint same_byte_rows(const void *rows, Py_ssize_t x, Py_ssize_t y) noexcept nogil:
    cdef const ByteRows *r = <const ByteRows *>rows
    return memcmp(r.data + x * r.width, r.data + y * r.width, r.width) == 0


def distinct_rows(const uint8_t[:, ::1] rows):
    """(first row of each distinct row, in first-seen order; each row's number among
    them), both int64, of an (n, width) C-contiguous uint8 array."""
    cdef Py_ssize_t n = rows.shape[0]
    cdef ByteRows r
    r.width = rows.shape[1]
    r.data = &rows[0, 0] if n and r.width else NULL
    codes_array = np.zeros(n, dtype=np.int64)
    firsts_array = np.zeros(max(n, 1), dtype=np.int64)
    if n == 0:
        return firsts_array[:0], codes_array
    if r.width == 0:  # every row is the same (empty) row
        return firsts_array[:1], codes_array
    cdef uint64_t size = table_size(n)
    slots_array = np.zeros(size, dtype=np.int64)
    cdef int64_t[::1] slots = slots_array, codes = codes_array, firsts = firsts_array
    cdef Py_ssize_t distinct
    with nogil:
        distinct = number_rows(&r, byte_row_hash, same_byte_rows, n, &slots[0], size - 1,
                               &codes[0], &firsts[0])
    return firsts_array[:distinct].copy(), codes_array
