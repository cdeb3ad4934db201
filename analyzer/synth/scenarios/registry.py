"""The scenario registry: each scenario is a function documented in one sentence.

A scenario function takes a :class:`~analyzer.synth.traffic.Traffic` and fills it;
its docstring's first line is what ``dualstack synth --list`` prints.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from analyzer.errors import UsageError
from analyzer.synth.traffic import Traffic

Build = Callable[[Traffic], None]


@dataclass(frozen=True)
class Scenario:
    name: str
    os: str
    build: Build

    @property
    def summary(self) -> str:
        doc = (self.build.__doc__ or "").strip()
        return " ".join(doc.split("\n\n")[0].split())

    def make(self, seed: int = 0, scale: int = 1) -> Traffic:
        """Build the scenario's traffic, snapshots and truth for a seed and scale."""
        if scale < 1:
            raise UsageError(f"--scale must be at least 1, not {scale}")
        traffic = Traffic(seed=seed, scale=scale, os=self.os, host=f"{self.name}-host")
        self.build(traffic)
        return traffic


SCENARIOS: dict[str, Scenario] = {}


def scenario(name: str, os: str) -> Callable[[Build], Build]:
    """Register ``build`` as scenario ``name`` of a host running ``os``."""

    def register(build: Build) -> Build:
        if name in SCENARIOS:
            raise ValueError(f"scenario {name!r} registered twice")
        SCENARIOS[name] = Scenario(name, os, build)
        return build

    return register


def get_scenario(name: str) -> Scenario:
    try:
        return SCENARIOS[name]
    except KeyError:
        known = ", ".join(sorted(SCENARIOS))
        raise UsageError(f"unknown scenario {name!r}; known: {known}") from None
