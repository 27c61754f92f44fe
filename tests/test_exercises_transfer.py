"""The transfer-learning chapter: every figure an exercise's answer states, recomputed.

Each figure is computed here with the package (building the network, freezing
it with `cnn_guide.transfer` and counting, or reading the experiment's
recipe) and must appear, as printed here, in the chapter's section
"Exercises". Nothing downloads: the keras.applications networks are built
with ``weights=None``.
"""

from __future__ import annotations

import keras
import numpy as np
from exercise_text import assert_four_to_six_with_answers, assert_stated

from cnn_guide import models
from cnn_guide._compat import flatten_layers
from cnn_guide.experiments import get_experiment
from cnn_guide.transfer import APPLICATIONS, application_base, freeze_base, trainable_summary

CHAPTER = "transfer"


def test_four_to_six_exercises_each_with_an_answer():
    assert_four_to_six_with_answers(CHAPTER)


def _fine_tuned() -> tuple[keras.Model, list[keras.layers.Layer]]:
    model = models.build("resnet_fashion", num_classes=5)
    return model, freeze_base(model, train_top=2)


def test_exercise_1_what_each_arm_trains():
    frozen = models.build("resnet_fashion", num_classes=5)
    freeze_base(frozen)
    assert trainable_summary(frozen)["trainable"] == 64 * 5 + 5 == 325
    model, trained = _fine_tuned()
    assert [layer.name for layer in trained] == ["conv4_block1", "conv4_block2", "predictions"]
    kernels = 3 * 3 * 32 * 64 + 3 * 3 * 64 * 64 + 32 * 64 + 2 * 3 * 3 * 64 * 64
    assert kernels == 131_072
    counts = trainable_summary(model)
    assert counts == {"trainable": kernels + 325, "frozen": 44_368}
    share = counts["trainable"] / (counts["trainable"] + counts["frozen"])
    assert f"{share:.0%}" == "75%"
    assert_stated(CHAPTER, "**325**", "18,432", "36,864", "2,048", "**131,397**", "75%", "44,368")


def test_exercise_2_batch_norm_left_frozen_in_the_trained_blocks():
    _, trained = _fine_tuned()
    norms = [
        layer
        for block in trained[:2]
        for layer in flatten_layers(block)
        if isinstance(layer, keras.layers.BatchNormalization)
    ]
    assert len(norms) == 5 and not any(layer.trainable for layer in norms)
    numbers = sum(int(np.prod(w.shape)) for layer in norms for w in layer.weights)
    assert numbers == 5 * 4 * 64 == 1_280
    assert_stated(CHAPTER, "five batch normalizations", "**1,280**")


def test_exercise_3_each_image_seen():
    recipe = get_experiment("transfer-learning").runs()[0].resolve()
    steps = recipe.max_steps(50, recipe.batch_size)
    assert steps == 400 and recipe.batch_size == 128
    assert steps * 128 / 50 == 1_024
    assert steps * 128 / 5_000 == 10.24
    assert_stated(CHAPTER, "400 steps", "51,200", "**1,024**", "**10.24**")


def test_exercise_4_the_last_feature_map_by_input_side():
    sides = {}
    for side in (32, 96, 224):
        base = application_base("MobileNetV2", weights=None, size=side)
        sides[side] = base.layers[-2].output.shape[1:]
    assert sides == {32: (1, 1, 1280), 96: (3, 3, 1280), 224: (7, 7, 1280)}
    assert APPLICATIONS["MobileNetV2"].size == 96
    assert_stated(CHAPTER, "1x1", "3x3", "7x7", "1,280")


def test_exercise_5_pixels_through_preprocess_input():
    black_white = np.array([0.0, 1.0], dtype="float32") * 255.0
    mobilenet = keras.applications.mobilenet_v2.preprocess_input(black_white.copy())
    efficientnet = keras.applications.efficientnet.preprocess_input(black_white.copy())
    assert list(mobilenet) == [-1.0, 1.0] and list(efficientnet) == [0.0, 255.0]
    assert_stated(CHAPTER, "-1 and 1", "0 and 255")


def test_exercise_6_the_download_against_the_weights():
    weights = application_base("MobileNetV2", weights=None, size=32).count_params()
    assert weights == 2_257_984 and 4 * weights == 9_031_936
    size = APPLICATIONS["MobileNetV2"].download_bytes
    assert size == 9_406_464 and f"{size / (4 * weights) - 1:.1%}" == "4.1%"
    efficient = application_base("EfficientNetB0", weights=None, size=32).count_params()
    assert efficient == 4_049_571 and f"{4 * efficient / 1e6:.1f}" == "16.2"
    download = APPLICATIONS["EfficientNetB0"].download_bytes
    assert download == 16_705_208 and f"{download / 1e6:.1f}" == "16.7"
    assert_stated(
        CHAPTER,
        "2,257,984",
        "9,031,936",
        "9,406,464",
        "4.1%",
        "4,049,571",
        "16.2 MB",
        "16,705,208",
        "16.7 MB",
    )
