"""The human view: listeners with verdicts first, then flows per class, then the flows
that matter (aligned columns, like ss and netstat)."""

from __future__ import annotations

from collections.abc import Sequence

from analyzer.verdict.report import rows
from analyzer.verdict.results import Verdicts


def aligned(headers: Sequence[str], body: Sequence[Sequence[str]]) -> list[str]:
    """Left-aligned columns separated by two spaces; the last column is not padded."""
    widths = [max(len(str(row[col])) for row in [headers, *body]) for col in range(len(headers))]
    out = []
    for row in [[text.upper() for text in headers], *body]:
        cells = [str(cell).ljust(width) for cell, width in zip(row[:-1], widths, strict=False)]
        out.append("  ".join([*cells, str(row[-1])]).rstrip())
    return out


def render(verdicts: Verdicts) -> str:
    lines = ["Listeners", *rows.host_lines(verdicts)]
    lines += aligned(rows.LISTENER_HEADERS, rows.listener_rows(verdicts))
    lines += ["", "Findings"] + [f"  {item.finding}" for item in rows.ordered_listeners(verdicts)]
    lines += [f"  contradiction: {text}" for text in verdicts.summary()["contradictions"]]
    lines += ["", "Flows per class", *aligned(("class", "flows"), rows.class_rows(verdicts))]
    if verdicts.connections:
        lines += ["", "Connected sockets in the snapshots"]
        lines += [f"  {item.explanation}; flows {item.flows or 'none in the capture'}"
                  for item in verdicts.connections]
    if verdicts.anomalies:
        lines += ["", "Anomalies"]
        lines += [f"  {item.kind}: {item.description} ({item.source}); "
                  f"{len(item.flows)} flows: {item.flows[:20]}" for item in verdicts.anomalies]
    listed, left_out = rows.listed_flows(verdicts)
    if listed:
        lines += ["", "Flows that matter"]
        lines += aligned(rows.FLOW_HEADERS, listed)
        if left_out:
            lines.append(f"... {left_out} more (use --format json for all)")
    return "\n".join(lines) + "\n"
