"""Damaged command text never crashes an importer: every line still gets one fate.

Real corpus lines are cut, shuffled and sprinkled with junk by hypothesis; the import
(with --keep-going) must either refuse the whole text with a SnapshotError naming the
file, or account for every line, with errors that name their line.
"""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analyzer.errors import SnapshotError
from analyzer.snapshot.importers import FORMAT_NAMES, import_text

CORPUS = Path(os.environ.get("DUALSTACK_CORPUS", Path(__file__).resolve().parents[2] / "shared"
                             / "corpus")) / "snapshots"
SAMPLES = [
    "inspec/cmd/ss-tulpen", "inspec/cmd/netstat-tulpen", "inspec/cmd/sockstat",
    "jc/freebsd12/netstat-an.out", "jc/windows/windows-10/netstat-aon.out",
    "jc/generic/ss-wide.out", "jc/linux-proc/net_tcp6", "inspec/cmd/lsof-nP-i-FpctPn",
    "jc/ubuntu-18.04/netstat-sudo-lnp-space.out",
]


def corpus_lines() -> list[str]:
    lines: list[str] = []
    for name in SAMPLES:
        path = CORPUS / name
        if path.exists():
            lines.extend(path.read_text(encoding="utf-8").splitlines()[:40])
    return lines or ["tcp 0 0 0.0.0.0:22 0.0.0.0:* LISTEN"]


LINES = corpus_lines()
JUNK = st.text(alphabet=st.sampled_from(list(" :.[]*%()/-,=\"0123456789abcdefLISTENtcpudp6")),
               max_size=40)


@st.composite
def damaged_line(draw: st.DrawFn) -> str:
    line = draw(st.sampled_from(LINES))
    tokens = line.split()
    action = draw(st.sampled_from(["keep", "cut", "drop", "junk", "swap"]))
    if action == "cut":
        return line[: draw(st.integers(0, len(line)))]
    if action == "drop" and tokens:
        del tokens[draw(st.integers(0, len(tokens) - 1))]
    elif action == "junk":
        tokens.insert(draw(st.integers(0, len(tokens))), draw(JUNK))
    elif action == "swap" and len(tokens) > 1:
        i, j = draw(st.integers(0, len(tokens) - 1)), draw(st.integers(0, len(tokens) - 1))
        tokens[i], tokens[j] = tokens[j], tokens[i]
    return "   ".join(tokens)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(damaged_line(), min_size=1, max_size=12),
       st.none() | st.sampled_from(FORMAT_NAMES))
def test_damaged_text_is_accounted_or_refused(lines, fmt):
    text = "\n".join(lines) + "\n"
    try:
        snap = import_text(text, "damaged.txt", fmt=fmt, keep_going=True)
    except SnapshotError as exc:
        assert str(exc).startswith("damaged.txt: ")
        return
    assert snap.lines is not None
    assert snap.lines["total"] == len(text.splitlines())
    assert all(issue.line and 1 <= issue.line <= len(lines) for issue in snap.errors)
    assert all(sock.line and 1 <= sock.line <= len(lines) for sock in snap.sockets)
