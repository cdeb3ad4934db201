"""Ground truth of a scenario: the class of every flow and the verdict of every listener.

Written as ``truth.json``::

    {"flows": [{"proto", "client", "client_port", "server", "server_port", "class"}],
     "listeners": [{"proto", "family", "local_address", "local_port", "accepts_ipv4"}],
     "anomalies": [{"kind", "proto", "client", "client_port", "server", "server_port"}]}

``anomalies`` names the flows that show an address or encapsulation worth reporting
(kinds as `analyzer.verdict.anomalies` names them: ipv4-mapped-on-wire, nat64, 6to4,
teredo, 6in4, ...); it is empty for most scenarios.

The values are stated by the scenario author when the traffic is made (a refused SYN
is ``refused`` because the scenario sent the RST), never computed by the analyzer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FLOW_CLASSES: tuple[str, ...] = (
    "v4-via-v6", "v4-native", "v6-native", "refused", "unanswered", "unmatched",
)


@dataclass(frozen=True)
class FlowTruth:
    proto: str
    client: str
    client_port: int
    server: str
    server_port: int
    cls: str

    def __post_init__(self) -> None:
        if self.cls not in FLOW_CLASSES:
            raise ValueError(f"unknown flow class {self.cls!r}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "proto": self.proto, "client": self.client, "client_port": self.client_port,
            "server": self.server, "server_port": self.server_port, "class": self.cls,
        }


@dataclass(frozen=True)
class AnomalyTruth:
    kind: str
    flow: FlowTruth

    def to_dict(self) -> dict[str, Any]:
        keys = self.flow.to_dict()
        del keys["class"]
        return {"kind": self.kind, **keys}


@dataclass(frozen=True)
class ListenerTruth:
    proto: str
    family: int
    local_address: str
    local_port: int
    accepts_ipv4: bool | None

    def key(self) -> tuple[str, int, str, int]:
        return (self.proto, self.family, self.local_address, self.local_port)

    def to_dict(self) -> dict[str, Any]:
        return {
            "proto": self.proto, "family": self.family, "local_address": self.local_address,
            "local_port": self.local_port, "accepts_ipv4": self.accepts_ipv4,
        }


@dataclass(frozen=True)
class Truth:
    flows: tuple[FlowTruth, ...]
    listeners: tuple[ListenerTruth, ...]
    anomalies: tuple[AnomalyTruth, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "flows": [flow.to_dict() for flow in self.flows],
            "listeners": [listener.to_dict() for listener in self.listeners],
            "anomalies": [anomaly.to_dict() for anomaly in self.anomalies],
        }

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_dict(), indent=1) + "\n", encoding="utf-8")


def load_truth(path: Path) -> dict[str, Any]:
    """The truth.json of a scenario directory, as plain JSON."""
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data
