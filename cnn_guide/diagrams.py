"""Block and network diagrams drawn from the model itself.

`draw_model` draws a functional Keras model's layer graph top to bottom: one
box per layer call with its name and output shape, an arrow along every
connection, parallel branches side by side and skip connections as arcs
beside the main path. Because the figure is read from the model, it cannot
disagree with the code that built it:

```python
import keras
from cnn_guide.diagrams import draw_model
from cnn_guide.plotting import show

inputs = keras.Input((28, 28, 64))
x = keras.layers.Conv2D(64, 3, padding="same", activation="relu", name="conv_a")(inputs)
x = keras.layers.Conv2D(64, 3, padding="same", name="conv_b")(x)
outputs = keras.layers.Activation("relu", name="relu")(keras.layers.Add(name="add")([inputs, x]))
show(draw_model(keras.Model(inputs, outputs), title="A residual unit"), "residual_unit")
```

Like every figure of the book (`cnn_guide.plotting`), diagrams have a
transparent background and mid-grey ink, so they read on the light and the
dark theme alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from cnn_guide import _compat
from cnn_guide.plotting import INK, book_style

__all__ = ["draw_model", "fingerprint"]

# Box fill per kind of layer: soft tints that keep INK text readable on both themes.
_FILLS = {
    "input": "#9e9e9e33",
    "conv": "#3f51b533",
    "dense": "#e9405033",
    "pool": "#00968833",
    "norm": "#ff980033",
    "merge": "#9c27b033",
}
_KINDS = (  # (kind, words in the layer's class name)
    ("input", ("InputLayer",)),
    ("conv", ("Conv",)),
    ("dense", ("Dense",)),
    ("pool", ("Pool", "Subsampling")),
    ("norm", ("Normalization", "LRN", "ResponseNorm")),
    ("merge", ("Add", "Concatenate", "Multiply", "Subtract", "Average", "Maximum")),
)
_BOX_WIDTH, _BOX_HEIGHT, _COLUMN, _ROW = 2.3, 0.72, 2.55, 1.0
_DPI = 120  # sharper than the book's plots: a diagram is mostly small text
_BULGE = 0.7  # how far a skip connection's arc swings out beside the boxes


@dataclass
class _Box:
    """One layer call of the graph and where it is drawn."""

    name: str
    detail: str
    kind: str
    parents: list[int] = field(default_factory=list)
    order: int = 0  # branches sit left to right in this order (`_order_branches`)
    rank: int = 0
    x: float = 0.0


def draw_model(
    model: Any,
    *,
    title: str | None = None,
    shapes: bool = True,
    width: float | None = None,
) -> plt.Figure:
    """Draw a functional model's layer graph, top to bottom.

    Args:
        model: A functional ``keras.Model`` (or a built ``keras.Sequential``).
        title: Figure title.
        shapes: Print each layer's output shape (without the batch axis)
            under its name.
        width: Figure width in inches (default: from the widest row).

    Returns:
        The figure.

    Raises:
        ValueError: For a model without a layer graph (a subclassed model,
            or a Sequential model that is not built yet).
    """
    boxes = _read_graph(model)
    _place(boxes)
    columns = max(sum(1 for box in boxes if box.rank == rank) for rank in _ranks(boxes))
    ranks = max(box.rank for box in boxes) + 1
    # Inches per drawing unit: small enough that four branches side by side
    # still fit a phone's width with legible labels.
    scale = 0.4
    fig_width = width or max(2.8, (columns * _COLUMN + 2 * _BULGE + 0.4) * scale)
    with book_style():
        fig, ax = plt.subplots(figsize=(fig_width, (ranks * _ROW + 0.4) * scale + 0.4), dpi=_DPI)
        for box in boxes:
            for parent in box.parents:
                _arrow(ax, boxes[parent], box, boxes)
            _draw_box(ax, box, shapes)
        span = max(abs(box.x) for box in boxes) + _BOX_WIDTH / 2 + 0.3 + _BULGE
        ax.set_xlim(-span, span)
        ax.set_ylim(-(ranks - 1) * _ROW - _BOX_HEIGHT, _BOX_HEIGHT)
        ax.set_aspect("equal")
        ax.axis("off")
        if title:
            ax.set_title(title, fontsize=10)
        fig.tight_layout()
    return fig


def fingerprint(model: Any, *, title: str | None = None) -> str:
    """The structure ``draw_model`` draws, as text: what a diagram shows, not how.

    One line per box (its index, name, kind, output shape and the indices of
    the boxes with an arrow into it), after the title. Two models give the
    same text exactly when ``draw_model`` would draw the same boxes, labels
    and arrows; unlike the figure's bytes, the text does not change with the
    matplotlib version. ``tools/render_diagrams.py`` stores it in each
    pre-rendered diagram, and a test compares it with the current code's.

    Args:
        model: A functional ``keras.Model`` (or a built ``keras.Sequential``).
        title: The title the diagram is drawn with.

    Returns:
        The text, one line per box, e.g. ``"2 add [merge] 8×8×4 <- 0,1"``.

    Raises:
        ValueError: For a model without a layer graph (as ``draw_model``).
    """
    lines = [f"title: {title or ''}"]
    for index, box in enumerate(_read_graph(model)):
        parents = ",".join(str(parent) for parent in box.parents) or "-"
        lines.append(f"{index} {box.name} [{box.kind}] {box.detail or '-'} <- {parents}")
    return "\n".join(lines)


def _read_graph(model: Any) -> list[_Box]:
    """The layer calls of ``model`` in execution order, with their parents."""
    graph = model
    if not _compat.has_layer_graph(model):
        raise ValueError(
            f"draw_model needs a functional keras.Model or a built Sequential model, got "
            f"{type(model).__name__}; build the block with the functional API "
            "(keras.Input, then layer calls, then keras.Model(inputs, outputs))."
        )
    if isinstance(model, _sequential_type()):
        graph = _compat.sequential_graph(model)
    by_depth = _compat.nodes_by_depth(graph)
    nodes = [node for depth in sorted(by_depth, reverse=True) for node in by_depth[depth]]
    boxes: list[_Box] = []
    producer: dict[int, int] = {}  # id of a symbolic tensor -> index of its box
    for node in nodes:
        operation = node.operation
        outputs = list(node.outputs)
        parents = list(
            dict.fromkeys(producer[id(t)] for t in node.input_tensors if id(t) in producer)
        )
        if node.is_input and any(id(t) in producer for t in outputs):
            continue  # an input already drawn
        shape = tuple(outputs[0].shape[1:]) if outputs else ()
        detail = "×".join("?" if side is None else str(side) for side in shape)
        boxes.append(
            _Box(
                name=getattr(operation, "name", "input"),
                detail=detail,
                kind=_kind(operation),
                parents=parents,
            )
        )
        for tensor in outputs:
            producer[id(tensor)] = len(boxes) - 1
    _order_branches(boxes)
    return boxes


def _order_branches(boxes: list[_Box]) -> None:
    """Number the boxes as a walk back from the output meets them, inputs in call order.

    Branches then sit left to right in the order the merge reads them, e.g.
    an inception module's 1x1, 3x3, 5x5 and pooling branches.
    """
    seen: set[int] = set()
    count = 0

    def visit(index: int) -> None:
        nonlocal count
        if index in seen:
            return
        seen.add(index)
        for parent in boxes[index].parents:
            visit(parent)
        boxes[index].order = count
        count += 1

    for index in reversed(range(len(boxes))):
        visit(index)


def _sequential_type() -> type:
    import keras

    return keras.Sequential


def _kind(operation: Any) -> str:
    name = type(operation).__name__
    for kind, words in _KINDS:
        if any(word in name for word in words):
            return kind
    return "other"


def _ranks(boxes: Sequence[_Box]) -> range:
    return range(max(box.rank for box in boxes) + 1)


def _place(boxes: list[_Box]) -> None:
    """Rank each box by its longest path from an input; spread each rank sideways.

    A box goes under the mean position of its parents (a branch stays in its
    column); boxes of one rank keep that order and are spaced one column apart.
    """
    for box in boxes:  # execution order: parents come first
        box.rank = 1 + max((boxes[p].rank for p in box.parents), default=-1)
    for rank in _ranks(boxes):
        row = [box for box in boxes if box.rank == rank]
        wanted = [
            sum(boxes[p].x for p in box.parents) / len(box.parents) if box.parents else 0.0
            for box in row
        ]
        order = sorted(range(len(row)), key=lambda i: (wanted[i], row[i].order))
        start = sum(wanted) / len(row) - (len(row) - 1) * _COLUMN / 2
        for slot, i in enumerate(order):
            row[i].x = start + slot * _COLUMN


def _draw_box(ax: plt.Axes, box: _Box, shapes: bool) -> None:
    y = -box.rank * _ROW
    ax.add_patch(
        FancyBboxPatch(
            (box.x - _BOX_WIDTH / 2, y - _BOX_HEIGHT / 2),
            _BOX_WIDTH,
            _BOX_HEIGHT,
            boxstyle="round,pad=0.02,rounding_size=0.12",
            facecolor=_FILLS.get(box.kind, "none"),
            edgecolor=INK,
            linewidth=0.9,
            zorder=2,
        )
    )
    if shapes and box.detail:
        ax.text(box.x, y + 0.13, box.name, ha="center", va="center", fontsize=_fits(box.name, 7))
        ax.text(
            box.x, y - 0.17, box.detail, ha="center", va="center", fontsize=_fits(box.detail, 6)
        )
    else:
        ax.text(box.x, y, box.name, ha="center", va="center", fontsize=_fits(box.name, 7))


def _fits(text: str, size: float) -> float:
    """A font size at which ``text`` fits its box: ``size``, smaller for long labels."""
    return min(size, size * 15 / max(len(text), 1))


def _arrow(ax: plt.Axes, parent: _Box, child: _Box, boxes: Sequence[_Box]) -> None:
    start = (parent.x, -parent.rank * _ROW - _BOX_HEIGHT / 2)
    end = (child.x, -child.rank * _ROW + _BOX_HEIGHT / 2)
    style = "arc3,rad=0"
    if _blocked(parent, child, boxes) and _column_free(parent, child, boxes):
        # A branch that ends early: down its own column, then across to the merge.
        bend = (parent.x, -(child.rank - 1) * _ROW - _BOX_HEIGHT / 2)
        ax.plot(*zip(start, bend, strict=True), color=INK, linewidth=0.9, zorder=1)
        start = bend
    elif _blocked(parent, child, boxes):  # a skip connection: swing out beside the boxes
        side = -1 if parent.x <= 0 else 1
        start = (parent.x + side * _BOX_WIDTH / 2, -parent.rank * _ROW)
        end = (child.x + side * _BOX_WIDTH / 2, -child.rank * _ROW)
        length = max(abs(end[1] - start[1]), _ROW)
        # arc3 puts its control point rad x length off the chord; the curve reaches half of it.
        style = f"arc3,rad={side * -2 * _BULGE / length:.3f}"
    ax.add_patch(
        FancyArrowPatch(
            start,
            end,
            arrowstyle="-|>",
            mutation_scale=8,
            color=INK,
            linewidth=0.9,
            connectionstyle=style,
            shrinkA=0,
            shrinkB=0,
            zorder=1,
        )
    )


def _blocked(parent: _Box, child: _Box, boxes: Sequence[_Box]) -> bool:
    """Whether the straight line from ``parent`` to ``child`` would cross another box."""
    for box in boxes:
        if parent.rank < box.rank < child.rank:
            along = (box.rank - parent.rank) / (child.rank - parent.rank)
            x = parent.x + along * (child.x - parent.x)
            if abs(box.x - x) < _BOX_WIDTH / 2 + 0.1:
                return True
    return False


def _column_free(parent: _Box, child: _Box, boxes: Sequence[_Box]) -> bool:
    """Whether no box stands below ``parent`` in its column before ``child``'s rank."""
    return not any(
        parent.rank < box.rank < child.rank and abs(box.x - parent.x) < _BOX_WIDTH for box in boxes
    )
