"""JSON: ``{"listeners", "flows", "connections", "anomalies", "summary"}`` (Verdicts.to_dict)."""

from __future__ import annotations

import json

from analyzer.verdict.results import Verdicts


def render(verdicts: Verdicts) -> str:
    return json.dumps(verdicts.to_dict(), indent=1, ensure_ascii=False) + "\n"
