"""Correlation and verdicts: which flows reached which listener, over which family.

`verify(flows, snapshots, ...)` is the entry point (`dualstack verify`; the batch jobs
call `shares.correlate` on shares of an archive's flows); `model` is the per-OS delivery
model, `correlate` matches flows to the snapshot valid at their start, `inference` lets
the capture decide what the snapshot cannot, `anomalies` names odd addresses on the
wire, `report` renders the answer.
"""

from analyzer.verdict.correlate import DEFAULT_TOLERANCE_S
from analyzer.verdict.results import FLOW_CLASSES, ListenerVerdict, Verdicts
from analyzer.verdict.shares import verify

__all__ = ["DEFAULT_TOLERANCE_S", "FLOW_CLASSES", "ListenerVerdict", "Verdicts", "verify"]
