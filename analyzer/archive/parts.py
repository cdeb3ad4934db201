"""Each finished input's flows, kept under ``OUTDIR/parts/`` until the job's end.

A part is the raw flow records of one input (`analyzer.archive.jobs.FileResult.raw`)
in a ``.npz`` file named after the input's path. It is written to a temporary name and
renamed, and only then is the input's manifest line appended: a part named in the
manifest is always whole. The final outputs are rebuilt from all parts at every run,
so an interrupted and resumed job never holds a flow twice.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import numpy as np

from analyzer.archive.manifest import ManifestEntry
from analyzer.archive.stitch import FilePiece, RawFlows

PARTS_DIR = "parts"


def part_name(path: str) -> str:
    """``parts/<first 20 hex of sha256(path)>.npz``: stable for an input path."""
    return f"{PARTS_DIR}/{hashlib.sha256(path.encode()).hexdigest()[:20]}.npz"


def store_part(outdir: Path, path: str, raw: RawFlows) -> str | None:
    """Write an input's flows; the part's name relative to OUTDIR (None: no flows)."""
    if len(raw["first_ts_ns"]) == 0:
        return None
    name = part_name(path)
    target = outdir / name
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_suffix(".tmp.npz")
    np.savez(temporary, **raw)  # type: ignore[arg-type]  # numpy stubs: kwargs vs allow_pickle
    os.replace(temporary, target)
    return name


def load_piece(outdir: Path, entry: ManifestEntry, at_hand: RawFlows | None = None
               ) -> FilePiece | None:
    """The flows of a finished input, as a piece for stitching (None: it had none);
    `at_hand`: its flows when this run read them (else they are read from its part)."""
    if entry.part is None or entry.first_ts_ns is None or entry.last_ts_ns is None:
        return None
    if at_hand is None:
        with np.load(outdir / entry.part) as stored:
            at_hand = {name: stored[name] for name in stored.files}
    return FilePiece(entry.path, entry.first_ts_ns, entry.last_ts_ns, at_hand)


def clear_parts(outdir: Path) -> None:
    shutil.rmtree(outdir / PARTS_DIR, ignore_errors=True)
