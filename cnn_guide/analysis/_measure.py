"""The two entry points: `layer_table` for one model, `compare` for several.

They put together the traced forward pass (`cnn_guide.analysis._graph`), the
multiply-accumulates of its ops (`cnn_guide.analysis._graph_ops`) and the
receptive-field walk (`cnn_guide.analysis._receptive_field`) into the tables
of `cnn_guide.analysis._tables`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from cnn_guide.analysis._graph import _functional_of, _input_shapes, _ordered_nodes, _trace
from cnn_guide.analysis._graph_ops import _ops_macs
from cnn_guide.analysis._receptive_field import _Field, _FieldWalker
from cnn_guide.analysis._tables import ComparisonRow, ComparisonTable, LayerRow, LayerTable

if TYPE_CHECKING:
    import keras


def _compact(values: tuple[int, ...] | None) -> int | tuple[int, ...] | None:
    """One int where every spatial axis agrees (square fields), else the tuple per axis."""
    if values is None:
        return None
    return values[0] if len(set(values)) == 1 else values


def _count(weights: Iterable[Any]) -> int:
    """Number of scalars in the given weights."""
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
        from cnn_guide.models import build  # lazy: the models load TensorFlow

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
    import keras  # lazy: keeps TensorFlow out of import time

    items = (
        [models_or_names]
        if isinstance(models_or_names, (str, keras.Model))
        else list(models_or_names)
    )
    rows = []
    for item in items:
        if isinstance(item, str):
            from cnn_guide.models import build  # lazy: the models load TensorFlow

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
