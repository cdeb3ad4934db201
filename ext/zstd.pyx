# cython: language_level=3
"""zstd frames decoded by the system's libzstd, without the GIL.

The library is opened at import (dlopen: no headers needed to build, and a machine
without it keeps the `zstandard` package's decoder: `AVAILABLE` is False). Its stable
streaming API is declared here from the zstd manual (lib/zstd.h, "Streaming
decompression"); ZSTD_decompressStream returns 0 once a frame is decoded and flushed,
a hint of the next input size while one is open, or an error code.

`Decoder` decodes a buffer that holds the whole compressed input (a memory-mapped
file), frame after frame, straight into the caller's buffer: one call fills it, with no
read() copy of the compressed bytes and no return to Python per 128 KiB block."""

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

cdef create_fn zstd_create = NULL
cdef free_fn zstd_free = NULL
cdef stream_fn zstd_stream = NULL
cdef is_error_fn zstd_is_error = NULL
cdef error_name_fn zstd_error_name = NULL

# sonames: Linux (Debian's libzstd1), macOS
LIBRARY_NAMES = (b"libzstd.so.1", b"libzstd.1.dylib")


cdef bint load_library():
    global zstd_create, zstd_free, zstd_stream, zstd_is_error, zstd_error_name
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
    return (zstd_create != NULL and zstd_free != NULL and zstd_stream != NULL
            and zstd_is_error != NULL and zstd_error_name != NULL)


AVAILABLE = load_library()

cdef enum Step:
    STEP_FILLED = 0      # the output is full, or the input ended after a whole frame
    STEP_STALLED = 1     # the input ended inside a frame
    STEP_ERROR = 2


cdef class Decoder:
    """Decodes `source` (every byte of the compressed input, which must stay valid and
    unchanged while the decoder is used): frames in sequence, skippable ones skipped.

    `readinto1(target)` fills `target` (fewer bytes only at the end) and returns the count;
    0 at the end of the input. When the input ends inside a frame it returns what was
    decoded, then raises EOFError; corrupt data likewise, then OSError with libzstd's
    reason (and again on every later call)."""

    cdef void* dctx
    cdef const unsigned char[::1] source
    cdef ZstdIn input
    cdef bint frame_open
    cdef size_t last_code

    def __cinit__(self, const unsigned char[::1] source):
        if not AVAILABLE:
            raise OSError("libzstd could not be loaded")
        self.dctx = zstd_create()
        if self.dctx == NULL:
            raise MemoryError("ZSTD_createDCtx failed")
        self.source = source
        self.input.src = &source[0] if source.shape[0] else NULL
        self.input.size = source.shape[0]
        self.input.pos = 0
        self.frame_open = False
        self.last_code = 0  # an error code once decoding failed

    def __dealloc__(self):
        if self.dctx != NULL:
            zstd_free(self.dctx)

    @property
    def consumed(self) -> int:
        """Compressed bytes decoded so far."""
        return self.input.pos

    def readinto1(self, unsigned char[::1] target) -> int:
        cdef ZstdOut out
        out.dst = &target[0] if target.shape[0] else NULL
        out.size = target.shape[0]
        out.pos = 0
        cdef Step step
        with nogil:
            step = self.decode(&out)
        if step == STEP_ERROR and out.pos == 0:
            raise OSError(f"zstd: {zstd_error_name(self.last_code).decode()} (compressed "
                          f"byte {self.input.pos})")
        if step == STEP_STALLED and out.pos == 0:
            raise EOFError("compressed data ended before the end of a zstd frame")
        return out.pos

    cdef Step decode(self, ZstdOut* out) noexcept nogil:
        cdef size_t code, in_before, out_before
        if self.last_code != 0:
            return STEP_ERROR  # the input cannot be decoded past this point
        while out.pos < out.size:
            if self.input.pos == self.input.size and not self.frame_open:
                return STEP_FILLED
            in_before = self.input.pos
            out_before = out.pos
            code = zstd_stream(self.dctx, out, &self.input)
            if zstd_is_error(code):
                self.last_code = code
                return STEP_ERROR
            self.frame_open = code != 0
            if self.input.pos == in_before and out.pos == out_before:
                return STEP_STALLED  # nothing more can come out of the input left
        return STEP_FILLED
