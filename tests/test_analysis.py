"""cnn_guide.analysis against hand-computed parameters, MACs and receptive fields."""

from __future__ import annotations

import re
import sys

import keras
import numpy as np
import pandas as pd
import pytest

from cnn_guide import analysis, models
from cnn_guide.analysis import compare, conv_macs, conv_params, layer_table, output_size


@pytest.fixture(scope="module")
def seed_model():
    model = models.build("simple_cnn")
    yield model
    keras.backend.clear_session()


@pytest.fixture(scope="module")
def seed_table(seed_model):
    return layer_table(seed_model)


def _model(inputs, outputs, name="m"):
    return keras.Model(inputs, outputs, name=name)


# ---- The seed CNN, by hand ------------------------------------------------------------

SEED_MACS = {
    "conv1": 28 * 28 * 64 * 7 * 7 * 1,
    "conv2a": 14 * 14 * 128 * 9 * 64,
    "conv2b": 14 * 14 * 128 * 9 * 128,
    "conv3a": 7 * 7 * 256 * 9 * 128,
    "conv3b": 7 * 7 * 256 * 9 * 256,
    "fc1": 2304 * 128,
    "fc2": 128 * 64,
    "predictions": 64 * 10,
}

SEED_FIELDS = {  # name: (receptive field, jump)
    "image": (1, 1),
    "conv1": (7, 1),
    "pool1": (8, 2),
    "conv2a": (12, 2),
    "conv2b": (16, 2),
    "pool2": (18, 4),
    "conv3a": (26, 4),
    "conv3b": (34, 4),
    "pool3": (38, 8),
}


def test_seed_cnn_macs_by_hand(seed_table):
    assert SEED_MACS["conv1"] == 2_458_624
    for name, macs in SEED_MACS.items():
        assert seed_table[name].macs == macs, name
    others = [r for r in seed_table if r.name not in SEED_MACS]
    assert others and all(r.macs == 0 for r in others)  # pooling, flatten, dropout
    assert seed_table.macs == sum(SEED_MACS.values())


def test_seed_cnn_params_match_keras(seed_model, seed_table):
    assert [r.name for r in seed_table] == [layer.name for layer in seed_model.layers]
    for row in seed_table:
        layer = seed_model.get_layer(row.name)
        assert row.params == layer.count_params() == row.trainable_params, row.name
    assert seed_table.total_params == seed_model.count_params() == 1_413_834
    assert seed_table.trainable_params == 1_413_834
    assert seed_table["conv2a"].params == 73_856  # the seed notebook's model.summary()
    assert seed_table.depth == 8


def test_seed_cnn_shapes(seed_table):
    assert seed_table.input_shape == (28, 28, 1)
    assert seed_table["image"].output_shape == (28, 28, 1)
    assert seed_table["conv1"].output_shape == (28, 28, 64)
    assert seed_table["pool3"].output_shape == (3, 3, 256)
    assert seed_table["flatten"].output_shape == (2304,)
    assert seed_table["predictions"].output_shape == (10,)
    assert seed_table["conv3b"].type == "Conv2D"


def test_seed_cnn_receptive_fields_by_hand(seed_table):
    for name, (field, jump) in SEED_FIELDS.items():
        row = seed_table[name]
        assert (row.receptive_field, row.jump, row.field) == (field, jump, "local"), name
    for name in ("flatten", "fc1", "dropout1", "fc2", "predictions"):
        row = seed_table[name]
        assert row.field == "global" and row.receptive_field is None, name
    assert (seed_table.receptive_field, seed_table.jump) == (38, 8)


def test_rendering(seed_table):
    markdown = seed_table.to_markdown()
    lines = markdown.splitlines()
    assert lines[0].startswith("| Layer | Type | Output shape | Params | MACs | RF |")
    assert len(lines) == 2 + len(seed_table) + 1
    assert "| conv1 | Conv2D | (28, 28, 64) | 3,200 | 2,458,624 | 7 | 1 |" in lines
    assert lines[-1] == "| **Total** |  |  | **1,413,834** | **89,466,496** | **38** | **8** |"
    text = str(seed_table)
    assert "simple_cnn" in text and "2,458,624" in text and "global" in text
    html = seed_table._repr_html_()
    assert html.startswith("<table>") and html.count("<tr>") == len(seed_table) + 2


def test_to_dataframe(seed_table):
    frame = seed_table.to_dataframe()
    assert isinstance(frame, pd.DataFrame)
    assert list(frame["name"]) == [r.name for r in seed_table]
    assert int(frame["macs"].sum()) == seed_table.macs
    assert int(frame.set_index("name").loc["pool3", "receptive_field"]) == 38


def test_to_dataframe_without_pandas_names_the_extra(seed_table, monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)  # makes `import pandas` fail
    with pytest.raises(ImportError, match=re.escape('pip install "cnn-guide[analysis]"')):
        seed_table.to_dataframe()
    assert "2,458,624" in seed_table.to_markdown()  # the other renderings need no pandas


def test_index_by_unknown_name_lists_layers(seed_table):
    with pytest.raises(KeyError, match="conv1"):
        seed_table["conv9"]


# ---- Layer kinds against hand values ---------------------------------------------------


def test_grouped_conv():
    inputs = keras.Input((8, 8, 8))
    outputs = keras.layers.Conv2D(16, 3, groups=4, padding="same", name="g")(inputs)
    row = layer_table(_model(inputs, outputs))["g"]
    assert row.macs == 8 * 8 * 16 * 9 * (8 // 4) == conv_macs(8, 8, 3, 8, 16, groups=4)
    assert row.params == 9 * 2 * 16 + 16 == conv_params(3, 8, 16, groups=4)
    assert (row.receptive_field, row.jump) == (3, 1)


def test_depthwise_and_separable_convs():
    inputs = keras.Input((10, 10, 4))
    x = keras.layers.SeparableConv2D(8, 3, depth_multiplier=2, name="sep")(inputs)
    x = keras.layers.DepthwiseConv2D(3, strides=2, padding="same", name="dw")(x)
    table = layer_table(_model(inputs, x))
    # depthwise 3x3 on 4 channels x 2, then pointwise 8 -> 8, on an 8x8 output
    assert table["sep"].macs == 8 * 8 * 4 * 2 * 9 + 8 * 8 * 8 * 8
    assert table["sep"].params == 9 * 4 * 2 + 8 * 8 + 8
    assert table["dw"].output_shape == (4, 4, 8)
    assert table["dw"].macs == 4 * 4 * 8 * 9
    assert (table["sep"].receptive_field, table["dw"].receptive_field) == (3, 5)
    assert table["dw"].jump == 2


def test_strided_then_dilated_convs():
    # Keras refuses strides > 1 together with dilation > 1 in one layer, so the
    # dilation acts on the jump of an earlier strided layer.
    inputs = keras.Input((17, 17, 2))
    x = keras.layers.Conv2D(4, 3, strides=2, name="strided")(inputs)
    x = keras.layers.Conv2D(5, 3, dilation_rate=2, name="dilated")(x)
    x = keras.layers.DepthwiseConv2D(3, dilation_rate=3, padding="same", name="dwd")(x)
    table = layer_table(_model(inputs, x))
    assert table["strided"].output_shape == (8, 8, 4)
    assert table["strided"].macs == 8 * 8 * 4 * 9 * 2
    assert table["dilated"].output_shape == (4, 4, 5)
    assert table["dilated"].macs == 4 * 4 * 5 * 9 * 4
    # TensorFlow pads this one to a multiple of the dilation: the padding is not counted.
    assert table["dwd"].macs == 4 * 4 * 5 * 9
    assert (table["strided"].receptive_field, table["strided"].jump) == (3, 2)
    assert table["dilated"].receptive_field == 3 + (2 * (3 - 1) + 1 - 1) * 2 == 11
    assert table["dwd"].receptive_field == 11 + (3 * (3 - 1) + 1 - 1) * 2 == 23
    assert table["dwd"].jump == 2


def test_overlapping_pooling_and_asymmetric_kernels():
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.MaxPooling2D(3, strides=2, name="pool")(inputs)
    x = keras.layers.Conv2D(4, (1, 7), padding="same", name="row")(x)
    y = keras.layers.Conv2D(4, (7, 1), padding="same", name="col")(x)
    table = layer_table(_model(inputs, y))
    assert (table["pool"].receptive_field, table["pool"].jump) == (3, 2)
    assert table["row"].receptive_field == (3, 15)  # (height, width) differ
    assert table["col"].receptive_field == 15  # 1x7 then 7x1 sees a square
    assert table["row"].macs == 15 * 15 * 4 * 7 * 3


def test_dense_on_a_3d_input():
    inputs = keras.Input((5, 7))
    outputs = keras.layers.Dense(3, name="dense")(inputs)
    row = layer_table(_model(inputs, outputs))["dense"]
    assert row.output_shape == (5, 3)
    assert row.macs == 5 * 7 * 3
    assert row.field == "local" and row.receptive_field == 1  # applied per position


def test_dense_on_feature_maps_keeps_the_field():
    inputs = keras.Input((6, 6, 4))
    x = keras.layers.Conv2D(8, 3, name="conv")(inputs)
    x = keras.layers.Dense(5, name="dense")(x)
    table = layer_table(_model(inputs, x))
    assert table["dense"].macs == 4 * 4 * 8 * 5
    assert table["dense"].receptive_field == 3


def test_conv_transpose_macs():
    inputs = keras.Input((4, 4, 6))
    outputs = keras.layers.Conv2DTranspose(4, 3, strides=2, name="up")(inputs)
    table = layer_table(_model(inputs, outputs), strict=False)
    assert table["up"].output_shape == (9, 9, 4)
    assert table["up"].macs == 4 * 4 * 6 * 9 * 4  # each input value through the kernel
    assert table["up"].field == "unknown"


def test_layer_names_that_look_like_uniquified_scopes():
    # TensorFlow names the scope of layer "conv" "conv_1", like a layer called "conv_1".
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(2, 3, name="conv")(inputs)
    x = keras.layers.Conv2D(3, 3, name="conv_1")(x)
    x = keras.layers.Conv2D(5, 1, name="conv_1_1")(x)
    table = layer_table(_model(inputs, x))
    assert table["conv"].macs == 6 * 6 * 2 * 9 * 1
    assert table["conv_1"].macs == 4 * 4 * 3 * 9 * 2
    assert table["conv_1_1"].macs == 4 * 4 * 5 * 3


def test_shared_layer_counts_every_call():
    inputs = keras.Input((6, 6, 3))
    shared = keras.layers.Conv2D(3, 3, padding="same", name="shared")
    x = shared(shared(inputs))
    table = layer_table(_model(inputs, x))
    assert table["shared"].macs == 2 * 6 * 6 * 3 * 9 * 3
    assert table["shared"].receptive_field == 3  # the first call


# ---- Blocks and merges -------------------------------------------------------------------


@keras.saving.register_keras_serializable(package="cnn_guide_tests")
class TwoConvs(keras.layers.Layer):
    """A tiny block: a 3x3 convolution, batch norm, then a strided 3x3 convolution."""

    def __init__(self, filters: int, stride: int = 2, **kwargs):
        super().__init__(**kwargs)
        self.filters = filters
        self.stride = stride

    def build(self, input_shape):
        self.first = keras.layers.Conv2D(self.filters, 3, padding="same")
        self.norm = keras.layers.BatchNormalization()
        self.second = keras.layers.Conv2D(self.filters, 3, strides=self.stride, padding="same")

    def call(self, inputs, training=None):
        x = self.norm(self.first(inputs), training=training)
        return self.second(keras.ops.relu(x))

    def compute_output_shape(self, input_shape):
        n, h, w, _ = input_shape
        return (n, -(-h // self.stride), -(-w // self.stride), self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "stride": self.stride}

    def receptive_field_path(self):
        return [(3, 1), (3, self.stride)]


class HiddenConv(TwoConvs):
    """The same block without receptive_field_path: its field cannot be known."""

    receptive_field_path = None


def test_custom_block_sums_its_sublayers():
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(4, 3, strides=2, padding="same", name="stem")(inputs)
    x = TwoConvs(8, name="block")(x)
    table = layer_table(_model(inputs, x))
    row = table["block"]
    assert row.output_shape == (4, 4, 8)
    assert row.macs == conv_macs(8, 8, 3, 4, 8) + conv_macs(4, 4, 3, 8, 8)
    assert row.macs == 8 * 8 * 8 * 9 * 4 + 4 * 4 * 8 * 9 * 8
    assert row.params == (9 * 4 * 8 + 8) + 4 * 8 + (9 * 8 * 8 + 8)
    assert row.trainable_params == row.params - 2 * 8  # BN moving statistics
    # stem: r 3, j 2; block: 3 + 2*2 = 7, then 7 + 2*2 = 11 with jump 4
    assert (row.receptive_field, row.jump) == (11, 4)
    assert table.depth == 3
    assert "Trainable" in table.to_markdown().splitlines()[0]


def test_two_branches_take_the_larger_field():
    inputs = keras.Input((12, 12, 3))
    a = keras.layers.Conv2D(4, 3, padding="same", name="a")(inputs)
    b = keras.layers.Conv2D(4, 5, padding="same", name="b1")(inputs)
    b = keras.layers.Conv2D(4, 3, padding="same", name="b2")(b)
    x = keras.layers.Concatenate(name="cat")([a, b])
    y = keras.layers.Add(name="add")([a, keras.layers.Conv2D(4, 1, name="c")(x)])
    table = layer_table(_model(inputs, y))
    assert table["a"].receptive_field == 3
    assert table["b2"].receptive_field == 7
    assert table["cat"].receptive_field == 7 and table["cat"].macs == 0
    assert table["add"].receptive_field == 7
    assert table["cat"].output_shape == (12, 12, 8)


def test_squeeze_excitation_gate_keeps_the_field():
    inputs = keras.Input((8, 8, 4))
    x = keras.layers.Conv2D(4, 3, padding="same", name="conv")(inputs)
    s = keras.layers.GlobalAveragePooling2D(keepdims=True, name="squeeze")(x)
    s = keras.layers.Dense(4, activation="sigmoid", name="excite")(s)
    y = keras.layers.Multiply(name="scale")([x, s])
    table = layer_table(_model(inputs, y))
    assert table["squeeze"].field == "global"
    assert table["excite"].field == "global" and table["excite"].macs == 16
    assert (table["scale"].field, table["scale"].receptive_field) == ("local", 3)


def test_nested_sequential_model():
    inner = keras.Sequential(
        [keras.Input((8, 8, 2)), keras.layers.Conv2D(4, 3), keras.layers.Conv2D(4, 3)],
        name="inner",
    )
    inputs = keras.Input((8, 8, 2))
    x = keras.layers.GlobalAveragePooling2D(name="gap")(inner(inputs))
    table = layer_table(_model(inputs, keras.layers.Dense(3, name="out")(x)))
    assert table["inner"].macs == 6 * 6 * 4 * 9 * 2 + 4 * 4 * 4 * 9 * 4
    assert table["inner"].receptive_field == 5
    assert table.receptive_field == 5
    assert table["out"].macs == 12


def test_sequential_model_at_the_top():
    model = keras.Sequential(
        [keras.Input((6, 6, 1)), keras.layers.Conv2D(2, 3, name="conv")], name="seq"
    )
    table = layer_table(model)
    assert table["conv"].macs == 4 * 4 * 2 * 9
    assert table.model_name == "seq" and table.receptive_field == 3


# ---- Errors ----------------------------------------------------------------------------


def test_unsupported_spatial_layer_is_a_clear_error():
    inputs = keras.Input((8, 8, 2))
    x = keras.layers.Conv2D(2, 3, name="conv")(inputs)
    x = keras.layers.UpSampling2D(name="up")(x)
    model = _model(inputs, x)
    with pytest.raises(ValueError, match=r"'up'.*receptive_field_path"):
        layer_table(model)
    table = layer_table(model, strict=False)
    assert table["up"].field == "unknown" and table["up"].receptive_field is None
    assert table["conv"].receptive_field == 3


def test_unknown_layer_that_resizes_is_an_error():
    inputs = keras.Input((8, 8, 2))
    x = keras.layers.Resizing(4, 4, name="resize")(inputs)
    with pytest.raises(ValueError, match=r"'resize'.*changes the spatial size"):
        layer_table(_model(inputs, x))


def test_block_without_path_that_mixes_positions_is_an_error():
    inputs = keras.Input((8, 8, 2))
    x = HiddenConv(2, stride=1, name="hidden")(inputs)
    with pytest.raises(ValueError, match=r"'hidden'.*mixes neighbouring positions"):
        layer_table(_model(inputs, x))


def test_free_input_size_needs_input_shape():
    inputs = keras.Input((None, None, 3))
    model = _model(inputs, keras.layers.Conv2D(2, 3, name="conv")(inputs))
    with pytest.raises(ValueError, match="input_shape"):
        layer_table(model)
    assert layer_table(model, (10, 12, 3))["conv"].macs == 8 * 10 * 2 * 27
    with pytest.raises(ValueError, match="does not fit"):
        layer_table(model, (10, 12, 4))


def test_subclassed_model_is_refused():
    class Net(keras.Model):
        def call(self, x):
            return x

    with pytest.raises(ValueError, match="subclassed"):
        layer_table(Net())


# ---- compare -----------------------------------------------------------------------------


def test_compare_two_small_models_and_a_name():
    inputs = keras.Input((8, 8, 1))
    small = _model(inputs, keras.layers.Conv2D(2, 3, name="c")(inputs), name="small")
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(2, 3, name="c1")(inputs)
    x = keras.layers.Conv2D(2, 3, name="c2")(x)
    x = keras.layers.Flatten()(x)
    deeper = _model(inputs, keras.layers.Dense(3, name="d")(x), name="deeper")
    table = compare([small, deeper, "simple_cnn"])
    assert [r.name for r in table] == ["small", "deeper", "simple_cnn"]
    assert (table["small"].params, table["small"].macs) == (20, 6 * 6 * 2 * 9)
    assert table["deeper"].params == 20 + 38 + (16 * 2 * 3 + 3)
    assert table["deeper"].macs == 6 * 6 * 2 * 9 + 4 * 4 * 2 * 18 + 32 * 3
    assert (table["small"].depth, table["deeper"].depth) == (1, 3)
    assert (table["small"].receptive_field, table["deeper"].receptive_field) == (3, 5)
    seed = table["simple_cnn"]
    assert (seed.params, seed.macs, seed.depth) == (1_413_834, 89_466_496, 8)
    assert seed.receptive_field == 38 and seed.input_shape == (28, 28, 1)
    assert table.to_markdown().count("\n") == 4
    keras.backend.clear_session()


def test_compare_builds_names_at_input_shape():
    table = compare("simple_cnn", input_shape=(32, 32, 1))
    assert table[0].input_shape == (32, 32, 1)
    assert table[0].macs == layer_table(models.build("simple_cnn", input_shape=(32, 32, 1))).macs
    with pytest.raises(ValueError, match="Unknown model name"):
        compare(["no_such_model"])
    keras.backend.clear_session()


# ---- Formula helpers -------------------------------------------------------------------


def test_conv_params():
    assert conv_params(7, 1, 64) == 3_200  # the seed CNN's conv1, as its model.summary() shows
    assert conv_params(3, 64, 128) == 73_856
    assert conv_params(3, 64, 64, bias=False) == 36_864
    assert conv_params((1, 7), 192, 192, bias=False) == 7 * 192 * 192
    assert conv_params(3, 32, 32, bias=False, groups=32) == 288  # depthwise
    # two 3x3 convolutions against one 5x5 (same field): 18 C^2 against 25 C^2
    assert 2 * conv_params(3, 64, 64, bias=False) / conv_params(5, 64, 64, bias=False) == 0.72
    with pytest.raises(ValueError, match="groups"):
        conv_params(3, 10, 8, groups=4)


def test_conv_macs():
    assert conv_macs(28, 28, 7, 1, 64) == 2_458_624
    assert conv_macs(14, 14, 3, 64, 128) == 14 * 14 * 128 * 9 * 64
    assert conv_macs(8, 8, 3, 8, 16, groups=4) == 18_432
    with pytest.raises(ValueError, match="groups"):
        conv_macs(8, 8, 3, 8, 16, groups=3)


def test_output_size():
    assert output_size(28, 3) == 26
    assert output_size(28, 3, p=1) == 28
    assert output_size(224, 7, s=2, p=3) == 112  # ResNet's stem
    assert output_size(227, 11, s=4) == 55  # AlexNet's conv1
    assert output_size(32, 3, d=2) == 28
    assert output_size(28, 2, s=2) == 14 and output_size(7, 2, s=2) == 3
    assert output_size(28, 3, s=2, p="same") == 14 and output_size(7, 3, p="valid") == 5
    with pytest.raises(ValueError, match="too small"):
        output_size(2, 5)
    with pytest.raises(ValueError, match=r"p must be .*'same'"):
        output_size(8, 3, p="full")


def test_output_size_agrees_with_keras():
    for n, k, s, d, padding in [
        (28, 3, 1, 1, "valid"),
        (17, 5, 2, 1, "same"),
        (20, 3, 1, 3, "valid"),
    ]:
        inputs = keras.Input((n, n, 1))
        y = keras.layers.Conv2D(1, k, strides=s, dilation_rate=d, padding=padding)(inputs)
        assert y.shape[1] == output_size(n, k, s=s, p=padding, d=d)


def test_stack_receptive_field():
    assert analysis.stack_receptive_field([(3, 1), (3, 1)]) == (5, 1)
    assert analysis.stack_receptive_field([(7, 1), (2, 2), (3, 1), (3, 1), (2, 2)]) == (18, 4)
    assert analysis.stack_receptive_field([]) == (1, 1)


def test_macs_equal_a_numpy_check_of_one_output():
    # One output of a grouped conv is a dot product of length k*k*c_in/groups: the
    # count per output times the outputs is the MAC figure the table reports.
    inputs = keras.Input((5, 5, 6))
    layer = keras.layers.Conv2D(4, 3, groups=2, use_bias=False, name="g")
    model = _model(inputs, layer(inputs))
    x = np.random.default_rng(0).normal(size=(1, 5, 5, 6)).astype("float32")
    kernel = layer.kernel.numpy()  # (3, 3, 3, 4): the first group's 2 filters see 3 channels
    terms = x[0, :3, :3, :3] * kernel[:, :, :, 0]
    # float32 sums in another order differ by rounding, which scales with the terms'
    # size, not with the sum's (a sum near zero would fail a relative tolerance).
    tolerance = 1e-5 * float(np.sum(np.abs(terms)))
    np.testing.assert_allclose(model(x).numpy()[0, 0, 0, 0], np.sum(terms), atol=tolerance)
    assert layer_table(model)["g"].macs == 3 * 3 * 4 * kernel[:, :, :, 0].size
