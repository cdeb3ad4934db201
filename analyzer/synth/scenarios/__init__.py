"""The scenario library: one module per family of hosts, all registered by name.

Importing this package registers every scenario in `SCENARIOS`.
"""

from analyzer.synth.scenarios import anomalies, bsd, hostile, linux, timeseries, udp, windows
from analyzer.synth.scenarios.registry import SCENARIOS, Scenario, get_scenario

__all__ = ["SCENARIOS", "Scenario", "anomalies", "bsd", "get_scenario", "hostile", "linux",
           "timeseries", "udp", "windows"]
