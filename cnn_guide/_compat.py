"""Every use of Keras' and TensorFlow's private API, in one place.

The book needs a few things that neither library offers publicly: the layers
nested inside a block, the call graph of a functional model, the function
bodies a TensorFlow graph calls, and two repairs that let Keras 3's ``fit``
run under ``MultiWorkerMirroredStrategy``. Each is one small function here,
whose docstring names the private attribute it reads, says why no public API
does the job, and gives the versions it was checked with. Nothing else in
`cnn_guide` touches a private attribute of Keras or TensorFlow.

When an attribute is missing, the function raises `PrivateAPIError` naming it
and the installed versions, instead of failing somewhere deep in Keras.
`check_private_api` checks every attribute up front, on a tiny model.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import keras
    import tensorflow as tf

__all__ = [
    "CHECKED_KERAS",
    "CHECKED_TENSORFLOW",
    "PrivateAPIError",
    "call_arguments",
    "check_private_api",
    "flatten_layers",
    "graph_function",
    "has_layer_graph",
    "nodes_by_depth",
    "patch_multiworker_build",
    "patch_scalar_reduce",
    "sequential_graph",
]

CHECKED_KERAS = "3.15.1"
"""The Keras version every function here was last checked against."""

CHECKED_TENSORFLOW = "2.21.0"
"""The TensorFlow version every function here was last checked against."""

# Node attributes (keras.src.ops.node.Node) that cnn_guide.analysis reads on
# the nodes `nodes_by_depth` returns. Not underscored, but Node is not exported.
NODE_ATTRIBUTES = ("operation", "arguments", "outputs", "input_tensors", "is_input")


class PrivateAPIError(RuntimeError):
    """A private Keras or TensorFlow attribute that cnn_guide relies on is missing."""


def _installed() -> str:
    import keras

    versions = f"Keras {keras.__version__}"
    tf = sys.modules.get("tensorflow")  # named only when already imported
    return versions + (f" with TensorFlow {tf.__version__}" if tf is not None else "")


def _require(owner: object, attribute: str, where: str) -> Any:
    """``getattr(owner, attribute)``, or a `PrivateAPIError` naming what is missing."""
    try:
        return getattr(owner, attribute)
    except AttributeError:
        raise PrivateAPIError(
            f"cnn_guide uses the private attribute {where}, checked with Keras "
            f"{CHECKED_KERAS} and TensorFlow {CHECKED_TENSORFLOW}; the installed "
            f"{_installed()} has no {attribute!r}. Install the checked versions "
            f"(pip install 'keras=={CHECKED_KERAS}' 'tensorflow=={CHECKED_TENSORFLOW}') "
            "or adapt cnn_guide/_compat.py to the new release."
        ) from None


# --- Layers and functional graphs ------------------------------------------------------


def flatten_layers(layer: Any, include_self: bool = True) -> list[keras.layers.Layer]:
    """Every layer inside ``layer``, recursively (blocks, nested models, their sublayers).

    Private API: ``keras.layers.Layer._flatten_layers(include_self, recursive=True)``.
    The public ``Model.layers`` lists only a model's top-level layers, and a
    plain ``Layer`` keeps its sublayers in the private ``_layers``; Keras'
    own weight and state collection walks them with ``_flatten_layers``.
    Checked with Keras 3.15.1.

    Args:
        layer: A Keras layer or model. An operation that is not a layer (a
            ``keras.ops`` call in a functional graph) has no sublayers.
        include_self: Whether ``layer`` itself comes first in the list.

    Returns:
        The layers, each once, parents before their sublayers.

    Raises:
        PrivateAPIError: If Keras no longer has ``Layer._flatten_layers``.
    """
    import keras

    if not isinstance(layer, keras.layers.Layer):
        return [layer] if include_self else []
    flatten = _require(layer, "_flatten_layers", "keras.layers.Layer._flatten_layers")
    return list(flatten(include_self=include_self, recursive=True))


def has_layer_graph(layer: Any) -> bool:
    """Whether ``layer`` is a functional model, or a built Sequential model, with a call graph.

    Public API only (``keras.Function``, the base class of functional models),
    apart from `sequential_graph`.
    """
    import keras

    if isinstance(layer, keras.Sequential):
        return sequential_graph(layer) is not None
    return isinstance(layer, keras.Function)


def sequential_graph(model: keras.Sequential) -> keras.Model | None:
    """The functional model a Sequential model runs, or ``None`` before it is built.

    Private API: ``keras.Sequential._functional``. A Sequential model builds a
    functional model of its layers once its input shape is known and runs
    that; Keras exposes no public handle on it. Checked with Keras 3.15.1.

    Raises:
        PrivateAPIError: If Keras no longer has ``Sequential._functional``.
    """
    return _require(model, "_functional", "keras.Sequential._functional")


def nodes_by_depth(graph: keras.Function) -> dict[int, list[Any]]:
    """The call nodes of a functional graph, grouped by depth (0: the outputs).

    Private API: ``keras.Function._nodes_by_depth`` (set by
    ``keras.src.ops.function.Function.__init__``), a dict from depth to
    ``keras.src.ops.node.Node`` objects; analysis reads their
    ``operation``, ``arguments``, ``outputs``, ``input_tensors`` and
    ``is_input``. Keras 3 has no public API for the nodes of a functional
    model (``Model.layers`` loses the order and the repeated calls of a
    shared layer); ``Function.call`` runs on exactly this dict. Checked with
    Keras 3.15.1.

    Args:
        graph: A functional model (or a built Sequential's `sequential_graph`).

    Raises:
        PrivateAPIError: If Keras no longer has ``Function._nodes_by_depth``.
    """
    return _require(graph, "_nodes_by_depth", "keras.Function._nodes_by_depth")


def call_arguments(node: Any, values: dict[int, Any]) -> tuple[list[Any], dict[str, Any]]:
    """A node's call arguments with its symbolic inputs replaced by real tensors.

    Private API: ``keras.src.ops.node.Node.arguments.fill_in`` (a
    ``SymbolicArguments`` object), the method ``Function.call`` uses to replay a
    node; neither class is exported. Checked with Keras 3.15.1.

    Args:
        node: A node from `nodes_by_depth`.
        values: Tensors by ``id`` of the symbolic tensors they replace.

    Returns:
        ``(args, kwargs)`` for calling ``node.operation``.

    Raises:
        PrivateAPIError: If the node has no ``arguments.fill_in``.
    """
    arguments = _require(node, "arguments", "keras.src.ops.node.Node.arguments")
    fill_in = _require(arguments, "fill_in", "SymbolicArguments.fill_in")
    args, kwargs = fill_in(values)
    return list(args), dict(kwargs)


# --- TensorFlow graphs -------------------------------------------------------------------


def graph_function(op_graph: tf.Graph, name: str) -> Any:
    """The function named ``name`` that a call or branch op of ``op_graph`` runs.

    Private API: ``tf.Graph._get_function(name)``. A ``PartitionedCall``,
    ``If`` or ``Case`` op names its function bodies only (``op.get_attr("f")``
    is a ``NameAttrList``); TensorFlow has no public lookup from that name to
    the function and its graph. Checked with TensorFlow 2.21.0.

    Args:
        op_graph: The graph that holds the op (``op.graph``).
        name: The function's name, from the op's attribute.

    Returns:
        The function (its ``graph`` attribute holds the body), or ``None`` if
        the graph does not know the name.

    Raises:
        PrivateAPIError: If TensorFlow no longer has ``Graph._get_function``.
    """
    return _require(op_graph, "_get_function", "tf.Graph._get_function")(name)


# --- Keras fit under MultiWorkerMirroredStrategy ------------------------------------------


def _local_part(strategy: tf.distribute.Strategy, value: Any) -> Any:
    import tensorflow as tf

    if isinstance(value, tf.distribute.DistributedValues):
        return strategy.experimental_local_results(value)[0]
    return value


def patch_multiworker_build(model: keras.Model, strategy: tf.distribute.Strategy) -> None:
    """Let ``fit`` build its training state from this worker's own part of the first batch.

    Private API: ``Model._maybe_symbolic_build(iterator=None, data_batch=None)``
    of Keras' TensorFlow trainer, and the ``(first_step, last_step, iterator)``
    items its epoch iterator yields. Before the first step, Keras draws one
    batch and averages it over all replicas with ``strategy.reduce``, which
    ``MultiWorkerMirroredStrategy`` refuses for an ``(images, labels)`` pair
    (and collectives refuse uint8 labels): keras-team/keras#20585,
    tensorflow/tensorflow#72388. Only the batch's shapes are needed, so this
    wraps the method to pass the local part instead. There is no public hook
    into that step. Checked with Keras 3.15.1 and TensorFlow 2.21.0.

    Patching the same model for the same strategy twice does nothing.

    Raises:
        PrivateAPIError: If Keras no longer has ``_maybe_symbolic_build``.
    """
    import tensorflow as tf

    if getattr(model, "_cnn_guide_multiworker", None) is strategy:
        return
    build_with_batch = _require(model, "_maybe_symbolic_build", "keras.Model._maybe_symbolic_build")

    def build_from_local_batch(iterator: Any = None, data_batch: Any = None) -> Any:
        if iterator is not None:
            for _, _, batches in iterator:  # (first_step, last_step, batch iterator)
                batch = next(batches)
                data_batch = tf.nest.map_structure(lambda v: _local_part(strategy, v), batch)
                break
        return build_with_batch(data_batch=data_batch)

    model._maybe_symbolic_build = build_from_local_batch
    model._cnn_guide_multiworker = strategy


def patch_scalar_reduce(strategy: tf.distribute.Strategy) -> None:
    """Let ``strategy.reduce(op, value, axis=0)`` average per-replica scalars.

    No private attribute: this wraps the strategy's public ``reduce``. After
    each step Keras 3 averages the per-replica loss and metric values with
    ``strategy.reduce("MEAN", value, axis=0)``; they are scalars, which have
    no axis 0, and ``MultiWorkerMirroredStrategy`` raises. They are averaged
    over the replicas with ``axis=None`` instead, which is what
    ``MirroredStrategy`` computes. Checked with Keras 3.15.1 and TensorFlow
    2.21.0. Patching the same strategy twice does nothing.
    """
    if getattr(strategy, "_cnn_guide_scalar_reduce", False):
        return
    reduce_with_axis = strategy.reduce

    def reduce(reduce_op: Any, value: Any, axis: int | None = None) -> Any:
        shape = getattr(_local_part(strategy, value), "shape", None)
        if axis is not None and shape is not None and shape.rank == 0:
            axis = None  # a scalar per replica: average across replicas only
        return reduce_with_axis(reduce_op, value, axis)

    strategy.reduce = reduce
    strategy._cnn_guide_scalar_reduce = True


# --- The up-front check --------------------------------------------------------------------


def check_private_api() -> None:
    """Check that every private attribute used here exists in the installed Keras and TensorFlow.

    Builds a two-layer functional model and a Sequential one (milliseconds)
    and looks up each attribute the functions above use, without calling any.

    Raises:
        PrivateAPIError: For the first attribute missing, naming it and the
            installed versions.
    """
    import keras
    import tensorflow as tf

    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Dense(3)(inputs)))
    sequential = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])

    _require(model, "_flatten_layers", "keras.layers.Layer._flatten_layers")
    _require(sequential, "_functional", "keras.Sequential._functional")
    nodes = [n for depth in nodes_by_depth(model).values() for n in depth]
    for attribute in NODE_ATTRIBUTES:
        _require(nodes[0], attribute, f"keras.src.ops.node.Node.{attribute}")
    _require(nodes[0].arguments, "fill_in", "SymbolicArguments.fill_in")
    _require(tf.Graph, "_get_function", "tf.Graph._get_function")
    _require(model, "_maybe_symbolic_build", "keras.Model._maybe_symbolic_build")
