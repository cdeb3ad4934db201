"""One job at a time per OUTDIR: ``OUTDIR/.lock``, locked (fcntl(2) record lock) while a
job runs.

Two jobs writing the same OUTDIR would clear each other's parts and staging directory
and interleave their manifests. The second one stops at once instead. The lock file is
never written (a resumed job with nothing to do changes nothing in OUTDIR; `fuser` names
the holder), and the kernel releases the lock when the holder exits, however it ends, so
a killed job leaves no stale lock behind. A record lock belongs to the process that took
it: the forked workers do not hold it (a flock(2) lock would be shared with them).
"""

from __future__ import annotations

import errno
import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from analyzer.errors import UsageError

LOCK_NAME = ".lock"


@contextmanager
def outdir_locked(outdir: Path) -> Iterator[None]:
    """Hold OUTDIR's lock for the `with` block (OUTDIR is made if missing); a
    UsageError when another job holds it."""
    outdir.mkdir(parents=True, exist_ok=True)
    path = outdir / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EACCES, errno.EAGAIN):
                raise
            raise UsageError(f"{outdir} is in use by another dualstack batch (`fuser {path}` "
                             "names it); wait for it to end, or choose another -o") from None
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
