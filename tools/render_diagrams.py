"""Pre-render each example's block diagram, so the chapters show it without TensorFlow.

An architecture chapter shows its block's from-scratch code and its diagram
before any results. The code comes straight from the example script (a
pymdownx.snippets include); the diagram is an SVG file rendered here from
the same code, because the site's build must not import TensorFlow.

Usage (from the repository root)::

    python tools/render_diagrams.py                      # every example with a diagram
    python tools/render_diagrams.py resnet mobilenet_v2  # some examples, by script name
    python tools/render_diagrams.py --check              # exit 1 if a diagram is stale

How an example takes part: two snippet sections, each a whole code cell
between marker comments (pymdownx.snippets' section syntax; the docs hook
``docs/hooks/notebooks.py`` hides the marker lines on the example page):

```python
# %%
# --8<-- [start:block]
def my_block(x, filters):
    ...
# --8<-- [end:block]

# %%
# --8<-- [start:diagram]
block = as_model(my_block, (28, 28, 16), filters=16)
show(draw_model(block, title="my_block(x, 16)"), "block_diagram")
# --8<-- [end:diagram]
```

The ``block`` section is the code the chapter includes with
``--8<-- "examples/NAME.py:block"`` inside a ```` ```python ```` fence. The
``diagram`` section builds a model from it and calls
``cnn_guide.diagrams.draw_model`` exactly once. This tool runs, in a fresh
namespace, the script's top-level imports, then the ``block`` section, then
the ``diagram`` section (with ``show`` doing nothing and ``draw_model``
recording what it draws, however the script imports them), so both sections may
use only what the script imports and what the ``block`` section defines.
It writes ``docs/assets/diagrams/NAME.svg`` (transparent, the book's
mid-grey ink, so it reads on the light and the dark theme; the same bytes on
every run with one matplotlib version) and stores in the SVG's description
the structure that ``cnn_guide.diagrams.fingerprint`` reads from the model:
its boxes, labels, shapes and arrows, and the title.
``tests/test_diagrams_rendered.py`` recomputes that structure from the
current code and fails when it differs: change a block or its diagram
section, then re-render it with this tool and commit the SVG.

The chapter shows the code and the diagram like this (the ``fmt`` comments
keep ``ruff format`` from rewriting the include line as Python)::

    <!-- fmt: off -->
    ```python
    --8<-- "examples/NAME.py:block"
    ```
    <!-- fmt: on -->

    ![What the diagram shows, in words](../assets/diagrams/NAME.svg){ .book-diagram }
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import re
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
DIAGRAMS = ROOT / "docs" / "assets" / "diagrams"

# pymdownx.snippets' section marker, on a comment line of its own.
_MARKER = re.compile(r"^\s*#\s*-{1,}8<-{1,}\s*\[\s*(start|end)\s*:\s*([a-z][-_0-9a-z]*)\s*\]\s*$")
_DC = "{http://purl.org/dc/elements/1.1/}"
_DISPLAY_SCALE = 1.5
_HASHSALT = "cnn-guide"  # fixed ids in the SVG, so that a re-render changes no byte


@dataclass(frozen=True)
class Drawing:
    """What an example's ``diagram`` section drew.

    Attributes:
        figure: The figure ``draw_model`` returned.
        fingerprint: ``cnn_guide.diagrams.fingerprint`` of the model and title.
    """

    figure: Any
    fingerprint: str


def section(source: str, name: str, *, where: str = "the script") -> str:
    """The lines of ``source`` between its ``[start:name]`` and ``[end:name]`` markers.

    Args:
        source: A script's text.
        name: The section's name, e.g. ``"block"``.
        where: The script's name, for error messages.

    Returns:
        The section's lines, without the markers.

    Raises:
        ValueError: When the section is missing, unclosed or given twice.
    """
    lines = source.splitlines()
    starts = [i for i, line in enumerate(lines) if _is_marker(line, "start", name)]
    ends = [i for i, line in enumerate(lines) if _is_marker(line, "end", name)]
    if len(starts) != 1 or len(ends) != 1 or ends[0] < starts[0]:
        raise ValueError(
            f"{where} needs exactly one '# --8<-- [start:{name}]' line followed by one "
            f"'# --8<-- [end:{name}]' line; found {len(starts)} start and {len(ends)} end "
            f"markers. Fence the code cell with them (see tools/render_diagrams.py)."
        )
    inner = [line for line in lines[starts[0] + 1 : ends[0]] if not _MARKER.match(line)]
    return "\n".join(inner) + "\n"


def _is_marker(line: str, kind: str, name: str) -> bool:
    match = _MARKER.match(line)
    return bool(match) and match.group(1) == kind and match.group(2) == name


def has_diagram(script: Path) -> bool:
    """Whether ``script`` marks a ``diagram`` section."""
    return any(_is_marker(line, "start", "diagram") for line in script.read_text().splitlines())


def examples_with_diagrams(examples: Path = EXAMPLES) -> list[str]:
    """The names of the example scripts (without ``.py``) that mark a diagram."""
    return sorted(path.stem for path in examples.glob("*.py") if has_diagram(path))


def draw(script: Path) -> Drawing:
    """Run ``script``'s imports, ``block`` and ``diagram`` sections; return the drawing.

    Args:
        script: An example script with both sections.

    Returns:
        The figure and its fingerprint.

    Raises:
        ValueError: When a section is missing, or the ``diagram`` section does
            not call ``draw_model`` exactly once.
    """
    import keras

    from cnn_guide import diagrams, plotting

    source = script.read_text()
    block = section(source, "block", where=script.name)
    diagram = section(source, "diagram", where=script.name)
    imports = [
        node for node in ast.parse(source).body if isinstance(node, ast.Import | ast.ImportFrom)
    ]
    drawings: list[Drawing] = []
    draw_model = diagrams.draw_model

    def recording_draw_model(model: Any, **kwargs: Any) -> Any:
        figure = draw_model(model, **kwargs)
        drawings.append(Drawing(figure, diagrams.fingerprint(model, title=kwargs.get("title"))))
        return figure

    keras.backend.clear_session()  # layer names that Keras numbers start from zero again
    namespace: dict[str, Any] = {"__name__": f"diagram_{script.stem}"}
    # Imported anywhere in the script, draw_model records and show does nothing.
    with (
        _replaced(diagrams, "draw_model", recording_draw_model),
        _replaced(plotting, "show", lambda figure, name: None),
    ):
        exec(compile(ast.Module(body=imports, type_ignores=[]), str(script), "exec"), namespace)
        exec(compile(block, f"{script.name}:block", "exec"), namespace)
        exec(compile(diagram, f"{script.name}:diagram", "exec"), namespace)
    if len(drawings) != 1:
        raise ValueError(
            f"the diagram section of {script.name} called draw_model {len(drawings)} times; "
            "it must call it exactly once (one diagram per chapter), as "
            "show(draw_model(model, title=...), name)."
        )
    return drawings[0]


@contextlib.contextmanager
def _replaced(module: Any, name: str, value: Any) -> Iterator[None]:
    """``module.name`` is ``value`` inside the ``with`` block."""
    original = getattr(module, name)
    setattr(module, name, value)
    try:
        yield
    finally:
        setattr(module, name, original)


def render(script: Path, out_dir: Path = DIAGRAMS) -> Path:
    """Write ``out_dir/NAME.svg`` for the example ``script``; return its path."""
    import matplotlib.pyplot as plt

    from cnn_guide.plotting import book_style

    drawing = draw(script)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{script.stem}.svg"
    with book_style(), plt.rc_context({"svg.hashsalt": _HASHSALT, "svg.fonttype": "path"}):
        drawing.figure.savefig(
            path,
            format="svg",
            bbox_inches="tight",
            transparent=True,
            metadata={"Date": None, "Description": drawing.fingerprint},
        )
    plt.close(drawing.figure)
    # Shown at 1.5 times its printed size, its 7-point labels read like the page's text.
    svg = path.read_text()
    size = re.search(r'width="([\d.]+)pt" height="([\d.]+)pt"', svg)
    if size:
        width, height = (float(value) * _DISPLAY_SCALE for value in size.groups())
        scaled = f'width="{width:.2f}pt" height="{height:.2f}pt"'
        path.write_text(svg[: size.start()] + scaled + svg[size.end() :])
    return path


def stored_fingerprint(svg: Path) -> str:
    """The fingerprint ``render`` stored in ``svg`` (empty when it has none)."""
    element = ET.parse(svg).getroot().find(f".//{_DC}description")
    return "" if element is None or element.text is None else element.text


def stale(script: Path, out_dir: Path = DIAGRAMS) -> str | None:
    """Why the diagram of ``script`` in ``out_dir`` is out of date, or None when it is not."""
    svg = out_dir / f"{script.stem}.svg"
    if not svg.exists():
        return f"{svg.name} is missing"
    if stored_fingerprint(svg) != draw(script).fingerprint:
        return f"{svg.name} no longer matches the block and diagram sections of {script.name}"
    return None


def main(argv: list[str] | None = None) -> int:
    """Render (or check) the diagrams of the named examples, or of all."""
    parser = argparse.ArgumentParser(
        description=(
            "Render each example's block diagram to docs/assets/diagrams/NAME.svg, from "
            "the example's '# --8<-- [start:block]' and '[start:diagram]' sections."
        ),
        epilog="Example: python tools/render_diagrams.py resnet mobilenet_v2",
    )
    parser.add_argument(
        "examples", nargs="*", help="example script names without .py (default: all)"
    )
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if a diagram is stale"
    )
    args = parser.parse_args(argv)
    known = examples_with_diagrams()
    unknown = sorted(set(args.examples) - set(known))
    if unknown:
        parser.error(
            f"no diagram section in examples {unknown}; examples with one: {known}. "
            "Mark the sections first (see this tool's docstring)."
        )
    import cnn_guide

    cnn_guide.import_tensorflow()
    problems = []
    for name in args.examples or known:
        script = EXAMPLES / f"{name}.py"
        if args.check:
            problem = stale(script)
            problems += [problem] if problem else []
            print(f"{name}: {problem or 'up to date'}")
        else:
            print(f"{name}: wrote {render(script).relative_to(ROOT)}")
    if problems:
        print("Re-render with: python tools/render_diagrams.py " + " ".join(args.examples))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
