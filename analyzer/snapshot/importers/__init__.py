"""Import the text of netstat, ss, lsof, sockstat and /proc/net as snapshots.

One module per format; each has NAME, TOOL, OS (the OS the format implies, or None),
`score(lines)` (how much the text looks like it) and `parse(lines, ledger)`.
`import_text` detects the format (or takes `fmt`), parses, and accounts for every
line: strict by default (the first line not understood raises SnapshotError naming
file and line), or with `keep_going` the errors are recorded in the snapshot.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

from analyzer.errors import SnapshotError
from analyzer.snapshot.importers import (
    lsof,
    lsof_fields,
    netstat_bsd,
    netstat_linux,
    netstat_windows,
    procnet,
    sockstat,
    ss,
)
from analyzer.snapshot.importers.common import Ledger
from analyzer.snapshot.schema import OS_NAMES, Snapshot

FORMATS: dict[str, ModuleType] = {
    module.NAME: module
    for module in (netstat_linux, netstat_windows, netstat_bsd, sockstat, ss, lsof, lsof_fields,
                   procnet)
}
# Names for --format that force a variant: (module, option given to its parse()).
VARIANTS: dict[str, tuple[ModuleType, str]] = {
    "ss-old": (ss, "old"),
    "ss-new": (ss, "new"),
    "procnet-tcp": (procnet, "tcp"),
    "procnet-udp": (procnet, "udp"),
    "netstat-bsd-inet": (netstat_bsd, netstat_bsd.INET_ONLY),
}
FORMAT_NAMES: tuple[str, ...] = (*FORMATS, *VARIANTS)

_DEFAULT_KEYS = {
    "linux": "net.ipv6.bindv6only",
    "freebsd": "net.inet6.ip6.v6only",
    "netbsd": "net.inet6.ip6.v6only",
    "openbsd": "net.inet6.ip6.v6only",
    "macos": "net.inet6.ip6.v6only",
}


def detect(lines: list[str], source: str) -> ModuleType:
    """The format whose signature the text matches best; SnapshotError when none does."""
    head = lines[:400]
    scores = sorted(
        ((module.score(head), name) for name, module in FORMATS.items()),
        reverse=True,
    )
    best, name = scores[0]
    if best <= 0:
        raise SnapshotError(source, None, "format not recognised (supported: "
                            f"{', '.join(FORMATS)}; force one with --format)")
    if scores[1][0] == best:
        raise SnapshotError(source, None, f"format ambiguous between {name} and "
                            f"{scores[1][1]}; choose one with --format")
    return FORMATS[name]


def import_text(
    text: str,
    source: str,
    fmt: str | None = None,
    os_name: str | None = None,
    host: str | None = None,
    taken_at: str | None = None,
    keep_going: bool = False,
) -> Snapshot:
    """Parse command output into a Snapshot (see the module docstring)."""
    lines = text.splitlines()
    if os_name is not None and os_name not in OS_NAMES:
        raise SnapshotError(source, None, f"unknown OS {os_name!r}")
    module, option = _choose(lines, source, fmt)
    os_final, os_source = _os_of(module, lines, os_name)
    if module is netstat_bsd and option is None:
        option = netstat_bsd.option_for(os_final)
    ledger = Ledger(source, len(lines))
    module.parse(lines, ledger, option)
    if ledger.errors and not keep_going:
        first = ledger.errors[0]
        more = len(ledger.errors) - 1
        tail = f" (and {more} more lines not understood; --keep-going records them)" if more \
            else ""
        raise SnapshotError(source, first.line, f"{module.NAME}: {first.message}{tail}")
    name = Path(source).name if source != "-" else "standard input"
    return Snapshot(
        host=host,
        os=os_final,
        taken_at=taken_at,
        defaults={_DEFAULT_KEYS[os_final]: None} if os_final in _DEFAULT_KEYS else {},
        sources={"sockets": f"{module.TOOL} text: {name}", "format": module.NAME,
                 "os": os_source},
        sockets=ledger.sockets,
        unseen=_unseen(module),
        errors=ledger.errors,
        lines=ledger.counts(),
        skipped=dict(ledger.skipped),
    )


def _choose(lines: list[str], source: str, fmt: str | None) -> tuple[ModuleType, str | None]:
    if fmt in VARIANTS:
        return VARIANTS[fmt]
    if fmt is not None and fmt not in FORMATS:
        raise SnapshotError(source, None,
                            f"unknown format {fmt!r} (one of {', '.join(FORMAT_NAMES)})")
    module = FORMATS[fmt] if fmt else detect(lines, source)
    return module, procnet.proto_of(lines, source) if module is procnet else None


def _os_of(module: ModuleType, lines: list[str], os_name: str | None
           ) -> tuple[str | None, str]:
    """The snapshot's OS and where it came from: --os, the format, or the text."""
    if os_name:
        return os_name, "--os"
    if module.OS:
        return module.OS, f"implied by {module.NAME}"
    found = netstat_bsd.os_of(lines) if module is netstat_bsd else None
    if found:
        return found[0], f"detected: {found[1]}"
    return None, "unknown"


def _unseen(module: ModuleType) -> list[str]:
    return ["host addresses and sysctl defaults: not in command text", *module.UNSEEN]
