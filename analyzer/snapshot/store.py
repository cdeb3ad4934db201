"""Snapshot files: one JSON document, or a JSON Lines time series (one snapshot a line).

`load_snapshots` accepts either (a document may also hold a JSON list of snapshots)
and validates every snapshot; errors name the file and the line (for a document,
the line where the offending socket object starts). `dump_snapshots` writes one
snapshot as an indented document whose sockets take one line each, several as
JSON Lines; `append_snapshot` adds one line to a time series.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from analyzer.errors import InputError, SnapshotError
from analyzer.snapshot.inputs import read_text
from analyzer.snapshot.schema import Snapshot

_DECODER = json.JSONDecoder()


def load_snapshots(path: str | Path) -> list[Snapshot]:
    """Read and validate a snapshot file (JSON or JSON Lines; "-" is stdin)."""
    source = str(path)
    text = read_text(source)
    if not text.strip():
        raise SnapshotError(source, None, "empty: no snapshot in it")
    if _is_json_lines(text):
        return _load_json_lines(text, source)
    return _load_document(text, source)


def loads_snapshots(text: str, source: str = "<string>") -> list[Snapshot]:
    """Like `load_snapshots` for text already read."""
    if _is_json_lines(text):
        return _load_json_lines(text, source)
    return _load_document(text, source)


def dump_snapshots(snapshots: Iterable[Snapshot], path_or_file: str | Path | IO[str]) -> None:
    """Write snapshots: one as a JSON document, several as JSON Lines ("-" is stdout)."""
    items = list(snapshots)
    text = format_document(items[0]) if len(items) == 1 else "".join(
        format_line(snap) for snap in items
    )
    _write_text(path_or_file, text, append=False)


def append_snapshot(snapshot: Snapshot, path_or_file: str | Path | IO[str]) -> None:
    """Append one snapshot as a JSON line (a time series grows this way)."""
    _write_text(path_or_file, format_line(snapshot), append=True)


def format_line(snapshot: Snapshot) -> str:
    """One snapshot as a compact JSON line (with its newline)."""
    return json.dumps(snapshot.to_dict(), separators=(",", ":"), ensure_ascii=False) + "\n"


def format_document(snapshot: Snapshot) -> str:
    """One snapshot as a readable document: top-level keys indented, a socket a line."""
    data = snapshot.to_dict()
    sockets = data.pop("sockets")
    parts = [f"  {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}"
             for key, value in data.items()]
    socket_lines = ",\n".join(
        "    " + json.dumps(sock, separators=(", ", ": "), ensure_ascii=False)
        for sock in sockets
    )
    parts.append('  "sockets": [\n' + socket_lines + "\n  ]" if sockets else '  "sockets": []')
    return "{\n" + ",\n".join(parts) + "\n}\n"


def _is_json_lines(text: str) -> bool:
    """Two or more non-blank lines that each start with '{' and the first parses alone."""
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) < 2 or not all(line.lstrip().startswith("{") for line in lines):
        return False
    try:
        json.loads(lines[0])
    except json.JSONDecodeError:
        return False
    return True


def _load_json_lines(text: str, source: str) -> list[Snapshot]:
    snapshots = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise SnapshotError(source, number, f"not JSON: {exc.msg} at column {exc.colno}")\
                from None
        snapshots.append(Snapshot.from_dict(data, source, number))
    return snapshots


def _load_document(text: str, source: str) -> list[Snapshot]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SnapshotError(source, exc.lineno, f"not JSON: {exc.msg} at column {exc.colno}")\
            from None
    if isinstance(data, list):
        starts = _element_lines(text, _skip_space(text, 0))
        return [
            _snapshot_at(item, text, source, starts[index])
            for index, item in enumerate(data)
        ]
    return [_snapshot_at(data, text, source, (_skip_space(text, 0), _line_of(text, 0)))]


def _snapshot_at(data: Any, text: str, source: str, start: tuple[int, int]) -> Snapshot:
    offset, line = start
    socket_lines = _socket_lines(text, offset) if isinstance(data, dict) else None
    return Snapshot.from_dict(data, source, line, socket_lines)


def _socket_lines(text: str, offset: int) -> list[int]:
    """Line numbers where each element of the object's "sockets" array starts."""
    for key, value_offset in _object_members(text, offset):
        if key == "sockets" and text[value_offset] == "[":
            return [line for _, line in _element_lines(text, value_offset)]
    return []


def _object_members(text: str, offset: int) -> list[tuple[str, int]]:
    """(key, value offset) of the members of the JSON object starting at `offset`."""
    members = []
    pos = _skip_space(text, offset + 1)
    while pos < len(text) and text[pos] != "}":
        key, pos = _DECODER.raw_decode(text, pos)
        pos = _skip_space(text, _skip_space(text, pos) + 1)  # past the colon
        members.append((key, pos))
        _, pos = _DECODER.raw_decode(text, pos)
        pos = _skip_space(text, pos)
        if text[pos] == ",":
            pos = _skip_space(text, pos + 1)
    return members


def _element_lines(text: str, offset: int) -> list[tuple[int, int]]:
    """(offset, line) of each element of the JSON array starting at `offset`."""
    starts = []
    pos = _skip_space(text, offset + 1)
    while pos < len(text) and text[pos] != "]":
        starts.append((pos, _line_of(text, pos)))
        _, pos = _DECODER.raw_decode(text, pos)
        pos = _skip_space(text, pos)
        if text[pos] == ",":
            pos = _skip_space(text, pos + 1)
    return starts


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, _skip_space(text, offset)) + 1


def _write_text(path_or_file: str | Path | IO[str], text: str, append: bool) -> None:
    if not isinstance(path_or_file, (str, Path)):
        path_or_file.write(text)
        path_or_file.flush()
        return
    if str(path_or_file) == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    try:
        with open(path_or_file, "a" if append else "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        raise InputError(str(path_or_file), exc.strerror or str(exc)) from None
