"""MkDocs hook: each results marker in a chapter becomes what it stands for.

A chapter line such as ``<!-- benchmark: MODEL -->`` or ``<!-- fast-goals -->``
is replaced by the Markdown its renderer writes from the store of runs
(`cnn_guide.report.markers`, the one registry of markers).
"""

from __future__ import annotations

from pathlib import Path

from cnn_guide.report.markers import MARKERS, marker_pattern, render_marker

_MARKER = marker_pattern()


def on_page_markdown(markdown: str, page, config, files) -> str:
    """Replace each results marker with what it stands for."""
    chapters = _chapters_by_marker()
    return _MARKER.sub(lambda match: render_marker(match.group(1), chapters=chapters), markdown)


def _chapters_by_marker() -> dict[str, str]:
    """Each model's and each experiment's chapter, from the markers the chapters hold."""
    chapters = Path(__file__).parents[1] / "chapters"
    return {
        argument.strip(): path.name
        for path in sorted(chapters.glob("*.md"))
        for match in _MARKER.finditer(path.read_text(encoding="utf-8"))
        for name, _, argument in [match.group(1).partition(":")]
        if MARKERS[name].links_chapter
    }
