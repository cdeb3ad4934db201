"""Listeners that come and go between periodic collector snapshots."""

from __future__ import annotations

from analyzer.synth.scenarios.linux import DIAG_EVIDENCE, SOCK_DIAG
from analyzer.synth.scenarios.registry import scenario
from analyzer.synth.traffic import Traffic, both_families, tcp_listen

DEFAULTS: dict[str, int | None] = {"net.ipv6.bindv6only": 0}


@scenario("timeseries", os="linux")
def timeseries(t: Traffic) -> None:
    """Snapshots a minute apart: a dual-stack dev server stops and restarts while a
    v6-only one appears.

    Each flow is judged by the snapshot taken before it began; an answered flow to a
    port no snapshot shows (a short-lived server) is unmatched.
    """
    dev = t.listen(tcp_listen("::", 8000, v6only=False, pid=7001, process="python3",
                              user="dev", evidence=DIAG_EVIDENCE), True)
    grafana = t.listen(tcp_listen("::", 9000, v6only=True, pid=7300, process="grafana",
                                  user="grafana", evidence=DIAG_EVIDENCE), False)
    t.snapshot(-1, [dev], sources=SOCK_DIAG, defaults=DEFAULTS)
    t.visits(1.0,
             *both_families(8000, (3, "v4-via-v6"), (1, "v6-native")))
    t.snapshot(59, [grafana], sources=SOCK_DIAG, defaults=DEFAULTS)
    t.visits(61.0,
             ("tcp", 4, 2, 8000, "refused", "refused"),
             *both_families(9000, (2, "refused"), (2, "v6-native")),
             ("tcp", 4, 1, 7000, "accepted", "unmatched"))
    t.snapshot(119, [dev, grafana], sources=SOCK_DIAG, defaults=DEFAULTS)
    t.visits(121.0, ("tcp", 4, 2, 8000, "accepted", "v4-via-v6"))
