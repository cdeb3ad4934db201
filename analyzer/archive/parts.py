"""Each finished input's flows, kept under ``OUTDIR/parts/`` until the job's end.

A part is the raw flow records of one input (`analyzer.archive.jobs.FileResult.raw`) as
an array of records (a structured dtype with a field per raw flow column), appended to
one log file, ``parts/flows-<dtype digest>.bin``; the manifest line names it as
``parts/flows-<digest>.bin@<byte offset>+<records>``. One file for all inputs, because
creating a file costs 0.4-0.9 ms on an ext4 disk here (and a ``.npz`` of 24 arrays, which
earlier versions wrote and which are still read, 0.8 ms more to store and 1.2 ms to load):
an archive of thousands of small rotated files paid that per file. The digest in the name
changes with the columns, so records of another version are never misread (that input is
then read again). A part's bytes are written and flushed before its manifest line is
appended: a part named in the manifest is always whole, and bytes a killed job appended
without a line are never named. The final outputs are rebuilt from all parts at every
run, so an interrupted and resumed job never holds a flow twice.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import numpy as np

from analyzer._flowtable import RAW_FLOW_COLUMNS
from analyzer.archive.stitch import FilePiece, RawFlows

if TYPE_CHECKING:
    from analyzer.archive.manifest import ManifestEntry

PARTS_DIR = "parts"
PART_RECORD = np.dtype([(name, dtype, shape) for name, (dtype, shape) in
                        RAW_FLOW_COLUMNS.items()])
LOG_NAME = (f"{PARTS_DIR}/flows-"
            f"{hashlib.sha256(str(PART_RECORD.descr).encode()).hexdigest()[:12]}.bin")
_IN_LOG = re.compile(r"(?P<file>.+)@(?P<offset>\d+)\+(?P<count>\d+)")


class PartLog:
    """The log parts are appended to: emptied for a fresh job, added to on --resume."""

    def __init__(self, outdir: Path, *, resume: bool) -> None:
        self.outdir = outdir
        if not resume:
            shutil.rmtree(outdir / PARTS_DIR, ignore_errors=True)
        (outdir / PARTS_DIR).mkdir(parents=True, exist_ok=True)
        self._stream: BinaryIO | None = None

    def store(self, raw: RawFlows) -> str | None:
        """Append an input's flows; how the manifest names them (None: no flows)."""
        count = len(raw["first_ts_ns"])
        if count == 0:
            return None
        records = np.empty(count, dtype=PART_RECORD)
        for name in RAW_FLOW_COLUMNS:
            records[name] = raw[name]
        if self._stream is None:
            self._stream = open(self.outdir / LOG_NAME, "ab")  # noqa: SIM115 - see close
        offset = self._stream.tell()
        self._stream.write(records.tobytes())
        self._stream.flush()
        return f"{LOG_NAME}@{offset}+{count}"

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None


def part_present(outdir: Path, part: str) -> bool:
    """Are the flows a manifest line names still there (whole)?"""
    found = _IN_LOG.fullmatch(part)
    if found is None:
        return (outdir / part).exists()
    try:
        size = (outdir / found["file"]).stat().st_size
    except OSError:
        return False
    return size >= int(found["offset"]) + int(found["count"]) * PART_RECORD.itemsize


def load_part(outdir: Path, part: str) -> RawFlows:
    """The flows a manifest line names, as columns (C-contiguous, as the flow table
    gives them); parts of earlier versions are ``.npz`` files of their own."""
    found = _IN_LOG.fullmatch(part)
    if found is None:
        with np.load(outdir / part) as stored:
            return {name: stored[name] for name in stored.files}
    records = np.fromfile(outdir / found["file"], dtype=PART_RECORD,
                          count=int(found["count"]), offset=int(found["offset"]))
    return {name: np.ascontiguousarray(records[name]) for name in RAW_FLOW_COLUMNS}


def load_piece(outdir: Path, entry: ManifestEntry, at_hand: RawFlows | None = None
               ) -> FilePiece | None:
    """The flows of a finished input, as a piece for stitching (None: it had none);
    `at_hand`: its flows when this run read them (else they are read from its part)."""
    if entry.part is None or entry.first_ts_ns is None or entry.last_ts_ns is None:
        return None
    if at_hand is None:
        at_hand = load_part(outdir, entry.part)
    return FilePiece(entry.path, entry.first_ts_ns, entry.last_ts_ns, at_hand)
