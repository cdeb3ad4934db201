"""Shared fixtures: the third-party corpus and the network-namespace lab."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS))

from netlab import Lab  # noqa: E402

ROOT = TESTS.parent
CORPUS = Path(os.environ.get("DUALSTACK_CORPUS", ROOT.parent / "shared" / "corpus"))


@pytest.fixture(scope="session")
def corpus() -> Path:
    """The third-party captures and command outputs (../shared/corpus)."""
    if not CORPUS.is_dir():
        pytest.fail(f"third-party corpus not found at {CORPUS} (set DUALSTACK_CORPUS)")
    return CORPUS


def _lab_available() -> str | None:
    if os.geteuid() != 0:
        return "needs root for network namespaces"
    if shutil.which("ip") is None:
        return "needs iproute2"
    return None


@pytest.fixture
def lab(request: pytest.FixtureRequest) -> Iterator[Lab]:
    """Two fresh network namespaces (server, client) joined by veth."""
    reason = _lab_available()
    if reason:
        pytest.skip(reason)
    with Lab(request.node.name[:20]) as made:
        yield made
