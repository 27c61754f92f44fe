"""ConvNeXt: the block, the paper's networks against keras.applications, the roadmap."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

from cnn_guide import models
from cnn_guide.analysis import layer_table
from cnn_guide.layers import ConvNeXtBlock, LayerScale
from cnn_guide.models.convnext import ROADMAP, convnext


def random_weights(model: keras.Model, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.normal(0.0, 0.1, w.shape).astype("float32") for w in model.weights]


def test_identical_to_keras_applications_convnext_tiny():
    """Same weights in the same order (depthwise kernels reshaped), same outputs at 32x32."""
    ours = models.convnext_tiny(input_shape=(32, 32, 3))
    theirs = keras.applications.ConvNeXtTiny(weights=None, input_shape=(32, 32, 3))
    assert ours.count_params() == theirs.count_params() == 28_589_128
    weights = random_weights(theirs)
    theirs.set_weights(weights)
    # Keras' depthwise convolution is a Conv2D with groups: kernel (7, 7, 1, C);
    # ours is a DepthwiseConv2D: (7, 7, C, 1), the same numbers in the same order.
    ours.set_weights([w.reshape(o.shape) for w, o in zip(weights, ours.weights, strict=True)])
    x = np.random.default_rng(1).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(ours(x, training=False), theirs(x, training=False), atol=1e-5)
    keras.backend.clear_session()


@pytest.mark.parametrize(
    ("builder", "reference"),
    [("convnext_small", 50_223_688), ("convnext_base", 88_591_464)],
)
def test_small_and_base_counts_are_keras_applications(builder, reference):
    # The figures keras.applications.ConvNeXtSmall/Base(weights=None) report (all
    # trainable), recorded in the registry with their source.
    model = models.build(builder)
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert model.count_params() == trainable == reference
    assert models.get_info(builder).reference_params == reference
    keras.backend.clear_session()


def test_paper_stages_and_resolution():
    model = models.convnext_tiny(include_top=False)
    assert model.output_shape == (None, 7, 7, 768)
    blocks = [layer for layer in model.layers if isinstance(layer, ConvNeXtBlock)]
    assert len(blocks) == 18
    assert [model.get_layer(f"downsample{i}_conv").output.shape[1] for i in (2, 3, 4)] == [
        28,
        14,
        7,
    ]
    assert all(b.kernel_size == 7 and b.expansion == 4 for b in blocks)
    with pytest.raises(ValueError, match="too small.*32x32"):
        models.convnext_tiny(input_shape=(31, 31, 3))
    with pytest.raises(ValueError, match="unknown configuration 'huge'"):
        convnext("huge")
    keras.backend.clear_session()


def test_block_parameters_and_identity_at_start():
    block = ConvNeXtBlock()
    x = np.random.default_rng(0).normal(size=(2, 8, 8, 16)).astype("float32")
    y = keras.ops.convert_to_numpy(block(x))
    # depthwise 7x7 + bias, LayerNorm, 16 -> 64 -> 16 with biases, layer scale
    assert block.count_params() == 50 * 16 + 2 * 16 + 17 * 64 + 65 * 16 + 16 == 2_976
    # Layer scale 1e-6: the block starts within a hair of the identity.
    assert np.abs(y - x).max() < 1e-4
    assert [w.path.split("/", 1)[1] for w in block.weights] == [
        "depthwise/kernel",
        "depthwise/bias",
        "norm/gamma",
        "norm/beta",
        "expand/kernel",
        "expand/bias",
        "project/kernel",
        "project/bias",
        "layer_scale/gamma",
    ]


def test_block_drop_path_drops_whole_samples_in_training_only():
    block = ConvNeXtBlock(layer_scale_init=None, drop_path_rate=0.5, seed=3)
    x = np.random.default_rng(0).normal(size=(64, 4, 4, 8)).astype("float32")
    branch = keras.ops.convert_to_numpy(block(x, training=False)) - x
    trained = keras.ops.convert_to_numpy(block(x, training=True)) - x
    per_sample = np.abs(trained).reshape(64, -1).max(axis=1)
    dropped = per_sample == 0
    assert 10 < dropped.sum() < 54  # about half of 64
    # The kept branches are divided by the keep probability, 0.5.
    np.testing.assert_allclose(trained[~dropped], 2 * branch[~dropped], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"kernel_size": 0}, "kernel_size"),
        ({"drop_path_rate": 1.0}, "drop_path_rate must be a number in \\[0, 1\\), got 1.0"),
        ({"layer_scale_init": 0.0}, "init_value must be positive"),
        ({"norm_epsilon": 0}, "norm_epsilon"),
    ],
)
def test_block_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ConvNeXtBlock(**kwargs)


def test_layer_scale_rejects_non_numbers():
    with pytest.raises(ValueError, match="init_value must be a number"):
        LayerScale("1e-6")


def test_model_saves_and_loads_with_every_block_setting(tmp_path):
    model = models.convnext_fashion(
        kernel_size=5, drop_path_rate=0.2, layer_scale_init=0.5, depths=(1, 1, 2)
    )
    x = np.random.default_rng(0).uniform(0, 1, (4, 28, 28, 1)).astype("float32")
    path = tmp_path / "convnext.keras"
    model.save(path)
    loaded = keras.models.load_model(path)  # safe_mode=True
    np.testing.assert_allclose(loaded(x, training=False), model(x, training=False), atol=1e-6)
    blocks = [layer for layer in loaded.layers if isinstance(layer, ConvNeXtBlock)]
    assert [b.kernel_size for b in blocks] == [5] * 4
    assert [b.drop_path_rate for b in blocks] == pytest.approx([0.0, 0.2 / 3, 0.4 / 3, 0.2])
    assert all(b.layer_scale_init == 0.5 for b in blocks)
    keras.backend.clear_session()


def test_fashion_variant_layout():
    model = models.convnext_fashion(include_top=False)
    assert model.output_shape == (None, 4, 4, 160)
    assert model.get_layer("stem_conv").output.shape[1:] == (14, 14, 40)
    assert model.get_layer("downsample2_conv").output.shape[1:] == (7, 7, 80)
    blocks = [layer for layer in model.layers if isinstance(layer, ConvNeXtBlock)]
    assert [b.output.shape[-1] for b in blocks] == [40, 80, 160, 160, 160, 160]
    assert models.convnext_fashion().count_params() == 993_970
    keras.backend.clear_session()


# Parameters and multiply-accumulates per 28x28 image of each roadmap step.
ROADMAP_COSTS = {
    "resnet": (176_090, 20_183_936),
    "stage_ratio": (301_146, 20_183_936),
    "patchify": (1_197_066, 24_274_688),
    "resnextify": (1_113_090, 26_584_560),
    "inverted_bottleneck": (892_810, 21_436_160),
    "large_kernel": (887_210, 17_992_200),
    "convnext": (993_970, 20_682_160),
}


@pytest.mark.parametrize("step", ROADMAP)
def test_each_roadmap_step_costs_about_what_the_resnet_does(step):
    table = layer_table(models.convnext_fashion(roadmap=step))
    assert (table.total_params, table.macs) == ROADMAP_COSTS[step]
    # Comparable cost: every step within 35% of the ResNet's multiply-accumulates.
    assert abs(table.macs / ROADMAP_COSTS["resnet"][1] - 1) < 0.35
    # The chapter's table of the experiment states both.
    chapter = (Path(__file__).resolve().parent.parent / "docs/chapters/convnext.md").read_text()
    row = next(line for line in chapter.splitlines() if line.startswith(f"| `{step}` |"))
    assert row.endswith(f"| {table.total_params:,} | {table.macs / 1e6:.1f}M |"), row
    keras.backend.clear_session()


def test_roadmap_starts_at_the_books_resnet():
    start = models.convnext_fashion(roadmap="resnet", name="resnet_fashion")
    resnet = models.resnet_fashion()
    assert [(layer.name, type(layer)) for layer in start.layers] == [
        (layer.name, type(layer)) for layer in resnet.layers
    ]
    assert [w.shape for w in start.weights] == [w.shape for w in resnet.weights]
    keras.backend.clear_session()


def test_roadmap_steps_change_what_they_say():
    def layers_of(step):
        return {layer.name: layer for layer in models.convnext_fashion(roadmap=step).layers}

    ratio = layers_of("stage_ratio")
    assert "conv4_block4" in ratio and "conv2_block2" not in ratio
    patchify = layers_of("patchify")
    assert patchify["conv1_conv"].kernel_size == (2, 2) and patchify["conv1_conv"].strides == (2, 2)
    resnextify = layers_of("resnextify")
    assert resnextify["conv2_block1_2_dwconv"].kernel_size == (3, 3)
    assert resnextify["conv4_block1_3_conv"].filters == 4 * 160
    inverted = layers_of("inverted_bottleneck")
    assert inverted["conv4_block1_1_conv"].filters == 4 * 160
    assert inverted["conv4_block1_3_conv"].filters == 160
    large = layers_of("large_kernel")
    assert large["conv4_block2_1_dwconv"].kernel_size == (7, 7)
    assert large["conv4_block2_1_dwconv"].input.shape[-1] == 160  # moved up: narrow width
    convnext = layers_of("convnext")
    assert not any(
        isinstance(layer, keras.layers.BatchNormalization) for layer in convnext.values()
    )
    keras.backend.clear_session()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"roadmap": "swin"}, "roadmap must be one of"),
        ({"widths": (8, 16)}, "one entry per stage"),
        ({"depths": (1, 0, 1)}, "depths"),
        ({"dropout": 1.5}, "dropout"),
        ({"input_shape": (3, 3, 1)}, "too small"),
    ],
)
def test_fashion_variant_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        models.convnext_fashion(**kwargs)
