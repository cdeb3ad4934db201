"""The `dualstack` command line: one subcommand per module of analyzer.commands.

Exit codes: 0 success; 1 an input error after everything readable was written;
2 usage error, unreadable input, or an output that cannot be written (disk full).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib
import os
import sys
from collections.abc import Sequence

# We do no linear algebra: idle OpenBLAS threads would only spin on the other core.
# Set before any command imports numpy; worker processes inherit it.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from analyzer import __version__
from analyzer.errors import INTERRUPTED_EXIT, DualstackError

# Module names under analyzer.commands, in the order `--help` lists them.
COMMANDS: tuple[str, ...] = (
    "packets",
    "stats",
    "flows",
    "verify",
    "batch",
    "collect",
    "snapshot",
    "synth",
)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser with every subcommand, or with `only` that one (each command module
    is imported to register it, so a run imports just the command it runs)."""
    parser = argparse.ArgumentParser(
        prog="dualstack",
        description="Which connections really reached an IPv6 listener over IPv4?",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS if only is None else (only,):
        module = importlib.import_module(f"analyzer.commands.{name}")
        sub = subparsers.add_parser(
            module.NAME, help=module.HELP, description=module.__doc__
        )
        module.add_arguments(sub)
        sub.set_defaults(run=module.run)
    return parser


def _command_named(argv: Sequence[str]) -> str | None:
    """The subcommand the arguments name, if the first positional one is a command."""
    first = next((arg for arg in argv if not arg.startswith("-")), None)
    return first if first in COMMANDS else None


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(_command_named(argv))
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.run(args))
    except DualstackError as exc:
        print(f"dualstack {args.command}: {exc}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:
        sys.stderr.close()
        return 0
    except OSError as exc:  # an output that could not be written: disk full, I/O error
        where = f": {exc.filename}" if exc.filename else ""
        print(f"dualstack {args.command}: {exc.strerror or exc}{where}", file=sys.stderr)
        _drop_stdout()
        return 2
    except KeyboardInterrupt:
        print(f"dualstack {args.command}: interrupted", file=sys.stderr)
        return INTERRUPTED_EXIT


def _drop_stdout() -> None:
    """Send what is left in stdout's buffer nowhere: flushing it again at exit would fail
    again (and print a traceback the user cannot act on)."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def run_program() -> None:
    """The process's entry point (`python -m analyzer`): `main` on the command line, then
    exit with its code. Every object is frozen first: the interpreter's last garbage
    collections at exit then skip them (numpy's and pyarrow's modules make that walk
    take 15-35 ms, a tenth of a short run)."""
    code = main()
    gc.freeze()
    sys.exit(code)
