"""Render `Verdicts` for people and machines: table, json, markdown, html.

`render(verdicts, fmt)` returns the text; `FORMATS` lists the names. The HTML report is
one self-contained file (inline CSS and SVG, no external assets).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from analyzer.verdict.report import html, jsonfmt, markdown, table
from analyzer.verdict.results import Verdicts

RENDERERS: Final[dict[str, Callable[[Verdicts], str]]] = {
    "table": table.render,
    "json": jsonfmt.render,
    "markdown": markdown.render,
    "html": html.render,
}
FORMATS: Final[tuple[str, ...]] = tuple(RENDERERS)


def render(verdicts: Verdicts, fmt: str = "table") -> str:
    """The report in format `fmt` (one of FORMATS)."""
    return RENDERERS[fmt](verdicts)


__all__ = ["FORMATS", "render"]
