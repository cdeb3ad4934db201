"""Listener snapshots from text: `snapshot import` reads netstat/ss/lsof/sockstat and
/proc/net outputs of Linux, macOS, FreeBSD and Windows into snapshot JSON;
`snapshot show` prints a snapshot's listeners and whether each takes IPv4, IPv6 or
both, and how we know.

Import is strict: the first line not understood is an error naming file and line
(exit 2); with --keep-going such lines are recorded in the snapshot's `errors`, the
snapshot is written and the exit code is 1. One input gives a JSON document, several
give JSON Lines (one snapshot per input).
"""

from __future__ import annotations

import argparse
import json
import sys

from analyzer.errors import UsageError
from analyzer.snapshot.importers import FORMAT_NAMES, import_text
from analyzer.snapshot.inputs import load_snapshot_file, read_text
from analyzer.snapshot.schema import OS_NAMES, Snapshot, parse_utc
from analyzer.snapshot.show import format_table, listener_rows
from analyzer.snapshot.store import dump_snapshots

NAME = "snapshot"
HELP = "import netstat/ss/lsof/sockstat text as snapshots; show a snapshot's listeners"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    importing = actions.add_parser("import", help="command output text -> snapshot JSON")
    importing.add_argument("files", nargs="+", metavar="FILE", help="text files; '-' stdin")
    importing.add_argument("--format", choices=FORMAT_NAMES, default=None,
                           help="force the input format (default: detected)")
    importing.add_argument("--os", choices=OS_NAMES, default=None, dest="os_name",
                           help="the OS the text came from (default: implied by the format)")
    importing.add_argument("--host", default=None, help="host name to record")
    importing.add_argument("--taken-at", default=None, metavar="TIME",
                           help="when the text was taken: ISO-8601 with Z or an offset")
    importing.add_argument("--keep-going", action="store_true",
                           help="record lines not understood instead of stopping (exit 1)")
    importing.add_argument("-o", "--output", default="-", metavar="PATH",
                           help="write here instead of stdout")
    showing = actions.add_parser("show", help="table of a snapshot's listeners")
    showing.add_argument("file", metavar="FILE",
                         help="snapshot JSON or JSON Lines, or netstat/ss/lsof/sockstat text "
                              "(imported on the fly); '-' stdin")
    showing.add_argument("--os", choices=OS_NAMES, default=None, dest="os_name",
                         help="the OS imported text came from (default: implied by the format)")
    showing.add_argument("--all", action="store_true", dest="everything",
                         help="every socket, not only listeners")
    showing.add_argument("--format", choices=("table", "json", "jsonl"), default="table",
                         help="output format (default: table)")
    showing.add_argument("-H", "--no-header", action="store_true", help="no title/header")


def run(args: argparse.Namespace) -> int:
    if args.action == "import":
        return _import(args)
    return _show(args)


def _import(args: argparse.Namespace) -> int:
    taken_at = _taken_at(args.taken_at)
    snapshots = [
        import_text(read_text(path), path, fmt=args.format, os_name=args.os_name,
                    host=args.host, taken_at=taken_at, keep_going=args.keep_going)
        for path in args.files
    ]
    dump_snapshots(snapshots, args.output)
    errors = [issue for snap in snapshots for issue in snap.errors]
    for issue in errors:
        print(f"dualstack snapshot: {issue.source}: line {issue.line}: {issue.message}",
              file=sys.stderr)
    return 1 if errors else 0


def _show(args: argparse.Namespace) -> int:
    snapshots = load_snapshot_file(args.file, args.os_name)
    for index, snap in enumerate(snapshots):
        if args.format == "table":
            if index:
                sys.stdout.write("\n")
            sys.stdout.write(format_table(snap, args.everything, header=not args.no_header))
        else:
            _write_json(snap, args)
    return 0


def _write_json(snap: Snapshot, args: argparse.Namespace) -> None:
    rows = listener_rows(snap, args.everything)
    context = {"host": snap.host, "os": snap.os, "taken_at": snap.taken_at}
    if args.format == "json":
        json.dump({**context, "listeners": rows}, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return
    for row in rows:
        sys.stdout.write(json.dumps({**context, **row}) + "\n")


def _taken_at(text: str | None) -> str | None:
    if text is None:
        return None
    try:
        return parse_utc(text)
    except ValueError as exc:
        raise UsageError(f"--taken-at: {exc}") from None
