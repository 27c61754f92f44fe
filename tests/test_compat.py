"""The private Keras and TensorFlow API cnn_guide uses, exercised on real small models.

Each use gets a test that runs it as the package does (so that a renamed or
changed attribute fails here first) and a test that removes the attribute and
expects the clear `PrivateAPIError` naming it and the installed version.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras.src.backend.tensorflow.trainer import TensorFlowTrainer

from cnn_guide import _compat, analysis
from cnn_guide._compat import (
    PrivateAPIError,
    call_arguments,
    check_private_api,
    flatten_layers,
    graph_function,
    has_layer_graph,
    nodes_by_depth,
    patch_multiworker_build,
    patch_scalar_reduce,
    sequential_graph,
)
from cnn_guide.layers import SeparableConvBlock


def small_model() -> keras.Model:
    """Input - block (with sublayers) - a keras.ops call - Dense."""
    inputs = keras.Input((6, 6, 2), name="image")
    x = SeparableConvBlock(4, name="block")(inputs)
    x = keras.ops.mean(x, axis=(1, 2))  # an operation, not a layer
    return keras.Model(inputs, keras.layers.Dense(3, name="dense")(x))


def assert_names_missing(error: pytest.ExceptionInfo, attribute: str, version: str) -> None:
    message = str(error.value)
    assert attribute in message and version in message
    assert _compat.CHECKED_KERAS in message and "pip install" in message


def test_check_private_api_passes_on_the_installed_versions():
    check_private_api()


def test_checked_versions_are_recorded():
    for version in (_compat.CHECKED_KERAS, _compat.CHECKED_TENSORFLOW):
        assert [int(part) for part in version.split(".")][:2] >= [2, 0]


# --- Layer._flatten_layers ---------------------------------------------------------------


def test_flatten_layers_reaches_the_layers_inside_a_block():
    model = small_model()
    block = model.get_layer("block")
    inner = flatten_layers(model, include_self=False)
    assert model not in inner and block in inner and model.get_layer("dense") in inner
    assert any(isinstance(layer, keras.layers.SeparableConv2D) for layer in inner)
    assert flatten_layers(model)[0] is model
    block_layers = flatten_layers(block, include_self=False)
    assert block_layers and all(layer in inner for layer in block_layers)
    # An operation that is not a layer has no sublayers.
    op = next(
        n.operation
        for d in nodes_by_depth(model).values()
        for n in d
        if n.operation is not None and not isinstance(n.operation, keras.layers.Layer)
    )
    assert flatten_layers(op, include_self=False) == [] and flatten_layers(op) == [op]
    keras.backend.clear_session()


def test_flatten_layers_names_a_missing_attribute(monkeypatch):
    model = small_model()
    monkeypatch.delattr(keras.layers.Layer, "_flatten_layers")
    with pytest.raises(PrivateAPIError) as error:
        flatten_layers(model)
    assert_names_missing(error, "Layer._flatten_layers", keras.__version__)
    with pytest.raises(PrivateAPIError, match="_flatten_layers"):
        check_private_api()
    keras.backend.clear_session()


# --- Function._nodes_by_depth, Node.arguments.fill_in ------------------------------------


def test_nodes_by_depth_orders_the_call_graph():
    model = small_model()
    by_depth = nodes_by_depth(model)
    order = [n.operation for d in sorted(by_depth, reverse=True) for n in by_depth[d]]
    names = [getattr(op, "name", None) for op in order]
    assert names[0] == "image" and names[1] == "block" and names[-1] == "dense"
    assert len(order) == 4  # input, block, the mean, dense
    keras.backend.clear_session()


def test_nodes_by_depth_names_a_missing_attribute(monkeypatch):
    model = small_model()
    monkeypatch.delattr(model, "_nodes_by_depth")
    with pytest.raises(PrivateAPIError) as error:
        nodes_by_depth(model)
    assert_names_missing(error, "Function._nodes_by_depth", keras.__version__)
    keras.backend.clear_session()


def test_call_arguments_replays_a_node_with_real_tensors():
    model = small_model()
    node = nodes_by_depth(model)[0][0]  # the Dense call
    x = np.random.default_rng(0).random((2, 4)).astype("float32")
    args, kwargs = call_arguments(node, {id(node.input_tensors[0]): x})
    np.testing.assert_allclose(node.operation(*args, **kwargs), model.get_layer("dense")(x))
    keras.backend.clear_session()


def test_call_arguments_names_a_missing_attribute(monkeypatch):
    model = small_model()
    node = nodes_by_depth(model)[0][0]
    monkeypatch.delattr(type(node.arguments), "fill_in")
    with pytest.raises(PrivateAPIError) as error:
        call_arguments(node, {})
    assert_names_missing(error, "SymbolicArguments.fill_in", keras.__version__)
    keras.backend.clear_session()


# --- Sequential._functional --------------------------------------------------------------


def test_sequential_graph_is_the_functional_model_a_sequential_runs():
    built = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="d")])
    graph = sequential_graph(built)
    assert isinstance(graph, keras.Function) and graph.layers[-1] is built.get_layer("d")
    assert has_layer_graph(built) and has_layer_graph(small_model())
    unbuilt = keras.Sequential([keras.layers.Dense(2)])
    assert sequential_graph(unbuilt) is None and not has_layer_graph(unbuilt)
    assert not has_layer_graph(keras.layers.Dense(2))
    keras.backend.clear_session()


def test_sequential_graph_names_a_missing_attribute(monkeypatch):
    built = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    monkeypatch.delattr(built, "_functional")
    with pytest.raises(PrivateAPIError) as error:
        sequential_graph(built)
    assert_names_missing(error, "Sequential._functional", keras.__version__)
    keras.backend.clear_session()


# --- tf.Graph._get_function --------------------------------------------------------------


@tf.function
def _matmul(x, kernel):
    return tf.matmul(x, kernel)


class NestedFunctionDense(keras.layers.Layer):
    """A fixed 4 -> 3 matrix product run by a nested tf.function (a call op)."""

    def call(self, x):
        return _matmul(x, tf.ones((4, 3)))

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], 3)


def nested_function_model() -> keras.Model:
    inputs = keras.Input((4,))
    return keras.Model(inputs, NestedFunctionDense(name="nested")(inputs))


def test_graph_function_finds_the_body_of_a_call_op():
    graph = _matmul.get_concrete_function(tf.TensorSpec((2, 4)), tf.TensorSpec((4, 3))).graph

    @tf.function
    def outer(x, kernel):
        return _matmul(x, kernel) + 1.0

    outer_graph = outer.get_concrete_function(tf.TensorSpec((2, 4)), tf.TensorSpec((4, 3))).graph
    call = next(op for op in outer_graph.get_operations() if "PartitionedCall" in op.type)
    body = graph_function(call.graph, call.get_attr("f").name).graph
    assert "MatMul" in [op.type for op in body.get_operations()]
    assert graph_function(graph, "no_such_function") is None


def test_analysis_counts_the_multiply_accumulates_inside_a_call_op():
    # 4 inputs x 3 outputs, reached only through the nested function's graph.
    assert analysis.layer_table(nested_function_model())["nested"].macs == 12
    keras.backend.clear_session()


def test_graph_function_names_a_missing_attribute(monkeypatch):
    monkeypatch.delattr(tf.Graph, "_get_function")
    with pytest.raises(PrivateAPIError) as error:
        graph_function(tf.Graph(), "f")
    assert_names_missing(error, "tf.Graph._get_function", tf.__version__)
    with pytest.raises(PrivateAPIError, match="_get_function"):
        analysis.layer_table(nested_function_model())
    with pytest.raises(PrivateAPIError, match="_get_function"):
        check_private_api()


# --- The multi-worker repairs: Model._maybe_symbolic_build, strategy.reduce --------------


def compiled_under(strategy: tf.distribute.Strategy) -> keras.Model:
    with strategy.scope():
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    return model


def test_fit_builds_through_the_patched_method():
    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    model = compiled_under(strategy)
    seen = []
    keras_build = model._maybe_symbolic_build

    def spy(iterator=None, data_batch=None):
        seen.append((iterator, data_batch))
        return keras_build(iterator=iterator, data_batch=data_batch)

    model._maybe_symbolic_build = spy
    patch_multiworker_build(model, strategy)
    patch_multiworker_build(model, strategy)  # twice: wrapped once
    x = np.zeros((8, 4), "float32")
    model.fit(x, np.zeros(8, "int64"), batch_size=4, epochs=1, verbose=0)
    # Keras still builds through this method, from its epoch iterator; the
    # patch hands it this worker's own batch instead of the iterator.
    assert seen and seen[0][0] is None
    images, labels = seen[0][1][:2]
    assert tuple(images.shape) == (4, 4) and tuple(labels.shape) == (4,)
    assert not isinstance(images, tf.distribute.DistributedValues)


def test_patch_multiworker_build_names_a_missing_attribute(monkeypatch):
    model = compiled_under(tf.distribute.get_strategy())
    monkeypatch.delattr(TensorFlowTrainer, "_maybe_symbolic_build")
    with pytest.raises(PrivateAPIError) as error:
        patch_multiworker_build(model, tf.distribute.get_strategy())
    assert_names_missing(error, "_maybe_symbolic_build", keras.__version__)
    with pytest.raises(PrivateAPIError, match="_maybe_symbolic_build"):
        check_private_api()


def test_patched_reduce_averages_scalars_over_replicas():
    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    patch_scalar_reduce(strategy)
    patch_scalar_reduce(strategy)  # twice: wrapped once
    scalars = strategy.run(lambda: tf.constant(3.0))
    assert float(strategy.reduce("MEAN", scalars, axis=0)) == 3.0
    vectors = strategy.run(lambda: tf.constant([1.0, 5.0]))
    assert float(strategy.reduce("MEAN", vectors, axis=0)) == 3.0  # axis 0 kept
