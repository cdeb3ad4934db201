"""Typed errors. Every message names the input and where in it (byte offset or line)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib.util import find_spec

INTERRUPTED_EXIT = 130  # 128 + SIGINT, as a shell reports a command Ctrl-C ended


class DualstackError(Exception):
    """Base of the errors the command line reports as one line with exit code 2."""

    exit_code = 2


class UsageError(DualstackError):
    """The command line or an argument is wrong."""


class InputError(DualstackError):
    """An input cannot be used at all (missing, unreadable, not a capture, not a snapshot)."""

    def __init__(self, source: str, message: str) -> None:
        self.source = source
        self.message = message
        super().__init__(f"{source}: {message}")


class CaptureError(InputError):
    """A capture is broken at a known byte offset; everything before it was delivered."""

    exit_code = 1

    def __init__(self, source: str, offset: int, message: str) -> None:
        self.offset = offset
        super().__init__(source, f"at byte offset {offset}: {message}")


class NotACaptureError(InputError):
    """The input is neither pcap nor pcapng (after decompression)."""

    exit_code = 2


class SnapshotError(InputError):
    """A snapshot (our JSON or imported command text) cannot be understood at a line."""

    def __init__(self, source: str, line: int | None, message: str) -> None:
        self.line = line
        where = f"line {line}: " if line is not None else ""
        super().__init__(source, f"{where}{message}")


def require_extra(module: str, extra: str, purpose: str) -> None:
    """A usage error unless `module` (of the pip extra `extra`) is installed; found
    without importing it, so a command can check before it starts its work."""
    if find_spec(module) is None:
        raise UsageError(f"{purpose} needs {module}: pip install 'dualstack-analyzer[{extra}]'")


@contextmanager
def writing(target: str) -> Iterator[None]:
    """An OSError raised while writing `target` (disk full, I/O error) as a one-line
    usage error naming it, as an output path that cannot be opened is. A reader gone
    away (BrokenPipeError: `| head`) is no error: it goes on to end the command quietly."""
    try:
        yield
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise UsageError(f"cannot write {target}: {exc.strerror or exc}; the output is "
                         "incomplete") from exc
