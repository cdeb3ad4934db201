"""Any snapshot input: our JSON / JSON Lines, or command text imported on the fly."""

from __future__ import annotations

import codecs
import sys

from analyzer.errors import InputError
from analyzer.snapshot.schema import Snapshot

# Longest first: the UTF-32 LE mark begins with the UTF-16 LE one.
_BYTE_ORDER_MARKS = (
    (codecs.BOM_UTF32_LE, "UTF-32-LE"), (codecs.BOM_UTF32_BE, "UTF-32-BE"),
    (codecs.BOM_UTF8, "UTF-8"), (codecs.BOM_UTF16_LE, "UTF-16-LE"),
    (codecs.BOM_UTF16_BE, "UTF-16-BE"),
)


def read_text(path: str) -> str:
    """The file's text ('-' is stdin), lines ending in \n; unreadable is an InputError.
    See `decode_text` for the encodings."""
    if path == "-":
        raw = getattr(sys.stdin, "buffer", None)  # None: a text stream put in its place
        return decode_text(raw.read(), path) if raw is not None else sys.stdin.read()
    try:
        with open(path, "rb") as handle:
            return decode_text(handle.read(), path)
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror}") from None


def decode_text(data: bytes, source: str) -> str:
    """UTF-8, or any UTF with a byte order mark: Windows PowerShell's ``netstat -ano >
    out.txt`` writes UTF-16 LE with one, Notepad and PowerShell 7 may write UTF-8 with
    one. CRLF and CR line ends become LF. Else an InputError at the byte offset."""
    encoding, skip = "UTF-8", 0
    for mark, name in _BYTE_ORDER_MARKS:
        if data.startswith(mark):
            encoding, skip = name, len(mark)
            break
    try:
        text = data[skip:].decode(encoding)
    except UnicodeDecodeError as exc:
        raise InputError(source, f"not {encoding} text at byte offset {skip + exc.start}"
                         ) from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def load_snapshot_file(path: str, os_name: str | None = None) -> list[Snapshot]:
    """Our JSON/JSON Lines, or netstat/ss/lsof/sockstat text (format detected)."""
    from analyzer.snapshot.importers import import_text
    from analyzer.snapshot.store import loads_snapshots

    text = read_text(path)
    if text.lstrip().startswith(("{", "[")):
        return loads_snapshots(text, path)
    return [import_text(text, path, os_name=os_name)]
