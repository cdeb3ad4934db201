# The SIGBUS guard of memory-mapped captures (map_guard.h; included by reader.pyx).

cdef extern from "map_guard.h" nogil:
    int ds_guard_add(const void *start, size_t length)
    int ds_guard_faulted(int slot)
    void ds_guard_remove(int slot)


def guard_mapping(const uint8_t[::1] data) -> int:
    """Guard a memory-mapped file's bytes against SIGBUS (the file truncated under
    them): a fault in them maps zeros instead and marks the guard (`guard_faulted`).
    Returns the guard's slot, or -1 when none could be set (unguarded, as before)."""
    if data.shape[0] == 0:
        return -1
    return ds_guard_add(&data[0], <size_t>data.shape[0])


def guard_faulted(int slot) -> bool:
    """Did a read of the guarded bytes fault (the file shrank under the mapping)?"""
    return ds_guard_faulted(slot) != 0


def unguard_mapping(int slot) -> None:
    """Drop the guard (before the mapping is closed)."""
    ds_guard_remove(slot)
