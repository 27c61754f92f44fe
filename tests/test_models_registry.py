"""Table-driven tests over every registered model.

Paper configurations are built, counted and dropped (never trained); the
Fashion-MNIST variants are also run, saved, loaded and differentiated.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import keras
import numpy as np
import pytest
import tensorflow as tf

from cnn_guide import models
from cnn_guide.data import FASHION_MNIST_SHAPE
from cnn_guide.models._common import HeadOptions

ALL = models.list_models()
WITH_REFERENCE = [n for n in ALL if models.get_info(n).reference_params]
FASHION = models.list_models(fashion=True)


def count(model: keras.Model, kind: str) -> int:
    if kind == "trainable":
        return sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    return model.count_params()


@pytest.mark.parametrize("name", WITH_REFERENCE)
def test_reference_parameter_count(name):
    info = models.get_info(name)
    model = models.build(name)
    assert count(model, info.reference_kind) == info.reference_params, info.reference_source
    keras.backend.clear_session()


@pytest.mark.parametrize("name", ALL)
def test_builds_at_its_minimum_input_size(name):
    info = models.get_info(name)
    side = info.min_input_size
    model = models.build(name, input_shape=(side, side, info.input_shape[2]), num_classes=3)
    assert model.output_shape == (None, 3)
    keras.backend.clear_session()


@pytest.mark.parametrize("name", ALL)
def test_rejects_an_input_below_its_minimum(name):
    info = models.get_info(name)
    side = info.min_input_size - 1
    with pytest.raises(ValueError, match="too small"):
        models.build(name, input_shape=(side, side, info.input_shape[2]))


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"input_shape": (28, 28)}, "3 entries"),
        ({"input_shape": (1, 28, 28, 1)}, "3 entries"),
        ({"num_classes": 0}, "num_classes"),
        ({"num_classes": -3}, "num_classes"),
        ({"pooling": "mean"}, "pooling"),
    ],
)
def test_rejects_bad_arguments_up_front(name, kwargs, message):
    with pytest.raises(ValueError, match=message):
        models.build(name, **kwargs)


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(ValueError, match="Valid names: .*simple_cnn"):
        models.build("resnet-18")


def documented_by(builder):
    """The builder, or the family builder its docstring defers its arguments to."""
    match = re.search(r"The arguments are\s+those\s+of\s+`(\w+)`", builder.__doc__ or "")
    if not match:
        return builder
    family_builder = getattr(inspect.getmodule(builder), match.group(1))
    family_params = inspect.signature(family_builder).parameters
    # The variant names a subset of the family builder's keyword arguments
    # (a row such as resnet34 names none: it forwards its **kwargs).
    named = {
        name
        for name, parameter in inspect.signature(builder).parameters.items()
        if parameter.kind is not inspect.Parameter.VAR_KEYWORD
    }
    assert named <= set(family_params)
    return family_builder


@pytest.mark.parametrize("name", ALL)
def test_rejects_an_unknown_argument_naming_the_valid_ones(name):
    with pytest.raises(
        ValueError, match=r"unknown argument\(s\) colour\. Valid ones: .*num_classes"
    ):
        models.build(name, colour="red")


ROWS = [
    n for n in ALL if list(inspect.signature(models.get_info(n).builder).parameters) == ["kwargs"]
]


def test_the_rows_are_the_paper_configurations_of_resnet_vgg_alexnet_and_convnext():
    assert ROWS == [
        "alexnet_grouped",
        *("vgg11", "vgg13", "vgg16", "vgg19"),
        *("resnet18", "resnet34", "resnet50", "resnet101", "resnet152"),
        *("convnext_tiny", "convnext_small", "convnext_base"),
    ]


@pytest.mark.parametrize("name", ROWS)
def test_a_rows_typed_arguments_are_its_family_builders(name):
    builder = models.get_info(name).builder
    annotation = inspect.signature(builder).parameters["kwargs"].annotation
    arguments = getattr(inspect.getmodule(builder), re.fullmatch(r"Unpack\[(\w+)\]", annotation)[1])
    takes = {
        argument
        for argument, parameter in inspect.signature(documented_by(builder)).parameters.items()
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY
    }
    head = set(HeadOptions.__annotations__)
    assert set(arguments.__optional_keys__) == takes | head
    # The row builds its own configuration under its own name, taking the family's options.
    model = models.build(name, input_shape=(67, 67, 3), num_classes=3, include_top=False)
    assert model.name == name and len(model.output_shape) == 4
    keras.backend.clear_session()


@pytest.mark.parametrize("name", ALL)
def test_info_is_complete(name):
    info = models.get_info(name)
    assert info.paper and info.url.startswith("https://") and 1989 <= info.year <= 2030
    assert info.chapter.startswith("chapters/") and info.chapter.endswith(".md")
    assert info.builder.__doc__ and "Args:" in documented_by(info.builder).__doc__
    if info.variant_of is not None:
        assert info.variant_of in ALL


def test_the_fashion_mnist_models_are_the_variants_and_the_simple_cnn():
    assert FASHION == [n for n in ALL if models.get_info(n).takes_fashion_mnist]
    assert set(FASHION) == {*models.list_models(variants=True), "simple_cnn"}
    assert models.list_models(fashion=False) == [n for n in ALL if n not in FASHION]
    assert models.list_models(family="resnet", fashion=True) == ["resnet_fashion"]
    simple, paper = models.get_info("simple_cnn"), models.get_info("resnet18")
    assert simple.takes_fashion_mnist and not simple.is_variant
    assert not paper.takes_fashion_mnist
    assert all(models.get_info(n).input_shape == FASHION_MNIST_SHAPE for n in FASHION)


def test_every_public_builder_is_registered():
    registered = {models.get_info(n).builder for n in ALL}
    for module_info in pkgutil.iter_modules(models.__path__):
        if module_info.name.startswith("_"):
            continue
        module = importlib.import_module(f"cnn_guide.models.{module_info.name}")
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name)
            if inspect.isfunction(obj):
                assert obj in registered, f"{module.__name__}.{name} is public but not registered"


@pytest.mark.parametrize("name", FASHION)
def test_unusual_classes_and_input_size(name):
    model = models.build(name, num_classes=7, input_shape=(36, 44, 1))
    out = model(np.random.default_rng(0).random((2, 36, 44, 1), dtype=np.float32))
    assert out.shape == (2, 7)
    np.testing.assert_allclose(np.sum(out, axis=1), 1.0, rtol=1e-5)
    keras.backend.clear_session()


@pytest.mark.parametrize("name", FASHION)
def test_feature_extractor_without_head(name):
    pooled = models.build(name, include_top=False, pooling="avg")
    assert len(pooled.output_shape) == 2
    maps = models.build(name, include_top=False)
    assert len(maps.output_shape) == 4
    keras.backend.clear_session()


@pytest.mark.parametrize("name", FASHION)
def test_saves_and_loads_with_identical_outputs(name, tmp_path, fashion):
    model = models.build(name)
    images = fashion.x_test[:4]
    before = model(images, training=False)
    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)  # safe_mode=True is the default
    np.testing.assert_allclose(loaded(images, training=False), before, rtol=1e-5, atol=1e-6)
    assert [layer.__class__.__name__ for layer in loaded.layers] == [
        layer.__class__.__name__ for layer in model.layers
    ]
    keras.backend.clear_session()


@pytest.mark.parametrize("name", FASHION)
def test_one_step_gives_every_weight_a_finite_nonzero_gradient(name, fashion):
    model = models.build(name)
    images = tf.constant(fashion.x_train[:16])
    labels = tf.constant(fashion.y_train[:16])
    loss_fn = keras.losses.SparseCategoricalCrossentropy()
    with tf.GradientTape() as tape:
        loss = loss_fn(labels, model(images, training=True))
    grads = tape.gradient(loss, model.trainable_weights)
    for weight, grad in zip(model.trainable_weights, grads, strict=True):
        assert grad is not None, f"{weight.path} gets no gradient"
        values = tf.convert_to_tensor(grad).numpy()
        assert np.all(np.isfinite(values)), f"{weight.path} has a non-finite gradient"
        assert np.any(values != 0), f"{weight.path} has an all-zero gradient"
    keras.backend.clear_session()


def test_build_passes_a_name_keyword_to_the_builder():
    model = models.build("lenet5_fashion", name="renamed")
    assert model.name == "renamed"
