"""The job's manifest: ``OUTDIR/manifest.jsonl``, one JSON line per input read.

A line is appended as soon as an input is done, after its flows were stored, and handed
to the OS at once, so a job interrupted at any moment (killed, Ctrl-C) leaves a manifest
that says exactly which inputs are finished. It reaches the disk (fsync) at least once a
second and when the job ends: a power cut loses at most the last second's lines, whose
inputs `--resume` then reads again. (An fsync per line cost 0.2 ms or more per input,
which an archive of thousands of small rotated files pays per file.) `--resume` reads it
back and skips every input whose entry still matches the file (same path, size and
modification time, the quick check of rsync and make) and whose hash is of the current
kind. A last line cut short by a crash is ignored; later lines for a path replace
earlier ones.

Keys of a line
--------------
``path``         absolute path of the input.
``size``         bytes on disk; ``mtime_ns`` / ``mtime``: modification time (ns, ISO UTC).
``hash``         ``xxh128:<hex>`` of the bytes on disk (`analyzer.archive.inputs.content_hash`;
                 empty when the file could not be read). It finds copies of one file
                 among the inputs (their flows count once; a match is confirmed byte for
                 byte) and is part of the job's signature. Manifests of earlier versions
                 hold ``sha256:<hex>``: `--resume` reads those inputs again, as it cannot
                 compare the two.
``packets``      packets read (up to the end, or up to the error).
``flows``        flows found in this input alone (before stitching across files).
``first_ts_ns``  first / ``last_ts_ns`` last packet timestamp, null without packets.
``error``        null, or ``{"type", "message", "offset"}``: the error that stopped the
                 read, with the byte offset in the decompressed stream when known.
                 Everything before it is kept.
``duration_s``   wall time spent on the input (summed over its chunks when a large pcap
                 file was read as several tasks: `analyzer.archive.chunks`; the other
                 keys then hold the whole file's totals, the error its file offset).
``part``         where under OUTDIR this input's flows are (`analyzer.archive.parts`:
                 ``parts/flows-<digest>.bin@<offset>+<records>``), null without flows.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

from analyzer.archive.inputs import HASH_NAME, InputFile
from analyzer.archive.parts import part_present
from analyzer.errors import InputError

MANIFEST_NAME = "manifest.jsonl"
SYNC_EVERY_S = 1.0


@dataclass(frozen=True)
class InputErrorRecord:
    """Why an input could not be read to its end."""

    type: str
    message: str
    offset: int | None


@dataclass(frozen=True)
class ManifestEntry:
    """One finished input; see the module docstring for the keys."""

    path: str
    size: int
    mtime_ns: int
    mtime: str
    hash: str
    packets: int
    flows: int
    first_ts_ns: int | None
    last_ts_ns: int | None
    error: InputErrorRecord | None
    duration_s: float
    part: str | None

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"), sort_keys=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ManifestEntry:
        error = data.get("error")
        fields = {**data, "error": InputErrorRecord(**error) if error else None}
        return cls(**fields)

    def matches(self, item: InputFile) -> bool:
        """The input is unchanged since this entry was written, and the entry's hash
        can be compared with those of this version's entries."""
        same = (self.path, self.size, self.mtime_ns) == (item.path, item.size, item.mtime_ns)
        return same and (not self.hash or self.hash.startswith(f"{HASH_NAME}:"))


def iso_mtime(mtime_ns: int) -> str:
    moment = datetime.fromtimestamp(mtime_ns / 1e9, tz=timezone.utc)
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


class Manifest:
    """The entries of ``OUTDIR/manifest.jsonl`` by path, and the file to append to."""

    def __init__(self, outdir: Path, *, resume: bool) -> None:
        self.path = outdir / MANIFEST_NAME
        self.entries: dict[str, ManifestEntry] = {}
        self._stream: TextIO | None = None
        self._synced = time.monotonic()
        if resume and self.path.exists():
            self.entries = load_entries(self.path)
        self._rewrite()

    def _rewrite(self) -> None:
        """Rewrite the file from the entries kept (drops a torn last line, repeated paths),
        unless it holds exactly them already."""
        text = "".join(entry.to_json() + "\n" for entry in self.entries.values())
        if self.path.exists() and self.path.read_text(encoding="utf-8") == text:
            return
        temporary = self.path.with_suffix(".tmp")
        with open(temporary, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, self.path)

    def finished(self, item: InputFile) -> ManifestEntry | None:
        """The entry of an input that need not be read again, or None."""
        entry = self.entries.get(item.path)
        if entry is None or not entry.matches(item):
            return None
        if entry.part is not None and not part_present(self.path.parent, entry.part):
            return None  # its stored flows are gone: read it again
        return entry

    def append(self, entry: ManifestEntry) -> None:
        """Record a finished input (replacing the line of an earlier read of its path)."""
        if entry.path in self.entries:
            self.entries.pop(entry.path)
            self.entries[entry.path] = entry
            self.close()  # the file is replaced: append to the new one from now on
            self._rewrite()
            return
        if self._stream is None:
            self._stream = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - see close
        self._stream.write(entry.to_json() + "\n")
        self._stream.flush()
        if time.monotonic() - self._synced >= SYNC_EVERY_S:
            self._sync()
        self.entries[entry.path] = entry

    def _sync(self) -> None:
        if self._stream is not None:
            os.fsync(self._stream.fileno())
        self._synced = time.monotonic()

    def close(self) -> None:
        """Sync the lines appended to disk and close the file (appending opens it again)."""
        if self._stream is not None:
            self._sync()
            self._stream.close()
            self._stream = None


def load_entries(path: Path) -> dict[str, ManifestEntry]:
    """Entries by input path; a torn last line is ignored, any other bad line is an error."""
    lines = path.read_text(encoding="utf-8").split("\n")
    entries: dict[str, ManifestEntry] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            entry = ManifestEntry.from_dict(json.loads(line))
        except (ValueError, TypeError) as exc:
            if number == len(lines):  # no newline after it: cut short by a crash
                continue
            raise InputError(str(path), f"line {number}: not a manifest entry: {exc}") from exc
        entries[entry.path] = entry
    return entries
