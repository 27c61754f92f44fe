"""The layer graph of a functional model, and one traced forward pass over it.

Keras 3 has no public API for the nodes of a functional model: the private
attributes that reach them are read through `cnn_guide._compat`.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cnn_guide import _compat


def _functional_of(model: Any) -> Any:
    """The functional graph behind a model: itself, or a built Sequential's."""
    import keras  # lazy: keeps TensorFlow out of import time

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
    import keras  # lazy: keeps TensorFlow out of import time

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
    import tensorflow as tf  # lazy: keeps TensorFlow out of import time

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
