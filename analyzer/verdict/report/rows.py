"""The rows every human format shows: listeners with verdicts, classes, flows that matter.

Shared by the table, Markdown and HTML renderers so they say the same thing.
"""

from __future__ import annotations

from typing import Final

import numpy as np

from analyzer.verdict.addresses import texts_at
from analyzer.verdict.results import ListenerVerdict, Verdicts

LISTENER_HEADERS: Final[tuple[str, ...]] = (
    "listener", "process", "v6only", "accepts IPv4", "known from",
    "IPv4 ok", "IPv6 ok", "IPv4 refused", "IPv6 refused",
)
FLOW_HEADERS: Final[tuple[str, ...]] = (
    "id", "class", "proto", "client", "server", "port", "outcome", "reason",
)
_FLOW_ROW_COLUMNS = ("proto", "client", "client_port", "server", "server_port", "outcome")
# Classes a reader should see first; v4-native and v6-native are the unsurprising ones.
MATTERING: Final[tuple[str, ...]] = ("v4-via-v6", "refused", "unmatched", "unanswered")
FLOW_LIMIT: Final[int] = 200


def yes_no(value: bool | None) -> str:
    return "?" if value is None else ("yes" if value else "no")


def listener_row(item: ListenerVerdict) -> list[str]:
    return [
        item.label, item.owner, "-" if item.family == 4 else yes_no(item.v6only),
        yes_no(item.knowledge.accepts_ipv4),
        item.knowledge.known_from or "-", str(len(item.ipv4_accepted)),
        str(len(item.ipv6_accepted)), str(len(item.ipv4_refused)), str(len(item.ipv6_refused)),
    ]


def ordered_listeners(verdicts: Verdicts) -> list[ListenerVerdict]:
    """Listeners by host, port, protocol and family (ids stay as the flows refer to them)."""
    return sorted(verdicts.listeners, key=lambda item: (
        item.host or "", item.local_port or 0, item.proto, item.family, item.local_address))


def listener_rows(verdicts: Verdicts) -> list[list[str]]:
    return [listener_row(item) for item in ordered_listeners(verdicts)]


def class_rows(verdicts: Verdicts) -> list[list[str]]:
    return [[name, str(count)] for name, count in verdicts.class_counts().items()]


def mattering_flows(verdicts: Verdicts, limit: int = FLOW_LIMIT) -> tuple[list[int], int]:
    """Flow ids worth listing (by class order of MATTERING, then the other flows an
    anomaly names), and how many were left out. Only the listed ids become Python ints:
    an archive's report names 200 flows of millions."""
    classes = verdicts.flow_class
    by_class = [np.flatnonzero(classes == name) for name in MATTERING]
    anomalous = np.zeros(len(classes), dtype=bool)
    for item in verdicts.anomalies:
        anomalous[np.asarray(item.flows, dtype=np.int64)] = True
    for rows in by_class:
        anomalous[rows] = False
    chosen = np.concatenate([np.empty(0, np.int64), *by_class, np.flatnonzero(anomalous)])
    return chosen[:limit].tolist(), max(0, len(chosen) - limit)


def listed_flows(verdicts: Verdicts) -> tuple[list[list[str]], int]:
    """The rows of the flows worth listing, and how many were left out: as the verdicts
    were given them (`Verdicts.listed`: an archive's, merged from its shares), else
    chosen from its flows by `mattering_flows`."""
    if verdicts.listed is not None:
        return verdicts.listed
    chosen, left_out = mattering_flows(verdicts)
    return flow_rows(verdicts, chosen), left_out


def mattering_rank(flow_class: str) -> int:
    """Where a listed flow of this class comes (`mattering_flows`' order, by id within)."""
    return MATTERING.index(flow_class) if flow_class in MATTERING else len(MATTERING)


def flow_rows(verdicts: Verdicts, ids: list[int]) -> list[list[str]]:
    """The listed flows' rows. Their columns are taken first, so the text a row shows
    (addresses, names) is made for these flows only, not for every flow of an archive."""
    listed = np.asarray(ids, dtype=np.int64)
    columns = {name: texts_at(verdicts.flow_columns, name, listed) for name in _FLOW_ROW_COLUMNS}
    return [[
        str(index), str(verdicts.flow_class[index]), str(columns["proto"][row]),
        f"{columns['client'][row]}:{columns['client_port'][row]}",
        str(columns["server"][row]), str(columns["server_port"][row]),
        str(columns["outcome"][row]), str(verdicts.flow_reason[index]),
    ] for row, index in enumerate(ids)]


def host_lines(verdicts: Verdicts) -> list[str]:
    """``host web: 192.0.2.1, 2001:db8::1 (addresses from capture)``."""
    return [
        f"host {item['host'] or '(unnamed)'}: {', '.join(item['addresses']) or 'no addresses'}"
        f" (addresses from {item['addresses_from']})"
        for item in verdicts.hosts
    ]
