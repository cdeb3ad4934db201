"""verify's work over shares of the flows, and the answer put together again.

`verify` judges a capture's flows as one share, in this process. `dualstack batch`
splits an archive's flows by flow key into shares that live in processes of their own
(`analyzer.archive.partitions`) and judges them all with `correlate`. What needs every
flow is merged between the phases: the capture's server addresses (for hosts that have
none of their own) and the evidence about each listener. The rest is each share's own
business: grouping, classes, connection rows, anomalies, the flows worth listing.

The phases, each called on every share (`Shares.call`) before the next starts:

1. ``servers()``: the share's distinct server addresses;
2. ``gather(correlator)``: each flow's host, epoch and group, and the evidence the
   groups give about each listener;
3. ``judge(correlator)``, with each listener's knowledge resolved from all the evidence:
   each flow's class, listener, snapshot and reason, and a `ShareVerdicts` of what the
   share adds to the whole (flows named by id).

A share's flow ids are ``ids[row]``: the flows' ranks in time order over all shares, so
they name the same flows as one run over all of them would (ties broken by share).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np

from analyzer.snapshot.schema import Snapshot
from analyzer.verdict.addresses import address_rows, unpacked
from analyzer.verdict.anomalies import Anomaly, find_anomalies, merge_anomalies
from analyzer.verdict.correlate import (
    DEFAULT_TOLERANCE_S,
    Correlator,
    FlowJudge,
    build_hosts,
    classify_by_connection_rows,
    connection_rows,
    epoch_per_flow,
    finding,
    flow_column,
    flow_ids,
    group_flows,
    host_of,
    judge_groups,
    note_guessed_clients,
    resolve_listeners,
    snapshot_info,
)
from analyzer.verdict.factorize import unique_rows
from analyzer.verdict.inference import Evidence
from analyzer.verdict.model import IPAddress
from analyzer.verdict.report.rows import FLOW_LIMIT, flow_rows, mattering_flows, mattering_rank
from analyzer.verdict.results import ConnectionMatch, Verdicts

_LISTS = ("ipv4_accepted", "ipv6_accepted", "ipv4_refused", "ipv6_refused")
_EVIDENCE = ("accepted", "refused", "accepted_against", "refused_against")


@dataclass
class ShareVerdicts:
    """What one share adds to the whole answer; flows are named by id."""

    classes: dict[str, int]
    taken: list[dict[str, np.ndarray]]  # per listener, its ListenerFlows lists as arrays
    connections: list[tuple[int, ConnectionMatch]]
    anomalies: list[Anomaly]
    listed: list[tuple[int, int, list[str]]]  # (rank, id, row) of its flows worth listing
    worth_listing: int  # how many of its flows are, listed or not


class FlowShare:
    """verify's per-flow work over one share of the flows (see the module docstring)."""

    def __init__(self, columns: Mapping[str, np.ndarray], ids: np.ndarray | None = None) -> None:
        self.columns = columns
        self.ids = ids
        self.server, self.client = address_rows(columns, "server"), address_rows(columns, "client")
        self.verdicts: Verdicts | None = None
        self._judge: FlowJudge | None = None
        self._epoch_of = np.empty(0, dtype=np.int64)
        self._group_of = np.empty(0, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.server)

    def servers(self) -> set[IPAddress]:
        return {unpacked(row.tobytes()) for row in unique_rows(self.server)[0]}

    def gather(self, correlator: Correlator) -> list[Evidence]:
        """Phase 2: the flows placed and grouped; the evidence about each listener."""
        first_ns = flow_column(self.columns, "first_ts_ns").astype(np.int64)
        server_host = host_of(self.server, correlator.hosts)
        client_host = host_of(self.client, correlator.hosts)
        self._epoch_of = epoch_per_flow(correlator, correlator.host_epochs, server_host,
                                        first_ns)
        groups, self._group_of = group_flows(self.columns, self.server, self._epoch_of,
                                             server_host >= 0, client_host >= 0)
        self._judge = FlowJudge(correlator, groups, self.ids)
        self._judge.gather_evidence()
        return self._judge.evidence

    def judge(self, correlator: Correlator) -> ShareVerdicts:
        """Phase 3: every flow judged (`self.verdicts`, rows as ids within the share)."""
        if self._judge is None:
            raise RuntimeError("FlowShare.judge before gather")
        self._judge.c = correlator  # with the listeners' knowledge resolved
        flow_class, flow_listener, flow_reason = judge_groups(self._judge, self._group_of)
        lookup_snapshot = np.array([epoch.snapshots[-1] for epoch in correlator.epochs] + [-1],
                                   dtype=np.int64)
        matches = connection_rows(correlator, self.columns)
        classify_by_connection_rows([match for _, match in matches], self.columns,
                                    flow_class, flow_reason)
        note_guessed_clients(self.columns, flow_reason)
        self.verdicts = Verdicts(
            flow_columns=self.columns, flow_class=flow_class, flow_listener=flow_listener,
            flow_snapshot=lookup_snapshot[self._epoch_of],  # epoch -1: the trailing -1
            flow_reason=flow_reason, listeners=correlator.listeners,
            connections=[match for _, match in matches],
            anomalies=find_anomalies(self.columns),
            snapshots=[], hosts=[], settings={})  # `correlate` gives the whole answer these
        return self._share_verdicts(matches)

    def _share_verdicts(self, matches: list[tuple[int, ConnectionMatch]]) -> ShareVerdicts:
        verdicts = self.verdicts
        assert verdicts is not None
        chosen, left_out = mattering_flows(verdicts)
        listed = [(mattering_rank(str(verdicts.flow_class[row])), self.flow_id(row),
                   [str(self.flow_id(row)), *text])
                  for row, (_, *text) in zip(chosen, flow_rows(verdicts, chosen), strict=True)]
        return ShareVerdicts(
            classes=verdicts.class_counts(),
            taken=[{name: np.asarray(getattr(flows, name), dtype=np.int64) for name in _LISTS}
                   for flows in (self._judge.taken if self._judge else [])],
            connections=[(place, replace(match, flows=flow_ids(self.ids, match.flows)))
                         for place, match in matches],
            anomalies=[replace(item, flows=flow_ids(self.ids, item.flows))
                       for item in verdicts.anomalies],
            listed=listed, worth_listing=len(chosen) + left_out)

    def flow_id(self, row: int) -> int:
        return row if self.ids is None else int(self.ids[row])


class Shares(Protocol):
    """Runs a phase on every share and gives their answers, in share order: `call`, or
    `send` and later `receive` (shares in other processes work in between)."""

    def send(self, method: str, *args: Any) -> None: ...

    def receive(self) -> list[Any]: ...

    def call(self, method: str, *args: Any) -> list[Any]: ...


@dataclass
class LocalShares:
    """Shares in this process, called one after the other (at `send`)."""

    shares: list[FlowShare] = field(default_factory=list)
    _answers: list[Any] = field(default_factory=list)

    def send(self, method: str, *args: Any) -> None:
        self._answers = [getattr(share, method)(*args) for share in self.shares]

    def receive(self) -> list[Any]:
        answers, self._answers = self._answers, []
        return answers

    def call(self, method: str, *args: Any) -> list[Any]:
        self.send(method, *args)
        return self.receive()


def correlate(
    shares: Shares,
    snapshots: Sequence[Snapshot],
    *,
    os: str | None = None,
    host_addrs: Iterable[str] | None = None,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
) -> Verdicts:
    """The whole answer over every share's flows, without the flows themselves: the flow
    columns of the result are empty (each share keeps its own, see `FlowShare.verdicts`),
    and its counts and listed flows are the shares' together."""
    servers: set[IPAddress] = set().union(*shares.call("servers"))
    hosts = build_hosts(snapshots, host_addrs, servers)
    correlator = Correlator(snapshots, os, int(tolerance_s * 1e9), hosts)
    resolve_listeners(correlator, _merged_evidence(shares.call("gather", correlator),
                                                   len(correlator.listeners)))
    judged: list[ShareVerdicts] = shares.call("judge", correlator)
    for number, listener in enumerate(correlator.listeners):
        for name in _LISTS:
            ids = np.concatenate([share.taken[number][name] for share in judged])
            setattr(listener, name, np.sort(ids).tolist())
        listener.finding = finding(listener)
    return Verdicts(
        flow_columns={}, flow_class=np.empty(0, dtype=object),
        flow_listener=np.empty(0, dtype=np.int64), flow_snapshot=np.empty(0, dtype=np.int64),
        flow_reason=np.empty(0, dtype=object), listeners=correlator.listeners,
        connections=_merged_connections(share.connections for share in judged),
        anomalies=merge_anomalies(share.anomalies for share in judged),
        snapshots=[snapshot_info(index, item) for index, item in enumerate(snapshots)],
        hosts=[host.to_dict() for host in hosts],
        settings={"os": os, "tolerance_s": tolerance_s},
        class_totals=dict(sum((Counter(share.classes) for share in judged), Counter())),
        listed=_merged_listing(judged),
    )


def _merged_evidence(found: list[list[Evidence]], listeners: int) -> list[Evidence]:
    merged = [Evidence() for _ in range(listeners)]
    for share in found:
        for total, part in zip(merged, share, strict=True):
            for name in _EVIDENCE:
                getattr(total, name).extend(getattr(part, name))
    return merged


def _merged_connections(shares: Iterable[list[tuple[int, ConnectionMatch]]]
                        ) -> list[ConnectionMatch]:
    """Per connected socket, the share's match that found its flows (a connection's flows
    are all in one share: shares split by flow key), else any (all alike)."""
    chosen: dict[int, ConnectionMatch] = {}
    for place, match in (item for share in shares for item in share):
        if place not in chosen or (match.flows and not chosen[place].flows):
            chosen[place] = match
    return [chosen[place] for place in sorted(chosen)]


def _merged_listing(judged: list[ShareVerdicts]) -> tuple[list[list[str]], int]:
    """The flows worth listing over all shares: each share listed its first FLOW_LIMIT
    by (rank, id), so the first FLOW_LIMIT of all of them are among those."""
    candidates = sorted((item for share in judged for item in share.listed),
                        key=lambda item: (item[0], item[1]))[:FLOW_LIMIT]
    total = sum(share.worth_listing for share in judged)
    return [row for _, _, row in candidates], total - len(candidates)


def verify(
    flows: Any,
    snapshots: Sequence[Snapshot],
    *,
    os: str | None = None,
    host_addrs: Iterable[str] | None = None,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
) -> Verdicts:
    """Classify every flow and judge every listener (`analyzer.verdict.correlate`)."""
    columns: Mapping[str, np.ndarray] = getattr(flows, "columns", flows)
    share = FlowShare(columns)
    whole = correlate(LocalShares([share]), snapshots, os=os, host_addrs=host_addrs,
                      tolerance_s=tolerance_s)
    judged = share.verdicts
    assert judged is not None
    return replace(whole, flow_columns=columns, flow_class=judged.flow_class,
                   flow_listener=judged.flow_listener, flow_snapshot=judged.flow_snapshot,
                   flow_reason=judged.flow_reason, class_totals=None, listed=None)
