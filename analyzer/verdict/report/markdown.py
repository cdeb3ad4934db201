"""Markdown: the table view as GitHub-flavoured Markdown tables."""

from __future__ import annotations

from collections.abc import Sequence

from analyzer.verdict.report import rows
from analyzer.verdict.results import Verdicts


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def md_table(headers: Sequence[str], body: Sequence[Sequence[str]]) -> list[str]:
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(_cell(cell) for cell in row) + " |" for row in body]
    return out


def render(verdicts: Verdicts) -> str:
    lines = ["# dualstack verify", "", *[f"- {text}" for text in rows.host_lines(verdicts)]]
    listeners = md_table(rows.LISTENER_HEADERS, rows.listener_rows(verdicts))
    lines += ["", "## Listeners", "", *listeners]
    findings = [f"- {_cell(item.finding)}" for item in rows.ordered_listeners(verdicts)]
    lines += ["", "## Findings", "", *findings]
    lines += [f"- **contradiction**: {_cell(text)}"
              for text in verdicts.summary()["contradictions"]]
    classes = md_table(("class", "flows"), rows.class_rows(verdicts))
    lines += ["", "## Flows per class", "", *classes]
    if verdicts.connections:
        lines += ["", "## Connected sockets in the snapshots", ""]
        lines += [f"- {_cell(item.explanation)}; flows {item.flows}"
                  for item in verdicts.connections]
    if verdicts.anomalies:
        lines += ["", "## Anomalies", ""]
        lines += [f"- `{item.kind}`: {item.description} ({item.source}); flows {item.flows[:50]}"
                  for item in verdicts.anomalies]
    listed, left_out = rows.listed_flows(verdicts)
    if listed:
        lines += ["", "## Flows that matter", ""]
        lines += md_table(rows.FLOW_HEADERS, listed)
        if left_out:
            lines += ["", f"... {left_out} more"]
    return "\n".join(lines) + "\n"
