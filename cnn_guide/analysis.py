"""Per-layer tables of shapes, parameters, multiply-accumulates and receptive fields.

Every number the chapters print about a model's size comes from this module:

* `layer_table`: one row per top-level layer of a functional model (output
  shape, parameters, multiply-accumulates per image, receptive field and jump);
* `compare`: one row per model (parameters, multiply-accumulates, depth,
  receptive field), for models or registry names;
* `conv_params`, `conv_macs`, `output_size` and `stack_receptive_field`: the
  formulas behind those numbers, for the worked examples.

Multiply-accumulates are counted from the TensorFlow graph of one forward pass
on a batch of one image, so they are right for any block, however it is built.
Receptive fields are computed analytically over the model's layer graph,
following Araujo, Norris and Sim (2019), "Computing Receptive Fields of
Convolutional Neural Networks", Distill, https://distill.pub/2019/computing-receptive-fields/.
The output-size formula is the one of Dumoulin and Visin (2016), "A guide to
convolution arithmetic for deep learning", https://arxiv.org/abs/1603.07285.

Chapter: ``docs/chapters/simple-cnn.md`` (and every chapter's size tables).
"""

from __future__ import annotations

import html
import inspect
import math
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cnn_guide import _compat

if TYPE_CHECKING:
    import keras
    import pandas

__all__ = [
    "ComparisonRow",
    "ComparisonTable",
    "LayerRow",
    "LayerTable",
    "compare",
    "conv_macs",
    "conv_params",
    "layer_table",
    "output_size",
    "stack_receptive_field",
]

# --------------------------------------------------------------------------------------
# Formula helpers for the worked examples.
# --------------------------------------------------------------------------------------


def _pair(value: int | Sequence[int], what: str) -> tuple[int, int]:
    if isinstance(value, int):
        pair = (value, value)
    else:
        pair = tuple(int(v) for v in value)
        if len(pair) != 2:
            raise ValueError(f"{what} must be an int or a pair (height, width), got {value!r}.")
    if any(v < 1 for v in pair):
        raise ValueError(f"{what} must be positive, got {value!r}.")
    return pair  # type: ignore[return-value]


def _check_groups(c_in: int, c_out: int, groups: int) -> None:
    if groups < 1 or c_in % groups or c_out % groups:
        raise ValueError(
            f"groups must be a positive divisor of both c_in and c_out, got groups={groups} "
            f"for c_in={c_in}, c_out={c_out}. Use groups=1 for an ordinary convolution or "
            "groups=c_in for a depthwise one."
        )


def conv_params(
    k: int | Sequence[int], c_in: int, c_out: int, bias: bool = True, groups: int = 1
) -> int:
    r"""Parameters of a 2-D convolution.

    A $k \times k$ convolution from $C_{in}$ to $C_{out}$ channels in $g$ groups
    has

    $$P = k^2 \cdot \frac{C_{in}}{g} \cdot C_{out} + C_{out}$$

    parameters, the last term being the biases (dropped with ``bias=False``, as
    before a batch normalization).

    Example:
        Two stacked 3x3 convolutions see a 5x5 window, with fewer parameters
        than one 5x5 convolution:

        ```python
        >>> 2 * conv_params(3, 64, 64, bias=False), conv_params(5, 64, 64, bias=False)
        (73728, 102400)

        ```

    Args:
        k: Kernel side, or ``(height, width)``.
        c_in: Input channels.
        c_out: Output channels (filters).
        bias: Whether the layer has a bias per output channel.
        groups: Number of groups; ``groups=c_in`` with ``c_out=c_in`` is a
            depthwise convolution.

    Returns:
        The number of parameters.

    Raises:
        ValueError: If ``groups`` does not divide both channel counts.
    """
    kh, kw = _pair(k, "k")
    _check_groups(c_in, c_out, groups)
    return kh * kw * (c_in // groups) * c_out + (c_out if bias else 0)


def conv_macs(
    h_out: int,
    w_out: int,
    k: int | Sequence[int],
    c_in: int,
    c_out: int,
    groups: int = 1,
) -> int:
    r"""Multiply-accumulates of a 2-D convolution for one image.

    Each of the $H_{out} \cdot W_{out} \cdot C_{out}$ outputs is a dot product
    of length $k^2 C_{in} / g$:

    $$\mathrm{MACs} = H_{out} \cdot W_{out} \cdot k^2 \cdot \frac{C_{in}}{g} \cdot C_{out}$$

    Example:
        The seed CNN's first layer, 64 filters of 7x7 over a 28x28 grayscale
        image with ``same`` padding:

        ```python
        >>> conv_macs(28, 28, 7, 1, 64)
        2458624

        ```

    Args:
        h_out: Output height.
        w_out: Output width.
        k: Kernel side, or ``(height, width)``.
        c_in: Input channels.
        c_out: Output channels.
        groups: Number of groups.

    Returns:
        The number of multiply-accumulates.

    Raises:
        ValueError: If ``groups`` does not divide both channel counts.
    """
    kh, kw = _pair(k, "k")
    _check_groups(c_in, c_out, groups)
    return h_out * w_out * kh * kw * (c_in // groups) * c_out


def output_size(n: int, k: int, s: int = 1, p: int | str = 0, d: int = 1) -> int:
    r"""Output side of a convolution or pooling along one axis.

    With input side $n$, kernel $k$, stride $s$, padding $p$ on each side and
    dilation $d$ (Dumoulin and Visin 2016, https://arxiv.org/abs/1603.07285):

    $$n_{out} = \left\lfloor \frac{n + 2p - d(k - 1) - 1}{s} \right\rfloor + 1$$

    Keras' ``padding="valid"`` is $p = 0$; ``padding="same"`` pads so that
    $n_{out} = \lceil n / s \rceil$; both strings are accepted for ``p``.

    Example:
        ```python
        >>> output_size(224, 7, s=2, p=3)    # ResNet's stem
        112
        >>> output_size(28, 3, p="valid"), output_size(28, 3, s=2, p="same")
        (26, 14)

        ```

    Args:
        n: Input side.
        k: Kernel side.
        s: Stride.
        p: Padding on each side, or ``"valid"`` / ``"same"``.
        d: Dilation rate.

    Returns:
        The output side.

    Raises:
        ValueError: For non-positive arguments, an unknown padding, or a
            kernel larger than the padded input.
    """
    if min(n, k, s, d) < 1:
        raise ValueError(f"n, k, s and d must be positive, got n={n}, k={k}, s={s}, d={d}.")
    if p == "same":
        return -(-n // s)
    if p == "valid":
        p = 0
    if not isinstance(p, int) or p < 0:
        raise ValueError(f"p must be a non-negative int, 'valid' or 'same', got {p!r}.")
    size = (n + 2 * p - d * (k - 1) - 1) // s + 1
    if size < 1:
        raise ValueError(
            f"input side {n} is too small for kernel {k} (dilation {d}) with padding {p}: "
            f"the output would have {size} positions. Pad more or use a smaller kernel."
        )
    return size


def stack_receptive_field(path: Iterable[tuple[int, int]]) -> tuple[int, int]:
    r"""Receptive field and jump at the end of a chain of (kernel, stride) layers.

    Starting from one pixel ($r_0 = 1$, $j_0 = 1$), each layer with kernel $k$
    and stride $s$ gives

    $$r_{out} = r_{in} + (k - 1)\,j_{in}, \qquad j_{out} = j_{in} \cdot s$$

    where the jump $j$ is the distance, in input pixels, between neighbouring
    outputs. A dilated kernel counts as $d(k - 1) + 1$.

    Example:
        Two stacked 3x3 convolutions see as far as one 5x5; three as one 7x7:

        ```python
        >>> stack_receptive_field([(3, 1), (3, 1)]), stack_receptive_field([(3, 1)] * 3)
        ((5, 1), (7, 1))

        ```

    Args:
        path: ``(kernel, stride)`` pairs, first layer first.

    Returns:
        ``(receptive field, jump)`` in input pixels.
    """
    r, j = 1, 1
    for k, s in path:
        r += (int(k) - 1) * j
        j *= int(s)
    return r, j


# --------------------------------------------------------------------------------------
# Tables.
# --------------------------------------------------------------------------------------


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
        header = self._header()
        align = ["---:" if num else ":---" for num in self._numeric()]
        lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |"]
        rows = self._cells()
        footer = self._footer()
        if footer is not None:
            rows = [*rows, [f"**{c}**" if c else "" for c in footer]]
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
        return "\n".join(lines)

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
            ImportError: If pandas is not installed (it is an optional dependency).
        """
        try:
            import pandas as pd
        except ImportError as err:  # pragma: no cover - pandas is usually there
            raise ImportError(
                "to_dataframe() needs pandas, an optional dependency: pip install pandas. "
                "to_markdown() and str() work without it."
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


# --------------------------------------------------------------------------------------
# The layer graph. Keras 3 has no public API for the nodes of a functional model: the
# private attributes that reach them are read through cnn_guide._compat.
# --------------------------------------------------------------------------------------


def _functional_of(model: Any) -> Any:
    """The functional graph behind a model: itself, or a built Sequential's."""
    import keras

    graph = model
    if isinstance(model, keras.Sequential):
        graph = _compat.sequential_graph(model)
        if graph is None:
            raise ValueError(
                f"Sequential model {model.name!r} is not built; start it with "
                "keras.Input(shape=...) or call model.build(input_shape) first."
            )
    if not isinstance(model, keras.Model) or not isinstance(graph, keras.Function):
        raise ValueError(
            f"layer_table needs a functional or Sequential Keras model, got "
            f"{type(model).__name__}: a subclassed model has no layer graph to analyse. "
            "Build it with keras.Input(...) ... keras.Model(inputs, outputs)."
        )
    return graph


def _ordered_nodes(graph: Any) -> list[Any]:
    """Call nodes of a functional graph in execution order, inputs first."""
    by_depth = _compat.nodes_by_depth(graph)
    return [node for depth in sorted(by_depth, reverse=True) for node in by_depth[depth]]


def _flat(structure: Any) -> list[Any]:
    import keras

    return list(keras.tree.flatten(structure))


def _takes_training(layer: Any) -> bool:
    try:
        return "training" in inspect.signature(layer.call).parameters
    except (TypeError, ValueError):  # pragma: no cover - exotic callables
        return False


@dataclass
class _Call:
    """One traced call of a top-level layer: its shapes and the graph ops it made."""

    node: Any
    in_shapes: list[tuple]
    out_shapes: list[tuple]
    start: int
    stop: int
    ops: list[Any] | None = None


def _input_shapes(graph: Any, input_shape: Sequence[int] | None) -> list[tuple]:
    shapes = [tuple(x.shape[1:]) for x in graph.inputs]
    if input_shape is not None:
        given = tuple(int(d) for d in input_shape)
        if len(shapes) != 1:
            raise ValueError(
                f"input_shape can only be given for a single-input model; this one has "
                f"{len(shapes)} inputs with shapes {shapes}."
            )
        own = shapes[0]
        if len(given) != len(own) or any(
            o is not None and o != g for o, g in zip(own, given, strict=False)
        ):
            raise ValueError(
                f"input_shape {given} does not fit the model's input {own}: give one with "
                f"{len(own)} entries matching its fixed sides, or leave input_shape out."
            )
        shapes = [given]
    for shape in shapes:
        if any(d is None for d in shape):
            raise ValueError(
                f"the model's input shape {shape} has free (None) sides; pass "
                "input_shape=(height, width, channels) to say which size to analyse."
            )
    return shapes


def _trace(graph: Any, shapes: list[tuple]) -> tuple[list[_Call], int]:
    """Trace one forward pass, recording which graph ops each layer call creates.

    Ops are attributed by the span of graph operations each call adds, rather
    than by parsing name scopes: TensorFlow makes scope names unique with
    suffixes (layer ``conv``'s ops land in scope ``conv_1``, which is also the
    natural scope of a layer named ``conv_1``), so names are ambiguous.
    """
    import tensorflow as tf

    batch = graph.inputs[0].shape[0] or 1
    specs = [
        tf.TensorSpec((batch, *shape), dtype=x.dtype)
        for x, shape in zip(graph.inputs, shapes, strict=True)
    ]
    nodes = [n for n in _ordered_nodes(graph) if n.operation is not None and not n.is_input]
    calls: list[_Call] = []

    def forward(*xs: Any) -> list[Any]:
        tf_graph = tf.compat.v1.get_default_graph()
        values = {id(x): y for x, y in zip(graph.inputs, xs, strict=True)}
        for node in nodes:
            args, kwargs = _compat.call_arguments(node, values)
            if _takes_training(node.operation) and kwargs.get("training") is None:
                kwargs["training"] = False
            start = len(tf_graph.get_operations())
            outputs = _flat(node.operation(*args, **kwargs))
            stop = len(tf_graph.get_operations())
            in_shapes = [tuple(values[id(x)].shape) for x in node.input_tensors]
            calls.append(_Call(node, in_shapes, [tuple(y.shape) for y in outputs], start, stop))
            for x, y in zip(node.outputs, outputs, strict=True):
                values[id(x)] = y
        return [values[id(x)] for x in graph.outputs]

    concrete = tf.function(forward, autograph=False).get_concrete_function(*specs)
    operations = concrete.graph.get_operations()
    for call in calls:
        call.ops = operations[call.start : call.stop]
    return calls, batch


# --------------------------------------------------------------------------------------
# Multiply-accumulates from graph ops.
# --------------------------------------------------------------------------------------

_CONV_OPS = {"Conv2D", "Conv3D", "Conv"}
_DEPTHWISE_OPS = {"DepthwiseConv2dNative"}
_TRANSPOSED_OPS = {
    "Conv2DBackpropInput",
    "Conv2DBackpropInputV2",
    "Conv3DBackpropInputV2",
}
_MATMUL_OPS = {"MatMul", "BatchMatMul", "BatchMatMulV2", "BatchMatMulV3"}
_CALL_OPS = {"PartitionedCall", "StatefulPartitionedCall"}
_BRANCH_OPS = {"If", "StatelessIf", "Case", "StatelessCase"}
_POOL_OPS = {
    "MaxPool",
    "MaxPoolV2",
    "AvgPool",
    "MaxPool3D",
    "AvgPool3D",
    "MaxPoolWithArgmax",
}


def _dims(tensor: Any) -> list[int] | None:
    shape = tensor.shape
    if shape.rank is None:
        return None
    dims = shape.as_list()
    return None if any(d is None for d in dims) else dims


def _function_graphs(op: Any) -> list[Any] | None:
    """Graphs of the functions a call or branch op runs (``None`` if unavailable)."""
    if op.type in _CALL_OPS:
        names = [op.get_attr("f").name]
    elif op.type in {"If", "StatelessIf"}:
        names = [op.get_attr("then_branch").name, op.get_attr("else_branch").name]
    else:
        names = [f.name for f in op.get_attr("branches")]
    graphs = []
    for name in names:
        function = _compat.graph_function(op.graph, name)
        graph = getattr(function, "graph", None)
        if graph is None:
            return None
        graphs.append(graph)
    return graphs


def _einsum_macs(op: Any) -> int | None:
    equation = op.get_attr("equation")
    equation = equation.decode() if isinstance(equation, bytes) else equation
    lhs, arrow, rhs = equation.replace(" ", "").partition("->")
    terms = lhs.split(",")
    sizes: dict[str, int] = {}
    for term, tensor in zip(terms, op.inputs, strict=False):
        dims = _dims(tensor)
        if dims is None:
            return None
        before, dots, after = term.partition("...")
        labels = list(before) + ["."] * (len(dims) - len(before) - len(after)) + list(after)
        if not dots:
            labels = list(term)
        for label, size in zip(labels, dims, strict=False):
            if label != ".":
                sizes[label] = max(sizes.get(label, 1), size)
    if not arrow:  # implicit output: the labels that appear once, sorted
        rhs = "".join(sorted(c for c in sizes if lhs.count(c) == 1))
    out = _dims(op.outputs[0])
    if out is None:
        return None
    return math.prod(out) * math.prod(s for label, s in sizes.items() if label not in rhs)


def _conv_output(op: Any) -> Any:
    """The output of a convolution op, as the layer sees it.

    TensorFlow runs a dilated convolution on a space-to-batch rearranged input,
    padded to a multiple of the dilation; the positions that padding adds are
    cropped again by the following ``BatchToSpaceND``, whose output is the
    layer's true output.
    """
    consumers = op.outputs[0].consumers()
    if len(consumers) == 1 and consumers[0].type == "BatchToSpaceND":
        return consumers[0].outputs[0]
    return op.outputs[0]


def _op_macs(op: Any, cache: dict[str, int | None]) -> int | None:
    """Multiply-accumulates of one op: convolutions and matrix products only."""
    kind = op.type
    if kind in _CONV_OPS or kind in _DEPTHWISE_OPS or kind in _TRANSPOSED_OPS:
        filt = _dims(op.inputs[1])
        # A transposed convolution scatters each input value through the kernel.
        data = _dims(op.inputs[2] if kind in _TRANSPOSED_OPS else _conv_output(op))
        if filt is None or data is None:
            return None
        if kind in _DEPTHWISE_OPS:  # filter (kh, kw, c_in, multiplier): one tap per output
            return math.prod(data) * math.prod(filt[:-2])
        # filter (*spatial, c_in / groups, c_out): each output is a dot product over all
        # but the last axis (for a transposed conv the roles of c_in and c_out swap).
        return math.prod(data) * math.prod(filt[:-1])
    if kind in _MATMUL_OPS:
        a, out = _dims(op.inputs[0]), _dims(op.outputs[0])
        if a is None or out is None:
            return None
        transposed = False
        for attr in ("transpose_a", "adj_x"):
            try:
                transposed = bool(op.get_attr(attr))
                break
            except ValueError:
                continue
        depth = a[-2] if transposed else a[-1]
        return math.prod(out) * depth
    if kind == "Einsum":
        return _einsum_macs(op)
    if kind in _CALL_OPS or kind in _BRANCH_OPS:
        key = f"{kind}:{op.name}:{id(op.graph)}"
        if key not in cache:
            graphs = _function_graphs(op)
            if graphs is None:
                cache[key] = None
            else:
                counts = [_ops_macs(g.get_operations(), cache) for g in graphs]
                # A conditional runs one branch: count the costlier one.
                known = [c for c in counts if c is not None]
                cache[key] = max(known, default=0) if len(known) == len(counts) else None
        return cache[key]
    return 0


def _ops_macs(ops: Iterable[Any], cache: dict[str, int | None] | None = None) -> int | None:
    cache = {} if cache is None else cache
    total = 0
    for op in ops:
        macs = _op_macs(op, cache)
        if macs is None:
            return None
        total += macs
    return total


def _spatial_ops(ops: Iterable[Any]) -> str | None:
    """The first op that mixes neighbouring positions (a kernel or stride above 1)."""
    for op in ops:
        kind = op.type
        if kind in _POOL_OPS or kind in _TRANSPOSED_OPS:
            return kind
        if kind in _CONV_OPS or kind in _DEPTHWISE_OPS:
            filt = _dims(op.inputs[1])
            strides = list(op.get_attr("strides")) if "strides" in op.node_def.attr else []
            if filt is None or any(k > 1 for k in filt[:-2]) or any(s > 1 for s in strides):
                return kind
        if kind in _CALL_OPS or kind in _BRANCH_OPS:
            graphs = _function_graphs(op)
            if graphs is None:
                return kind
            for graph in graphs:
                found = _spatial_ops(graph.get_operations())
                if found:
                    return found
    return None


# --------------------------------------------------------------------------------------
# Receptive fields over the layer graph.
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Field:
    """Receptive field and jump per spatial axis of one tensor.

    For a ``"global"`` tensor, ``r`` and ``j`` carry those of the last feature
    map before the global step (what the table reports as the final field).
    """

    kind: str
    r: tuple[int, ...] | None
    j: tuple[int, ...] | None


def _layer_classes() -> dict[str, tuple[type, ...]]:
    from keras import layers as L

    return {
        "conv": (
            L.Conv1D,
            L.Conv2D,
            L.Conv3D,
            L.DepthwiseConv1D,
            L.DepthwiseConv2D,
            L.SeparableConv1D,
            L.SeparableConv2D,
        ),
        "transposed": (
            L.Conv1DTranspose,
            L.Conv2DTranspose,
            L.Conv3DTranspose,
            L.UpSampling1D,
            L.UpSampling2D,
            L.UpSampling3D,
        ),
        "pool": (
            L.MaxPooling1D,
            L.MaxPooling2D,
            L.MaxPooling3D,
            L.AveragePooling1D,
            L.AveragePooling2D,
            L.AveragePooling3D,
        ),
        "global": (
            L.GlobalAveragePooling1D,
            L.GlobalAveragePooling2D,
            L.GlobalAveragePooling3D,
            L.GlobalMaxPooling1D,
            L.GlobalMaxPooling2D,
            L.GlobalMaxPooling3D,
            L.Flatten,
            L.MultiHeadAttention,
        ),
        # Layers that move or crop pixels without mixing them: field and jump unchanged.
        "pointwise": (
            L.InputLayer,
            L.Activation,
            L.ReLU,
            L.LeakyReLU,
            L.PReLU,
            L.ELU,
            L.Softmax,
            L.BatchNormalization,
            L.LayerNormalization,
            L.GroupNormalization,
            L.UnitNormalization,
            L.Dropout,
            L.SpatialDropout1D,
            L.SpatialDropout2D,
            L.SpatialDropout3D,
            L.GaussianDropout,
            L.GaussianNoise,
            L.AlphaDropout,
            L.Rescaling,
            L.Normalization,
            L.Identity,
            L.Dense,
            L.ActivityRegularization,
            L.Add,
            L.Subtract,
            L.Multiply,
            L.Average,
            L.Maximum,
            L.Minimum,
            L.Concatenate,
            L.ZeroPadding1D,
            L.ZeroPadding2D,
            L.ZeroPadding3D,
            L.Cropping1D,
            L.Cropping2D,
            L.Cropping3D,
        ),
    }


def _per_axis(value: Any, n: int, what: str, layer_name: str) -> tuple[int, ...]:
    values = (int(value),) * n if isinstance(value, int) else tuple(int(v) for v in value)
    if len(values) == 1 and n > 1:
        values = values * n
    if len(values) != n:
        raise ValueError(
            f"layer {layer_name!r}: {what} {value!r} does not match the {n} spatial axes "
            "of its input."
        )
    return values


def _apply(
    r: tuple[int, ...],
    j: tuple[int, ...],
    kernel: tuple[int, ...],
    stride: tuple[int, ...],
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    r = tuple(ri + (k - 1) * ji for ri, k, ji in zip(r, kernel, j, strict=True))
    j = tuple(ji * s for ji, s in zip(j, stride, strict=True))
    return r, j


def _spatial(shape: tuple, data_format: str) -> tuple:
    return tuple(shape[2:]) if data_format == "channels_first" else tuple(shape[1:-1])


def _sublayer_evidence(layer: Any, classes: dict[str, tuple[type, ...]]) -> str | None:
    """A sublayer or weight that shows a layer mixes neighbouring positions."""
    spatial = classes["conv"] + classes["transposed"] + classes["pool"] + classes["global"]
    for sub in _compat.flatten_layers(layer, include_self=False):
        if isinstance(sub, spatial):
            return f"its sublayer {sub.name!r} ({type(sub).__name__})"
    for weight in layer.weights:
        if len(weight.shape) >= 3:
            return f"its weight {weight.path!r} of shape {tuple(weight.shape)}"
    return None


class _FieldWalker:
    """Propagates receptive fields through a functional graph (and nested models)."""

    def __init__(self, strict: bool) -> None:
        self.strict = strict
        self.classes = _layer_classes()

    def unsupported(self, layer: Any, reason: str) -> _Field:
        if self.strict:
            raise ValueError(
                f"cannot compute the receptive field at layer {layer.name!r} "
                f"({type(layer).__name__}): {reason}. Give the layer a "
                "receptive_field_path() method returning the (kernel, stride) pairs of its "
                "longest spatial path, e.g. [(3, 2), (3, 1)], or pass strict=False to mark "
                "the field unknown."
            )
        return _Field("unknown", None, None)

    def walk(
        self,
        graph: Any,
        inputs: list[_Field],
        calls: dict[int, _Call] | None = None,
    ) -> tuple[dict[int, _Field], list[_Field]]:
        """Fields of every node's output (by node id) and of the graph's outputs."""
        fields = {id(x): f for x, f in zip(graph.inputs, inputs, strict=True)}
        by_node: dict[int, _Field] = {}
        for node in _ordered_nodes(graph):
            if node.is_input or node.operation is None:
                field = fields[id(node.outputs[0])]
            else:
                call = calls.get(id(node)) if calls else None
                field = self.layer_field(node, [fields[id(x)] for x in node.input_tensors], call)
            by_node[id(node)] = field
            for x in node.outputs:
                fields[id(x)] = field
        return by_node, [fields[id(x)] for x in graph.outputs]

    def layer_field(self, node: Any, inputs: list[_Field], call: _Call | None) -> _Field:
        layer = node.operation
        if any(f.kind == "unknown" for f in inputs):
            return _Field("unknown", None, None)
        if call is not None:
            in_shapes, out_shapes = call.in_shapes, call.out_shapes
        else:  # a layer inside a nested model: its symbolic shapes
            in_shapes = [tuple(x.shape) for x in node.input_tensors]
            out_shapes = [tuple(x.shape) for x in node.outputs]
        if any(f.kind == "local" for f in inputs):
            # A gate without spatial extent (squeeze-and-excitation's channel
            # weights) rescales channels: global context, but no positions.
            inputs = [
                f
                for f, shape in zip(inputs, in_shapes, strict=True)
                if f.kind == "local" or not _no_extent(shape, len(f.r or ()))
            ]
        r = _max_field(inputs)
        if not inputs or any(f.kind == "global" for f in inputs):
            return _Field("global", r, _first_jump(inputs))
        jumps = {f.j for f in inputs}
        if len(jumps) > 1:
            return self.unsupported(
                layer, f"its inputs have different jumps {sorted(jumps)} (resolutions)"
            )
        j = inputs[0].j
        if r is None or j is None:  # pragma: no cover - local fields carry both
            raise RuntimeError(f"layer {layer.name!r}: local field without r or j")
        n = len(r)
        classes = self.classes

        path = getattr(layer, "receptive_field_path", None)
        if callable(path):
            for kernel, stride in path():
                r, j = _apply(
                    r,
                    j,
                    _per_axis(kernel, n, "kernel", layer.name),
                    _per_axis(stride, n, "stride", layer.name),
                )
            return _Field("local", r, j)
        if _compat.has_layer_graph(layer):
            _, outs = self.walk(_functional_of(layer), inputs)
            return self.merge(layer, outs)
        if isinstance(layer, classes["transposed"]):
            return self.unsupported(layer, "upsampling has no field formula here")
        if isinstance(layer, classes["conv"]):
            dilation = _per_axis(layer.dilation_rate, n, "dilation_rate", layer.name)
            kernel = _per_axis(layer.kernel_size, n, "kernel_size", layer.name)
            effective = tuple(d * (k - 1) + 1 for d, k in zip(dilation, kernel, strict=True))
            stride = _per_axis(layer.strides, n, "strides", layer.name)
            r, j = _apply(r, j, effective, stride)
            return _Field("local", r, j)
        if isinstance(layer, classes["pool"]):
            kernel = _per_axis(layer.pool_size, n, "pool_size", layer.name)
            stride = _per_axis(layer.strides or layer.pool_size, n, "strides", layer.name)
            r, j = _apply(r, j, kernel, stride)
            return _Field("local", r, j)
        if isinstance(layer, classes["global"]) or all(len(s) <= 2 for s in out_shapes):
            return _Field("global", r, j)
        if isinstance(layer, classes["pointwise"]):
            return _Field("local", r, j)

        # Any other layer: pointwise only if it keeps the spatial size and nothing
        # in it (graph ops, sublayers, weights) mixes neighbouring positions.
        import keras

        data_format = getattr(layer, "data_format", None) or keras.config.image_data_format()
        sides = {_spatial(s, data_format) for s in [*in_shapes, *out_shapes]}
        if len(sides) != 1:
            sides_in = sorted({_spatial(s, data_format) for s in in_shapes}, key=str)
            sides_out = sorted({_spatial(s, data_format) for s in out_shapes}, key=str)
            return self.unsupported(
                layer, f"it changes the spatial size from {sides_in} to {sides_out}"
            )
        if any(d is None for d in next(iter(sides))):
            return self.unsupported(layer, "its spatial size is not known")
        found = _spatial_ops(call.ops or []) if call is not None else None
        evidence = f"its graph has a {found} op" if found else None
        evidence = evidence or _sublayer_evidence(layer, classes)
        if evidence:
            return self.unsupported(layer, f"it mixes neighbouring positions ({evidence})")
        return _Field("local", r, j)

    def merge(self, layer: Any, fields: list[_Field]) -> _Field:
        """The field of several outputs together: the largest."""
        if any(f.kind == "unknown" for f in fields):
            return _Field("unknown", None, None)
        kind = "global" if any(f.kind == "global" for f in fields) else "local"
        jumps = {f.j for f in fields if f.r is not None}
        if kind == "local" and len(jumps) > 1:
            return self.unsupported(layer, f"its outputs have different jumps {sorted(jumps)}")
        return _Field(kind, _max_field(fields), _first_jump(fields))


def _max_field(fields: list[_Field]) -> tuple[int, ...] | None:
    """The largest field per axis of those carried."""
    carried = [f.r for f in fields if f.r is not None]
    return tuple(map(max, zip(*carried, strict=True))) if carried else None


def _first_jump(fields: list[_Field]) -> tuple[int, ...] | None:
    return next((f.j for f in fields if f.j is not None), None)


def _no_extent(shape: tuple, n: int) -> bool:
    """Whether a tensor has no spatial extent: no spatial axes, or all of size 1."""
    import keras

    if len(shape) < n + 2:
        return True
    return all(d == 1 for d in _spatial(shape, keras.config.image_data_format()))


def _compact(values: tuple[int, ...] | None) -> int | tuple[int, ...] | None:
    if values is None:
        return None
    return values[0] if len(set(values)) == 1 else values


def _count(weights: Iterable[Any]) -> int:
    return sum(math.prod(w.shape) for w in weights)


def _depth(model: Any) -> int:
    # One kernel per convolution or dense layer (a separable conv's pointwise kernel is
    # part of the same layer, and a GroupedConv2D's per-group kernels ".../group<i>/kernel"
    # are one grouped convolution).
    kernels = {
        re.sub(r"/group\d+/kernel$", "/kernel", w.path)
        for w in model.weights
        if w.name in ("kernel", "depthwise_kernel") and len(w.shape) >= 2
    }
    return len(kernels)


def layer_table(
    model: keras.Model | str,
    input_shape: Sequence[int] | None = None,
    *,
    strict: bool = True,
) -> LayerTable:
    r"""Per-layer shapes, parameters, multiply-accumulates and receptive fields.

    One row per top-level layer of a functional (or Sequential) model:

    * **parameters**: ``layer.count_params()`` and its trainable part;
    * **multiply-accumulates (MACs)** per image of the forward pass, counted
      from the TensorFlow graph of one traced call on a batch of one image:
      every convolution (grouped, depthwise, separable, dilated, strided,
      transposed), matrix product and einsum the layer runs, inside blocks and
      nested models too. Only those are counted: batch normalization,
      activations, pooling and additions cost comparatively little and are
      left out, as in the papers' figures. A convolution producing an
      $H_{out} \times W_{out} \times C_{out}$ map with $k \times k$ kernels
      over $C_{in}$ channels in $g$ groups costs
      $H_{out} W_{out} k^2 C_{in} C_{out} / g$ (see `conv_macs`);
    * **receptive field** (side of the input window, in pixels, that one
      output position sees) and **jump** (input pixels between neighbouring
      output positions), propagated over the layer graph: a layer with kernel
      $k$ (dilated: $d(k-1)+1$) and stride $s$ gives
      $r_{out} = r_{in} + (k-1) j_{in}$ and $j_{out} = j_{in} s$; merges
      (``Add``, ``Concatenate``, ...) take the largest field of their inputs;
      global pooling, ``Flatten`` and attention make the output ``"global"``.
      Blocks declare their longest spatial path with a
      ``receptive_field_path()`` method returning ``(kernel, stride)`` pairs;
      layers that keep the spatial size and mix no neighbouring positions
      (normalization, activations, dropout, dense layers on feature maps)
      leave the field unchanged.

    Example:
        ```python
        from cnn_guide import analysis, models

        table = analysis.layer_table(models.build("simple_cnn"))
        print(table.to_markdown())
        table["conv1"].macs            # 2,458,624 = 28 * 28 * 7 * 7 * 1 * 64
        table.receptive_field          # 38: the last feature map sees 38x38 pixels
        ```

    Args:
        model: A built functional or Sequential model, or a registry name
            (built with its defaults).
        input_shape: Input shape ``(height, width, channels)`` to analyse;
            needed only when the model's input has free (``None``) sides.
        strict: Raise for a layer whose receptive field cannot be derived (an
            unknown layer that changes the spatial size or mixes neighbouring
            positions without declaring ``receptive_field_path()``, or
            upsampling). With ``False`` such fields are marked ``"unknown"``.

    Returns:
        The `LayerTable`; print it, or use ``to_markdown()`` or
        ``to_dataframe()``.

    Raises:
        ValueError: For a subclassed model, a missing or mismatched
            ``input_shape``, or (with ``strict``) a layer whose receptive
            field cannot be derived.
    """
    if isinstance(model, str):
        from cnn_guide.models import build

        model = build(model)
    graph = _functional_of(model)
    shapes = _input_shapes(graph, input_shape)
    calls, batch = _trace(graph, shapes)
    calls_by_node = {id(c.node): c for c in calls}

    def start_field(shape: tuple) -> _Field:
        n = len(shape) - 1  # spatial axes: all but channels
        if n < 1:
            return _Field("global", None, None)
        return _Field("local", (1,) * n, (1,) * n)

    walker = _FieldWalker(strict)
    by_node, out_fields = walker.walk(graph, [start_field(s) for s in shapes], calls_by_node)
    final = walker.merge(model, out_fields)
    cache: dict[str, int | None] = {}

    nodes_of: dict[int, list[Any]] = {}
    for node in _ordered_nodes(graph):
        nodes_of.setdefault(id(node.operation), []).append(node)
    rows = []
    for layer in graph.layers:
        nodes = nodes_of.get(id(layer), [])
        if not nodes:
            continue
        layer_calls = [calls_by_node[id(n)] for n in nodes if id(n) in calls_by_node]
        if layer_calls:
            macs = _ops_macs([op for c in layer_calls for op in c.ops or []], cache)
            shape_list = [s[1:] for s in layer_calls[0].out_shapes]
        else:  # an input layer
            macs = 0
            position = [x is nodes[0].outputs[0] for x in graph.inputs].index(True)
            shape_list = [shapes[position]]
        if macs is not None:
            macs //= batch
        if layer_calls and callable(getattr(layer, "macs_per_image", None)):
            # A layer that computes more than its definition (PartialConv2D's zeros)
            # says what it counts.
            macs = sum(layer.macs_per_image(c.out_shapes[0][1:]) for c in layer_calls)
        field = by_node[id(nodes[0])]
        local = field.kind == "local"
        rows.append(
            LayerRow(
                name=layer.name,
                type=type(layer).__name__,
                output_shape=shape_list[0] if len(shape_list) == 1 else shape_list,
                params=layer.count_params() if layer.weights else 0,
                trainable_params=_count(layer.trainable_weights),
                macs=macs,
                receptive_field=_compact(field.r) if local else None,
                jump=_compact(field.j) if local else None,
                field=field.kind,
            )
        )
    return LayerTable(
        model_name=model.name,
        input_shape=shapes[0] if len(shapes) == 1 else tuple(shapes),
        rows=tuple(rows),
        total_params=_count(model.weights),
        trainable_params=_count(model.trainable_weights),
        receptive_field=_compact(final.r),
        jump=_compact(final.j),
        depth=_depth(model),
    )


def compare(
    models_or_names: keras.Model | str | Iterable[keras.Model | str],
    input_shape: Sequence[int] | None = None,
    *,
    strict: bool = True,
) -> ComparisonTable:
    """One row per model: parameters, multiply-accumulates, depth and receptive field.

    Each model is analysed with `layer_table`, so the numbers are the totals
    of its per-layer table.

    Example:
        ```python
        from cnn_guide import analysis

        print(analysis.compare(["simple_cnn", "resnet_fashion"]).to_markdown())
        ```

    Args:
        models_or_names: Built models, registry names (built with
            ``cnn_guide.models.build``), or a mix; a single one is accepted too.
        input_shape: Shape to build the named models at (default: each
            model's own), also used for built models whose input has free
            (``None``) sides. A built model with a fixed input keeps it.
        strict: As for `layer_table`.

    Returns:
        The `ComparisonTable`, in the order given.

    Raises:
        ValueError: For an unknown registry name, or as `layer_table` does.
    """
    import keras

    items = (
        [models_or_names]
        if isinstance(models_or_names, (str, keras.Model))
        else list(models_or_names)
    )
    rows = []
    for item in items:
        if isinstance(item, str):
            from cnn_guide.models import build

            kwargs = {} if input_shape is None else {"input_shape": tuple(input_shape)}
            model, name = build(item, **kwargs), item
            table = layer_table(model, strict=strict)
        else:
            model, name = item, item.name
            free = any(d is None for x in model.inputs for d in x.shape[1:])
            table = layer_table(model, input_shape if free else None, strict=strict)
        rows.append(
            ComparisonRow(
                name=name,
                params=table.total_params,
                trainable_params=table.trainable_params,
                macs=table.macs,
                depth=table.depth,
                receptive_field=table.receptive_field,
                input_shape=table.input_shape,
            )
        )
    return ComparisonTable(rows=tuple(rows))
