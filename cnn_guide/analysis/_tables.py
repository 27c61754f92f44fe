"""The tables `layer_table` and `compare` return, and how they render.

Each table prints as plain text (``str``), as Markdown for a page
(``to_markdown``), as HTML in a notebook (``_repr_html_``) and, with the
optional pandas installed (``pip install "cnn-guide[analysis]"``), as a
DataFrame (``to_dataframe``).
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cnn_guide._markdown import markdown_table

if TYPE_CHECKING:
    import pandas


def _fmt_int(value: int | None) -> str:
    return "?" if value is None else f"{value:,}"


def _fmt_shape(shape: tuple | list) -> str:
    if isinstance(shape, list):
        return ", ".join(_fmt_shape(s) for s in shape)
    return (
        "("
        + ", ".join("?" if d is None else str(d) for d in shape)
        + ("," if len(shape) == 1 else "")
        + ")"
    )


def _fmt_field(value: int | tuple[int, ...] | None, field: str) -> str:
    if field == "global":
        return "global"
    if field == "unknown" or value is None:
        return "?"
    if isinstance(value, tuple):
        return "x".join(str(v) for v in value)
    return str(value)


class _Table:
    """Rendering shared by the two tables: subclasses give headers, cells and totals."""

    title: str

    def _header(self) -> list[str]:
        raise NotImplementedError

    def _cells(self) -> list[list[str]]:
        raise NotImplementedError

    def _footer(self) -> list[str] | None:
        return None

    def _numeric(self) -> list[bool]:
        raise NotImplementedError

    def to_markdown(self) -> str:
        """The table in GitHub-flavoured Markdown, totals in the last row."""
        rows = self._cells()
        footer = self._footer()
        if footer is not None:
            rows = [*rows, [f"**{c}**" if c else "" for c in footer]]
        numeric = [index for index, number in enumerate(self._numeric()) if number]
        return markdown_table(self._header(), rows, numeric=numeric)

    def __str__(self) -> str:
        header = self._header()
        rows = self._cells()
        footer = self._footer()
        body = [*rows, *([footer] if footer is not None else [])]
        widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
        numeric = self._numeric()

        def line(cells: list[str]) -> str:
            return "  ".join(
                c.rjust(w) if num else c.ljust(w)
                for c, w, num in zip(cells, widths, numeric, strict=True)
            ).rstrip()

        rule = "-" * (sum(widths) + 2 * (len(widths) - 1))
        out = [self.title, rule, line(header), rule, *(line(r) for r in rows)]
        if footer is not None:
            out += [rule, line(footer)]
        return "\n".join(out)

    def _repr_html_(self) -> str:
        esc = html.escape
        numeric = self._numeric()

        def row(cells: list[str], tag: str) -> str:
            return (
                "<tr>"
                + "".join(
                    f'<{tag} style="text-align:{"right" if num else "left"}">{esc(c)}</{tag}>'
                    for c, num in zip(cells, numeric, strict=True)
                )
                + "</tr>"
            )

        parts = [f"<table><caption>{esc(self.title)}</caption>", "<thead>"]
        parts.append(row(self._header(), "th") + "</thead><tbody>")
        parts += [row(r, "td") for r in self._cells()]
        parts.append("</tbody>")
        footer = self._footer()
        if footer is not None:
            parts.append("<tfoot>" + row(footer, "th") + "</tfoot>")
        parts.append("</table>")
        return "".join(parts)

    def _records(self) -> list[dict[str, Any]]:
        raise NotImplementedError

    def to_dataframe(self) -> pandas.DataFrame:
        """The rows as a pandas DataFrame (numbers as numbers; totals not included).

        Raises:
            ImportError: If pandas is not installed: it is an optional
                dependency, installed with ``pip install "cnn-guide[analysis]"``.
        """
        try:
            import pandas as pd  # optional dependency: imported only when asked for
        except ImportError as err:
            raise ImportError(
                'to_dataframe() needs pandas, an optional dependency: pip install "cnn-guide'
                '[analysis]" (or pip install pandas). to_markdown() and str() work without it.'
            ) from err
        frame = pd.DataFrame.from_records(self._records())
        for column in frame.columns:
            values = [v for v in frame[column] if v is not None and v == v]  # not NaN
            # Whole numbers with gaps ("global" rows) as nullable integers, not floats.
            if values and all(isinstance(v, (int, float)) and v == int(v) for v in values):
                frame[column] = frame[column].astype("Int64")
        return frame


@dataclass(frozen=True)
class LayerRow:
    """One top-level layer of a model, as `layer_table` reports it.

    Attributes:
        name: Layer name.
        type: Layer class name.
        output_shape: Output shape without the batch axis (a list of shapes for
            a layer with several outputs).
        params: All weights of the layer, as ``layer.count_params()``.
        trainable_params: Its trainable weights.
        macs: Multiply-accumulates per image of the forward pass (all calls of
            a shared layer together); ``None`` if a shape was unknown.
        receptive_field: Side, in input pixels, of the input window one output
            position sees: an int, or a tuple per spatial axis where they
            differ; ``None`` where ``field`` is ``"global"`` or ``"unknown"``.
        jump: Distance, in input pixels, between neighbouring output positions
            (the effective stride), in the same form.
        field: ``"local"``, ``"global"`` (the output depends on the whole input,
            after global pooling, flattening or an attention over positions) or
            ``"unknown"`` (only with ``strict=False``).
    """

    name: str
    type: str
    output_shape: tuple | list[tuple]
    params: int
    trainable_params: int
    macs: int | None
    receptive_field: int | tuple[int, ...] | None
    jump: int | tuple[int, ...] | None
    field: str = "local"


@dataclass(frozen=True)
class LayerTable(_Table):
    """The per-layer table of one model (see `layer_table`).

    Iterate over it for the `LayerRow`s, or index it by layer name or position.
    ``str(table)`` is a plain-text table, ``to_markdown()`` one for a page, and
    notebooks show it as HTML.

    Example:
        ```python
        table = layer_table(model)
        for row in table:
            print(row.name, row.macs, row.receptive_field)
        table["conv1"].params, table.macs, table.receptive_field
        ```

    Attributes:
        model_name: The model's name.
        input_shape: The input shape analysed, without the batch axis.
        rows: One `LayerRow` per top-level layer, in the model's order.
        total_params: All weights of the model (shared ones once).
        trainable_params: Its trainable weights.
        receptive_field: The receptive field of the last feature map, before
            any global step (the largest over the model's outputs).
        jump: The jump at that feature map.
        depth: Number of weighted layers: convolutions and dense layers,
            including those inside blocks and on shortcut projections.
    """

    model_name: str
    input_shape: tuple
    rows: tuple[LayerRow, ...]
    total_params: int
    trainable_params: int
    receptive_field: int | tuple[int, ...] | None
    jump: int | tuple[int, ...] | None
    depth: int

    @property
    def title(self) -> str:  # type: ignore[override]
        """One line naming the model and the input analysed."""
        return f"{self.model_name} at input {_fmt_shape(self.input_shape)}"

    @property
    def macs(self) -> int | None:
        """Multiply-accumulates per image of the whole forward pass (``None`` if unknown)."""
        values = [row.macs for row in self.rows]
        return None if any(v is None for v in values) else sum(values)  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[LayerRow]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, key: int | str) -> LayerRow:
        if isinstance(key, str):
            for row in self.rows:
                if row.name == key:
                    return row
            raise KeyError(
                f"no layer named {key!r} in {self.model_name}; layers: "
                f"{', '.join(r.name for r in self.rows)}."
            )
        return self.rows[key]

    def _show_trainable(self) -> bool:
        return any(r.params != r.trainable_params for r in self.rows)

    def _header(self) -> list[str]:
        head = ["Layer", "Type", "Output shape", "Params"]
        if self._show_trainable():
            head.append("Trainable")
        return [*head, "MACs", "RF", "Jump"]

    def _numeric(self) -> list[bool]:
        num = [False, False, False, True]
        if self._show_trainable():
            num.append(True)
        return [*num, True, True, True]

    def _cells(self) -> list[list[str]]:
        trainable = self._show_trainable()
        cells = []
        for r in self.rows:
            row = [r.name, r.type, _fmt_shape(r.output_shape), _fmt_int(r.params)]
            if trainable:
                row.append(_fmt_int(r.trainable_params))
            row += [
                _fmt_int(r.macs),
                _fmt_field(r.receptive_field, r.field),
                _fmt_field(r.jump, r.field),
            ]
            cells.append(row)
        return cells

    def _footer(self) -> list[str]:
        row = ["Total", "", "", _fmt_int(self.total_params)]
        if self._show_trainable():
            row.append(_fmt_int(self.trainable_params))
        return [
            *row,
            _fmt_int(self.macs),
            _fmt_field(self.receptive_field, "local"),
            _fmt_field(self.jump, "local"),
        ]

    def _records(self) -> list[dict[str, Any]]:
        return [
            {
                "name": r.name,
                "type": r.type,
                "output_shape": r.output_shape,
                "params": r.params,
                "trainable_params": r.trainable_params,
                "macs": r.macs,
                "receptive_field": r.receptive_field,
                "jump": r.jump,
                "field": r.field,
            }
            for r in self.rows
        ]


@dataclass(frozen=True)
class ComparisonRow:
    """One model in a `compare` table.

    Attributes:
        name: The registry name, or the model's name for a built model.
        params: All weights.
        trainable_params: Trainable weights.
        macs: Multiply-accumulates per image of the forward pass.
        depth: Number of weighted layers: convolutions and dense layers,
            including those inside blocks and on shortcut projections (so
            ResNet-50 counts 54: the paper's 50 plus its 4 projections).
        receptive_field: Receptive field of the last feature map.
        input_shape: The input shape analysed.
    """

    name: str
    params: int
    trainable_params: int
    macs: int | None
    depth: int
    receptive_field: int | tuple[int, ...] | None
    input_shape: tuple


@dataclass(frozen=True)
class ComparisonTable(_Table):
    """One row per model (see `compare`); iterate or index it by name.

    Example:
        ```python
        table = compare(["simple_cnn", "lenet5"])
        table["simple_cnn"].macs
        print(table.to_markdown())
        ```
    """

    rows: tuple[ComparisonRow, ...]
    title: str = "Model comparison"

    def __iter__(self) -> Iterator[ComparisonRow]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, key: int | str) -> ComparisonRow:
        if isinstance(key, str):
            for row in self.rows:
                if row.name == key:
                    return row
            raise KeyError(
                f"no model named {key!r}; models: {', '.join(r.name for r in self.rows)}."
            )
        return self.rows[key]

    def _header(self) -> list[str]:
        return ["Model", "Input", "Params", "Trainable", "MACs", "Depth", "RF"]

    def _numeric(self) -> list[bool]:
        return [False, False, True, True, True, True, True]

    def _cells(self) -> list[list[str]]:
        return [
            [
                r.name,
                _fmt_shape(r.input_shape),
                _fmt_int(r.params),
                _fmt_int(r.trainable_params),
                _fmt_int(r.macs),
                str(r.depth),
                _fmt_field(r.receptive_field, "local"),
            ]
            for r in self.rows
        ]

    def _records(self) -> list[dict[str, Any]]:
        return [
            {
                "name": r.name,
                "input_shape": r.input_shape,
                "params": r.params,
                "trainable_params": r.trainable_params,
                "macs": r.macs,
                "depth": r.depth,
                "receptive_field": r.receptive_field,
            }
            for r in self.rows
        ]
