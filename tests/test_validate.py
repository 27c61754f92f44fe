"""The shared argument checks: what they accept, and what their errors say."""

from __future__ import annotations

import numpy as np
import pytest

from cnn_guide import models
from cnn_guide._validate import boolean, int_at_least, positive_int, positive_ints
from cnn_guide.data import FASHION_MNIST_SHAPE


@pytest.mark.parametrize("value", [1, 3, 512, np.int64(7), np.uint8(2)])
def test_positive_int_accepts_python_and_numpy_integers(value):
    checked = positive_int(value, "filters")
    assert checked == value and type(checked) is int


@pytest.mark.parametrize(
    ("value", "fix"),
    [
        (0, "Pass 1 or more."),
        (-4, "Pass 1 or more."),
        (True, "Pass a number such as 1, not True."),
        (3.0, "Pass 3 as an int, not a float."),
        (2.5, "Pass a whole number of 1 or more."),
        ("16", "Pass 16 as an int, not a string."),
        (None, "Pass a whole number of 1 or more."),
    ],
)
def test_positive_int_says_what_it_got_what_it_expects_and_how_to_fix_it(value, fix):
    with pytest.raises(ValueError) as error:
        positive_int(value, "filters", "SeparableConvBlock")
    assert str(error.value) == (
        f"SeparableConvBlock: filters must be a positive integer, got {value!r}. {fix}"
    )


def test_positive_int_without_an_owner():
    with pytest.raises(ValueError, match=r"^replicas must be a positive integer, got 0\."):
        positive_int(0, "replicas")


def test_int_at_least_allows_zero_when_asked():
    assert int_at_least(0, "middle_blocks", minimum=0) == 0
    with pytest.raises(ValueError, match=r"xception: middle_blocks must be an integer >= 0"):
        int_at_least(-1, "middle_blocks", "xception", minimum=0)


def test_positive_ints_returns_a_tuple_of_ints():
    assert positive_ints([16, np.int64(32)], "widths") == (16, 32)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (16, "widths must be a non-empty sequence of positive integers, got 16"),
        ("16", "widths must be a non-empty sequence of positive integers, got '16'"),
        ((), "widths must be a non-empty sequence"),
        ((8, 0), r"every entry of widths must be a positive integer, got 0 in \(8, 0\)"),
        ((8, "16"), "every entry .* got '16' in .* Pass 16 as an int, not a string."),
    ],
)
def test_positive_ints_names_the_bad_entry(values, message):
    with pytest.raises(ValueError, match=f"resnet_fashion: {message}"):
        positive_ints(values, "widths", "resnet_fashion")


@pytest.mark.parametrize("value", ["false", 0, 1, None])
def test_boolean_refuses_anything_but_a_bool(value):
    with pytest.raises(
        ValueError,
        match=r"xception_fashion: separable must be True or False.*"
        r"--option separable=true",
    ):
        boolean(value, "separable", "xception_fashion")
    assert boolean(False, "separable") is False


def test_the_layers_and_builders_use_them():
    with pytest.raises(ValueError, match="resnet_fashion: blocks_per_stage .* Pass 1 or more."):
        models.resnet_fashion(blocks_per_stage=0)
    with pytest.raises(ValueError, match="vgg11: num_classes .* include_top=False"):
        models.vgg11(num_classes=0)


def test_fashion_mnist_shape_is_the_data_and_the_variants_shape():
    assert FASHION_MNIST_SHAPE == (28, 28, 1)
    for name in models.list_models(variants=True):
        assert models.get_info(name).input_shape == FASHION_MNIST_SHAPE


def test_fashion_mnist_shape_is_what_the_loader_returns(fashion):
    assert fashion.x_test.shape[1:] == FASHION_MNIST_SHAPE
