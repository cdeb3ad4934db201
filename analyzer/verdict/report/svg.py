"""Inline SVG charts for the HTML report: a timeline of flows by class, and per-listener
bars of IPv4/IPv6 connections accepted and refused. Plain strings, no libraries."""

from __future__ import annotations

from datetime import datetime, timezone
from html import escape
from typing import Final

import numpy as np

from analyzer.verdict.results import FLOW_CLASSES, ListenerVerdict, Verdicts

CLASS_COLORS: Final[dict[str, str]] = {
    "v4-via-v6": "#d9480f", "v4-native": "#2b8a3e", "v6-native": "#1c7ed6",
    "refused": "#c92a2a", "unanswered": "#868e96", "unmatched": "#862e9c",
}
BAR_PARTS: Final[tuple[tuple[str, str, str], ...]] = (
    ("ipv4_accepted", "IPv4 accepted", "#d9480f"),
    ("ipv6_accepted", "IPv6 accepted", "#1c7ed6"),
    ("ipv4_refused", "IPv4 refused", "#c92a2a"),
    ("ipv6_refused", "IPv6 refused", "#f59f00"),
)
WIDTH: Final[int] = 960
LABEL_W: Final[int] = 110
LANE_H: Final[int] = 26
TIMELINE_LIMIT: Final[int] = 5000


def _utc(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def timeline(verdicts: Verdicts) -> str:
    """One lane per class; each flow a bar from its first to its last packet."""
    count = len(verdicts)
    height = LANE_H * len(FLOW_CLASSES) + 40
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="timeline" width="{WIDTH}" '
             f'height="{height}" role="img" aria-label="timeline of flows by class">']
    for lane, name in enumerate(FLOW_CLASSES):
        y = lane * LANE_H + 10
        parts.append(f'<text x="4" y="{y + 15}" font-size="12">{name}</text>'
                     f'<line x1="{LABEL_W}" x2="{WIDTH - 10}" y1="{y + LANE_H - 3}" '
                     f'y2="{y + LANE_H - 3}" stroke="#e9ecef"/>')
    if count:
        first = np.asarray(verdicts.flow_columns["first_ts_ns"], dtype=np.int64)
        last = np.asarray(verdicts.flow_columns["last_ts_ns"], dtype=np.int64)
        start, end = int(first.min()), int(max(last.max(), first.min() + 1))
        scale = (WIDTH - LABEL_W - 12) / (end - start)
        rows = np.linspace(0, count - 1, min(count, TIMELINE_LIMIT)).astype(int)
        for row in sorted(set(rows.tolist())):
            name = str(verdicts.flow_class[row])
            lane = FLOW_CLASSES.index(name)
            x = LABEL_W + (int(first[row]) - start) * scale
            w = max(2.0, (int(last[row]) - int(first[row])) * scale)
            tip = escape(f"flow {row}: {verdicts.flow_reason[row]}")
            parts.append(f'<rect class="flow {name}" x="{x:.1f}" y="{lane * LANE_H + 14}" '
                         f'width="{w:.1f}" height="{LANE_H - 10}" fill="{CLASS_COLORS[name]}" '
                         f'fill-opacity="0.75"><title>{tip}</title></rect>')
        axis_y = height - 8
        parts.append(f'<text x="{LABEL_W}" y="{axis_y}" font-size="11">{_utc(start)} UTC</text>'
                     f'<text x="{WIDTH - 10}" y="{axis_y}" font-size="11" text-anchor="end">'
                     f'{_utc(end)} UTC ({(end - start) / 1e9:.3f} s)</text>')
    parts.append("</svg>")
    return "".join(parts)


def listener_bars(listeners: list[ListenerVerdict]) -> str:
    """One stacked bar per listener: IPv4/IPv6 accepted and refused."""
    label_w, bar_h = 300, 22
    height = bar_h * len(listeners) + 34
    peak = max([sum(len(getattr(item, key)) for key, _, _ in BAR_PARTS) for item in listeners]
               + [1])
    scale = (WIDTH - label_w - 60) / peak
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="listeners" width="{WIDTH}" '
             f'height="{height}" role="img" aria-label="connections per listener">']
    for row, item in enumerate(listeners):
        y = row * bar_h + 4
        parts.append(f'<text x="4" y="{y + 15}" font-size="12">'
                     f'{escape(item.label)} ({escape(item.owner)})</text>')
        x = float(label_w)
        for key, title, color in BAR_PARTS:
            value = len(getattr(item, key))
            if value:
                parts.append(f'<rect x="{x:.1f}" y="{y + 2}" width="{value * scale:.1f}" '
                             f'height="{bar_h - 6}" fill="{color}"><title>{value} {title}'
                             '</title></rect>')
                x += value * scale
        total = sum(len(getattr(item, key)) for key, _, _ in BAR_PARTS)
        parts.append(f'<text x="{x + 6:.1f}" y="{y + 15}" font-size="11">{total}</text>')
    legend_y = height - 8
    for position, (_, title, color) in enumerate(BAR_PARTS):
        x = label_w + position * 140
        parts.append(f'<rect x="{x}" y="{legend_y - 10}" width="12" height="12" fill="{color}"/>'
                     f'<text x="{x + 16}" y="{legend_y}" font-size="11">{title}</text>')
    parts.append("</svg>")
    return "".join(parts)
