# cython: language_level=3
"""zstd frames decoded by the system's libzstd, without the GIL.

The library is opened at import (dlopen: no headers needed to build, and a machine
without it keeps the `zstandard` package's decoder: `AVAILABLE` is False). Its stable
streaming API is declared here from the zstd manual (lib/zstd.h, "Streaming
decompression"); ZSTD_decompressStream returns 0 once a frame is decoded and flushed,
a hint of the next input size while one is open, or an error code.

`Decoder` decodes the compressed bytes it is given (a whole memory-mapped file, or
chunks read from a pipe), frame after frame, straight into the caller's buffer: one call
fills it, with no return to Python per 128 KiB block."""

from posix.dlfcn cimport RTLD_LOCAL, RTLD_NOW, dlopen, dlsym

ctypedef struct ZstdIn:
    const void* src
    size_t size
    size_t pos

ctypedef struct ZstdOut:
    void* dst
    size_t size
    size_t pos

ctypedef void* (*create_fn)() noexcept nogil
ctypedef size_t (*free_fn)(void*) noexcept nogil
ctypedef size_t (*stream_fn)(void*, ZstdOut*, ZstdIn*) noexcept nogil
ctypedef unsigned (*is_error_fn)(size_t) noexcept nogil
ctypedef const char* (*error_name_fn)(size_t) noexcept nogil
ctypedef int (*error_code_fn)(size_t) noexcept nogil

cdef create_fn zstd_create = NULL
cdef free_fn zstd_free = NULL
cdef stream_fn zstd_stream = NULL
cdef is_error_fn zstd_is_error = NULL
cdef error_name_fn zstd_error_name = NULL
cdef error_code_fn zstd_error_code = NULL

# lib/zstd_errors.h: ZSTD_error_frameParameter_windowTooLarge. libzstd decodes windows of
# at most 128 MiB unless told otherwise, as the zstd command does without --long/--memory.
WINDOW_TOO_LARGE = 16

# sonames: Linux (Debian's libzstd1), macOS
LIBRARY_NAMES = (b"libzstd.so.1", b"libzstd.1.dylib")


cdef bint load_library():
    global zstd_create, zstd_free, zstd_stream, zstd_is_error, zstd_error_name
    global zstd_error_code
    cdef void* handle = NULL
    cdef bytes name
    for name in LIBRARY_NAMES:
        handle = dlopen(name, RTLD_NOW | RTLD_LOCAL)
        if handle != NULL:
            break
    if handle == NULL:
        return False
    zstd_create = <create_fn>dlsym(handle, "ZSTD_createDCtx")
    zstd_free = <free_fn>dlsym(handle, "ZSTD_freeDCtx")
    zstd_stream = <stream_fn>dlsym(handle, "ZSTD_decompressStream")
    zstd_is_error = <is_error_fn>dlsym(handle, "ZSTD_isError")
    zstd_error_name = <error_name_fn>dlsym(handle, "ZSTD_getErrorName")
    zstd_error_code = <error_code_fn>dlsym(handle, "ZSTD_getErrorCode")
    return (zstd_create != NULL and zstd_free != NULL and zstd_stream != NULL
            and zstd_is_error != NULL and zstd_error_name != NULL
            and zstd_error_code != NULL)


AVAILABLE = load_library()

cdef class Decoder:
    """Decodes a zstd stream given in pieces (`decode`): frames in sequence, skippable
    ones skipped. Corrupt data raises OSError with libzstd's reason and the compressed
    offset, once the bytes decoded before it have been returned (and on every later
    call); `frame_open` tells whether the input so far ends inside a frame."""

    cdef void* dctx
    cdef readonly bint frame_open
    cdef readonly unsigned long long consumed   # compressed bytes decoded so far
    cdef size_t error_code                      # nonzero once decoding failed

    def __cinit__(self):
        if not AVAILABLE:
            raise OSError("libzstd could not be loaded")
        self.dctx = zstd_create()
        if self.dctx == NULL:
            raise MemoryError("ZSTD_createDCtx failed")
        self.frame_open = False
        self.consumed = 0
        self.error_code = 0

    def __dealloc__(self):
        if self.dctx != NULL:
            zstd_free(self.dctx)

    def decode(self, const unsigned char[::1] source, size_t pos,
               unsigned char[::1] target) -> tuple:
        """Decode `source[pos:]` into `target` until it is full or the source is used up
        (a frame's last bytes may still come out of a call with nothing left to read):
        returns (the position in `source` reached, the bytes written to `target`)."""
        if pos > <size_t>source.shape[0]:
            raise ValueError("pos is past the end of source")
        cdef ZstdIn input
        input.src = &source[0] if source.shape[0] else NULL
        input.size = source.shape[0]
        input.pos = pos
        cdef ZstdOut out
        out.dst = &target[0] if target.shape[0] else NULL
        out.size = target.shape[0]
        out.pos = 0
        cdef bint failed
        with nogil:
            failed = self.run(&input, &out)
        self.consumed += input.pos - pos
        if failed and out.pos == 0:
            raise OSError(self.error_text())
        return input.pos, out.pos

    cdef str error_text(self):
        """Why decoding failed: libzstd's reason, what to do when there is a way around,
        and the compressed offset."""
        reason = zstd_error_name(self.error_code).decode()
        if zstd_error_code(self.error_code) == WINDOW_TOO_LARGE:
            reason += (" (a window over 128 MiB, as `zstd --long` above 27 makes: "
                       "decompress it with `zstd -dc --long=31` and read that from a pipe)")
        return f"zstd: {reason} (compressed byte {self.consumed})"

    cdef bint run(self, ZstdIn* input, ZstdOut* out) noexcept nogil:
        """Decode until the output is full or nothing more comes out of the input; True
        when the data cannot be decoded (now or before)."""
        cdef size_t code, in_before, out_before
        if self.error_code != 0:
            return True
        while out.pos < out.size:
            if input.pos == input.size and not self.frame_open:
                return False
            in_before = input.pos
            out_before = out.pos
            code = zstd_stream(self.dctx, out, input)
            if zstd_is_error(code):
                self.error_code = code
                return True
            self.frame_open = code != 0
            if input.pos == in_before and out.pos == out_before:
                return False  # the rest of the frame needs more input
        return False
