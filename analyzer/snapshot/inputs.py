"""Any snapshot input: our JSON / JSON Lines, or command text imported on the fly."""

from __future__ import annotations

import sys

from analyzer.errors import InputError
from analyzer.snapshot.schema import Snapshot


def read_text(path: str) -> str:
    """The file's text ('-' is stdin); not UTF-8 or unreadable is an InputError."""
    if path == "-":
        return sys.stdin.read()
    try:
        with open(path, encoding="utf-8", errors="strict", newline=None) as handle:
            return handle.read()
    except UnicodeDecodeError as exc:
        raise InputError(path, f"not UTF-8 text at byte offset {exc.start}") from None
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror}") from None


def load_snapshot_file(path: str, os_name: str | None = None) -> list[Snapshot]:
    """Our JSON/JSON Lines, or netstat/ss/lsof/sockstat text (format detected)."""
    from analyzer.snapshot.importers import import_text
    from analyzer.snapshot.store import loads_snapshots

    text = read_text(path)
    if text.lstrip().startswith(("{", "[")):
        return loads_snapshots(text, path)
    return [import_text(text, path, os_name=os_name)]
