"""Answer for a whole archive of captures at once: every file (directories are searched
recursively, globs expanded; pcap/pcapng, gzip'd or zstd'd or not) is read in parallel,
the pieces of connections cut by file rotation are joined, and every flow is judged
against the snapshots as `dualstack verify` would.

OUTDIR gets flows/ (Parquet, partitioned by day and host), listeners/ (Parquet),
report.txt, summary.json and manifest.jsonl (one line per input: size, modification
time, content hash, packets, flows, error with byte offset, duration). A broken input
is recorded there and the job goes on. --resume skips the inputs the manifest holds
unchanged; with nothing changed at all it does nothing. --scheduler runs the same job
on a running Dask cluster (dask scheduler / dask worker) whose workers see the inputs
at the same paths. An uncompressed classic pcap file larger than --chunk-size is read
as several tasks, cut on record boundaries, and its pieces joined as rotated files are;
pcapng and compressed files are always read whole.

Exit codes: 0 success; 1 some inputs failed (the job still completed with the rest);
2 usage error or unreadable snapshot; 3 the job's end failed (a process judging a share
of the flows died): the inputs read are kept and --resume finishes the job.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from analyzer.errors import require_extra
from analyzer.verdict.options import add_verdict_arguments, tolerance_of

NAME = "batch"
HELP = "verify a whole archive of captures in parallel (local cores or a Dask cluster)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("archives", nargs="+", metavar="ARCHIVE",
                        help="capture files, directories (searched recursively) or globs")
    parser.add_argument("--snapshots", action="extend", nargs="+", required=True,
                        metavar="PATH",
                        help="snapshot JSON/JSON Lines, or netstat/ss/lsof/sockstat text")
    parser.add_argument("-o", "--outdir", required=True, metavar="OUTDIR",
                        help="directory for flows/, listeners/, report and manifest")
    parser.add_argument("--workers", type=int, default=None, metavar="N",
                        help="local worker processes (default: one per CPU core)")
    parser.add_argument("--scheduler", default=None, metavar="ADDRESS",
                        help="run on a Dask cluster, e.g. tcp://10.0.0.5:8786")
    parser.add_argument("--chunk-size", type=byte_size, default=None, metavar="BYTES",
                        help="read an uncompressed classic pcap file larger than this "
                             "(e.g. 64M, 1G) as several tasks cut on record boundaries "
                             "(default 256M); pcapng and compressed files are read whole: "
                             "a compressed stream cannot be entered in the middle, and a "
                             "pcapng cut would need the section's byte order and interface "
                             "table at every cut")
    parser.add_argument("--resume", action="store_true",
                        help="skip inputs the manifest holds unchanged")
    add_verdict_arguments(parser, "an address of the snapshot host, for snapshots without them")


_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


def byte_size(text: str) -> int:
    """A positive number of bytes, optionally with a K, M or G (binary) suffix."""
    number, unit = text.strip().upper().rstrip("IB"), ""
    if number[-1:] in _UNITS:
        number, unit = number[:-1], number[-1]
    try:
        value = int(number) * _UNITS[unit]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size in bytes: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"the size must be at least 1 byte, not {text!r}")
    return value


def run(args: argparse.Namespace) -> int:
    require_extra("pyarrow", "arrow", "dualstack batch (its outputs are Parquet datasets)")
    if args.scheduler is not None:  # checked before OUTDIR is made (DaskEngine checks too)
        require_extra("distributed", "dask", "--scheduler")
    from analyzer.archive.chunks import DEFAULT_CHUNK_SIZE
    from analyzer.archive.pipeline import BatchOptions, run_batch  # pyarrow: only when used

    options = BatchOptions(
        archives=args.archives,
        snapshot_files=args.snapshots,
        outdir=Path(args.outdir),
        workers=args.workers,
        scheduler=args.scheduler,
        resume=args.resume,
        os=args.os,
        host_addrs=args.host_addr,
        tolerance_s=tolerance_of(args),
        chunk_size=args.chunk_size or DEFAULT_CHUNK_SIZE,
    )
    result = run_batch(options)
    if result.nothing_to_do:
        print(f"dualstack batch: nothing to do: all {result.inputs} input(s) unchanged since "
              "the last complete run", file=sys.stderr)
    for entry in result.failed:
        error = entry.error
        message = error.message if error is not None else ""
        print(f"dualstack batch: failed input: {message}", file=sys.stderr)
    return result.exit_code
