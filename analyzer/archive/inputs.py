"""Find the captures of an archive: files, directories (recursively) and globs.

A file named on the command line is always taken (a broken one is reported by the
job). Files found inside directories or by globs are taken when their first bytes
look like a capture (pcap or pcapng, possibly gzip'd, bzip2'd, xz'd or zstd'd), so the
snapshots and notes kept beside rotated captures are skipped, and counted.
"""

from __future__ import annotations

import glob
import lzma
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import xxhash
import zstandard

from analyzer.capture.source import decompressor, read_head, sniff_compression, sniff_format
from analyzer.errors import InputError

# The content identity of an input: XXH128 (XXH3, 128 bits), as rsync (3.2+) checks files
# with. It finds the copies among the inputs (an archive's backup copy), and a match is
# then confirmed byte for byte (`analyzer.archive.pipeline`), so it need not resist a
# forger. At ~10 GB/s on one core it costs a worker a fifth of reading the file; sha256
# (1.5 GB/s here) cost more than the reading itself.
HASH_NAME = "xxh128"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class InputFile:
    """One capture file of the archive, as it was when the job started."""

    path: str
    size: int
    mtime_ns: int


@dataclass
class Discovery:
    """The captures found, in path order, and the files passed over."""

    files: list[InputFile] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def discover(specs: Sequence[str]) -> Discovery:
    """Expand files, directories and globs into capture files (each once, sorted by path).

    Raises InputError naming the argument when it matches nothing.
    """
    found: dict[str, InputFile] = {}
    skipped: list[str] = []
    for spec in specs:
        named, candidates = _expand(spec)
        if not named and not candidates:
            raise InputError(spec, "no such file or directory, and no file matches it as a glob")
        for path in named:
            found.setdefault(path, _stat(path))
        for path in candidates:
            if path in found:
                continue
            if looks_like_capture(path):
                found[path] = _stat(path)
            else:
                skipped.append(path)
    return Discovery(sorted(found.values(), key=lambda item: item.path), sorted(set(skipped)))


def _expand(spec: str) -> tuple[list[str], list[str]]:
    """(files named explicitly, files found under directories or by a glob)."""
    if os.path.isdir(spec):
        return [], list(_walk(spec))
    if os.path.exists(spec):
        return [os.path.abspath(spec)], []
    matches = sorted(glob.glob(spec, recursive=True))
    candidates: list[str] = []
    for match in matches:
        if os.path.isdir(match):
            candidates.extend(_walk(match))
        elif os.path.isfile(match):
            candidates.append(os.path.abspath(match))
    return [], candidates


def _walk(directory: str) -> Iterable[str]:
    for root, dirs, files in os.walk(directory):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(root, name)
            if os.path.isfile(path):
                yield os.path.abspath(path)


def _stat(path: str) -> InputFile:
    try:
        info = os.stat(path)
    except OSError as exc:
        raise InputError(path, exc.strerror or str(exc)) from exc
    return InputFile(path=path, size=info.st_size, mtime_ns=info.st_mtime_ns)


def looks_like_capture(path: str) -> bool:
    """True when the first bytes (after gzip/bzip2/xz/zstd) are a pcap or pcapng magic
    number: the reader's own sniffing, applied without reading further."""
    try:
        with open(path, "rb") as raw:
            head = read_head(raw)
            kind = sniff_compression(head)
            if kind is not None:
                raw.seek(0)
                head = read_head(decompressor(kind, raw))  # closed with `raw`
    except (OSError, EOFError, ValueError, lzma.LZMAError, zstandard.ZstdError):
        return False
    return sniff_format(head) is not None


class ContentHash:
    """``xxh128:<hex>`` of a file's bytes as stored (compressed or not), fed in order;
    the hex is what ``xxhsum -H2`` prints. The reader can feed it as it parses a mapped
    file (`analyzer.capture.window.MappedWindow.digest_into`); `text` is None until
    every byte has come."""

    def __init__(self) -> None:
        self._digest = xxhash.xxh3_128()
        self._whole = False

    def update(self, data: memoryview, /) -> None:
        self._digest.update(data)

    def done(self) -> None:
        self._whole = True

    @property
    def text(self) -> str | None:
        return f"{HASH_NAME}:{self._digest.hexdigest()}" if self._whole else None


def content_hash(path: str) -> str:
    """The `ContentHash` of a file, read on its own."""
    digest = ContentHash()
    buffer = bytearray(_CHUNK)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as stream:
        while size := stream.readinto(buffer):
            digest.update(view[:size])
    digest.done()
    assert digest.text is not None
    return digest.text
