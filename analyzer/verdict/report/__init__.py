"""Render `Verdicts` for people and machines: table, json, markdown, html.

`render(verdicts, fmt)` returns the text, `render_chunks` the same in pieces; `FORMATS`
lists the names. The HTML report is
one self-contained file (inline CSS and SVG, no external assets).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
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


def render_chunks(verdicts: Verdicts, fmt: str = "table") -> Iterator[str]:
    """`render` in pieces to write as they come: JSON a flow at a time (a record per flow
    is made only when written), the other formats whole (they list 200 flows at most)."""
    if fmt == "json":
        return jsonfmt.chunks(verdicts)
    return iter([render(verdicts, fmt)])


__all__ = ["FORMATS", "render", "render_chunks"]
