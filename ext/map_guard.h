/* A SIGBUS guard for memory-mapped captures.
 *
 * Reading a page of a mapping that lies past the end of its file raises SIGBUS, and the
 * default action ends the process. That happens when another process truncates a
 * capture while it is mapped (logrotate's copytruncate, a capture tool restarted on the
 * same file). Each mapping the reader uses is registered here; the handler answers a
 * fault inside a registered range by mapping anonymous pages (zeros) over the rest of
 * the range, marks the range as faulted, and returns, so the faulting load completes.
 * The reader then sees the mark (and the file's smaller size) at its next check and
 * stops with an error naming the file and offset; the zeros are never taken for packets
 * (analyzer/capture/window.py). A fault outside every registered range goes to the
 * handler that was installed before (faulthandler, say), or takes the default action.
 *
 * Registration happens with the GIL held; the handler only reads the table (atomic
 * loads) and calls mmap(2), a system call that is safe in a handler on Linux.
 */
#ifndef DS_MAP_GUARD_H
#define DS_MAP_GUARD_H

#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define DS_GUARD_SLOTS 256

typedef struct {
    uintptr_t start;   /* 0: free slot */
    uintptr_t end;
    int faulted;
} ds_guard_slot;

static ds_guard_slot ds_guards[DS_GUARD_SLOTS];
static struct sigaction ds_guard_previous;
static uintptr_t ds_guard_page_mask;

static void ds_guard_pass_on(int sig, siginfo_t *info, void *context) {
    struct sigaction *prev = &ds_guard_previous;
    if ((prev->sa_flags & SA_SIGINFO) && prev->sa_sigaction != NULL) {
        prev->sa_sigaction(sig, info, context);
    } else if (prev->sa_handler != SIG_DFL && prev->sa_handler != SIG_IGN) {
        prev->sa_handler(sig);
    } else {
        /* default action: returning re-runs the load, which faults again and ends
           the process as it would have without us */
        signal(sig, SIG_DFL);
    }
}

static void ds_guard_handler(int sig, siginfo_t *info, void *context) {
    uintptr_t address = (uintptr_t)info->si_addr;
    int i;
    for (i = 0; i < DS_GUARD_SLOTS; i++) {
        uintptr_t start = __atomic_load_n(&ds_guards[i].start, __ATOMIC_ACQUIRE);
        uintptr_t end = __atomic_load_n(&ds_guards[i].end, __ATOMIC_ACQUIRE);
        if (start == 0 || address < start || address >= end)
            continue;
        uintptr_t page = address & ds_guard_page_mask;
        if (mmap((void *)page, end - page, PROT_READ,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED)
            break;
        __atomic_store_n(&ds_guards[i].faulted, 1, __ATOMIC_RELEASE);
        return;
    }
    ds_guard_pass_on(sig, info, context);
}

/* Install the handler once (0, or -1). A handler installed later by someone else
 * takes SIGBUS first; it is not replaced, so that two handlers never call each other. */
static int ds_guard_install(void) {
    static int installed;
    struct sigaction ours;
    if (installed)
        return 0;
    ds_guard_page_mask = ~((uintptr_t)sysconf(_SC_PAGESIZE) - 1);
    memset(&ours, 0, sizeof ours);
    ours.sa_sigaction = ds_guard_handler;
    ours.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
    sigemptyset(&ours.sa_mask);
    if (sigaction(SIGBUS, &ours, &ds_guard_previous) != 0)
        return -1;
    installed = 1;
    return 0;
}

/* Guard [start, start + length); the slot number, or -1 (no slot free, or no handler). */
static int ds_guard_add(const void *start, size_t length) {
    int i;
    if (length == 0 || ds_guard_install() != 0)
        return -1;
    for (i = 0; i < DS_GUARD_SLOTS; i++) {
        if (ds_guards[i].start != 0)
            continue;
        __atomic_store_n(&ds_guards[i].faulted, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&ds_guards[i].end, (uintptr_t)start + length, __ATOMIC_RELEASE);
        __atomic_store_n(&ds_guards[i].start, (uintptr_t)start, __ATOMIC_RELEASE);
        return i;
    }
    return -1;
}

static int ds_guard_faulted(int slot) {
    if (slot < 0 || slot >= DS_GUARD_SLOTS)
        return 0;
    return __atomic_load_n(&ds_guards[slot].faulted, __ATOMIC_ACQUIRE);
}

static void ds_guard_remove(int slot) {
    if (slot < 0 || slot >= DS_GUARD_SLOTS)
        return;
    __atomic_store_n(&ds_guards[slot].start, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&ds_guards[slot].end, 0, __ATOMIC_RELEASE);
}

#endif
