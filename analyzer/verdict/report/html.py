"""One self-contained HTML file: verdicts, a timeline of flows by class, per-listener
charts, the findings, anomalies and the flows that matter. Inline CSS and SVG only."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Final

from analyzer.verdict.report import rows, svg
from analyzer.verdict.results import Verdicts

STYLE: Final[str] = """
body{font-family:system-ui,sans-serif;margin:24px;color:#212529;max-width:1100px}
h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #dee2e6}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #dee2e6;padding:3px 7px;
text-align:left;vertical-align:top}th{background:#f1f3f5}.finding{margin:4px 0}
.bad{color:#c92a2a}.flows td:nth-child(2){white-space:nowrap;font-weight:600}
"""


def html_table(headers: Sequence[str], body: Sequence[Sequence[str]], css: str = "") -> str:
    head = "".join(f"<th>{escape(text)}</th>" for text in headers)
    lines = "".join(
        "<tr>" + "".join(f"<td>{escape(str(cell))}</td>" for cell in row) + "</tr>"
        for row in body
    )
    return f'<table class="{css}"><thead><tr>{head}</tr></thead><tbody>{lines}</tbody></table>'


def _findings(verdicts: Verdicts) -> str:
    items = [f'<p class="finding">{escape(item.finding)}</p>'
             for item in rows.ordered_listeners(verdicts)]
    items += [f'<p class="finding bad">contradiction: {escape(text)}</p>'
              for text in verdicts.summary()["contradictions"]]
    return "".join(items) or "<p>No listeners in the snapshots.</p>"


def _extras(verdicts: Verdicts) -> str:
    out = ""
    if verdicts.connections:
        out += "<h2>Connected sockets in the snapshots</h2><ul>" + "".join(
            f"<li>{escape(item.explanation)}; flows {escape(str(item.flows))}</li>"
            for item in verdicts.connections) + "</ul>"
    if verdicts.anomalies:
        out += "<h2>Anomalies</h2>" + html_table(
            ("kind", "description", "source", "flows"),
            [[item.kind, item.description, item.source, str(item.flows[:50])]
             for item in verdicts.anomalies], "anomalies")
    return out


def render(verdicts: Verdicts) -> str:
    listed, left_out = rows.listed_flows(verdicts)
    flows_html = html_table(rows.FLOW_HEADERS, listed, "flows")
    if left_out:
        flows_html += f"<p>... {left_out} more (use --format json for all)</p>"
    hosts = "".join(f"<li>{escape(text)}</li>" for text in rows.host_lines(verdicts))
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<title>dualstack verify</title>"
        f"<style>{STYLE}</style></head><body>"
        "<h1>dualstack verify: which connections reached an IPv6 listener over IPv4?</h1>"
        f"<ul>{hosts}</ul>"
        "<h2>Listeners</h2>"
        + html_table(rows.LISTENER_HEADERS, rows.listener_rows(verdicts), "listeners")
        + "<h2>Findings</h2>" + _findings(verdicts)
        + "<h2>Flows per class</h2>"
        + html_table(("class", "flows"), rows.class_rows(verdicts), "classes")
        + "<h2>Timeline of flows by class</h2>" + svg.timeline(verdicts)
        + "<h2>Connections per listener</h2>" + svg.listener_bars(rows.ordered_listeners(verdicts))
        + _extras(verdicts)
        + "<h2>Flows that matter</h2>" + flows_html
        + "</body></html>\n"
    )
