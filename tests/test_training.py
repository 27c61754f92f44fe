"""cnn_guide.training: the one training loop, its stop rules, and the one way to evaluate."""

from __future__ import annotations

import itertools
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from cnn_guide import models
from cnn_guide.recipes import get_recipe, one_cycle
from cnn_guide.runs import RunFigures
from cnn_guide.training import WARMUP_STEPS, PreciseBatchNorm, StepHistory, evaluate, fit


def protocol(**changes):
    return get_recipe("protocol", **{"epochs": 1, **changes})


def test_a_tiny_real_run_learns(small_fashion, tmp_path):
    checkpoint = tmp_path / "best.keras"
    result = fit(
        "simple_cnn",
        small_fashion,
        protocol(epochs=2, batch_size=32),
        checkpoint=checkpoint,
        verbose=0,
    )
    assert set(result.history) == {"loss", "accuracy", "val_loss", "val_accuracy", "seconds"}
    assert all(len(values) == 2 for values in result.history.values())
    assert result.history["loss"][1] < result.history["loss"][0]
    assert result.history["seconds"][0] < result.history["seconds"][1] <= result.train_seconds
    assert 0.2 < result.test_accuracy <= 1.0  # ten classes: chance is 0.1
    assert (
        np.isfinite(result.test_loss) and result.test_accuracy == result.test_accuracy_single_view
    )
    assert (result.epochs, result.images, result.train_size) == (2, 512, 256)
    assert result.parameters == 1_413_834 and result.macs > 0
    assert result.checkpoints == [
        [pytest.approx(result.train_seconds, abs=0.01), 512, result.test_accuracy]
    ]
    assert result.train_images_per_second > 0 and result.inference_images_per_second > 0
    assert keras.saving.load_model(checkpoint).count_params() == 1_413_834
    assert result.describe().startswith(f"Test accuracy {result.test_accuracy:.4f} on 128 test")
    assert "after 2 epoch(s)" in result.describe()


def test_the_figures_are_the_results_schema(small_fashion, capsys):
    tiny = small_fashion.subset(train=64, valid=32, test=32)
    result = fit("lenet5_fashion", tiny, protocol(), verbose=2)
    figures = result.figures()
    assert set(figures) == {f for f in RunFigures.__dataclass_fields__}
    assert "model" not in figures and "recipe" not in figures
    # A run stopped by epochs keeps Keras' own progress (its one epoch's line
    # for verbose=2, "steps/steps - time - ..."), not the budget's line.
    out = capsys.readouterr().out
    assert out.startswith("1/1 - ") and "val_accuracy" in out and "last check" not in out


def test_same_seed_same_run(small_fashion):
    tiny = small_fashion.subset(train=96, valid=32, test=32)
    first = fit("simple_cnn", tiny, protocol(seed=7), verbose=0)
    second = fit("simple_cnn", tiny, protocol(seed=7), verbose=0)
    assert first.history["loss"] == pytest.approx(second.history["loss"], rel=1e-5)
    for a, b in zip(first.model.get_weights(), second.model.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_early_stopping_restores_the_best_epoch(small_fashion):
    tiny = small_fashion.subset(train=64, valid=32, test=32)
    result = fit(
        "simple_cnn", tiny, protocol(epochs=4, learning_rate=1e-7), early_stopping=1, verbose=0
    )
    assert len(result.history["loss"]) < 4


def test_mixed_precision_keeps_float32_outputs(small_fashion):
    tiny = small_fashion.subset(train=64, valid=32, test=32)
    result = fit("simple_cnn", tiny, protocol(precision="mixed_bfloat16"), verbose=0)
    assert result.model.layers[1].compute_dtype == "bfloat16"
    assert result.model.output.dtype == "float32" and result.precision == "mixed_bfloat16"
    assert keras.mixed_precision.global_policy().name == "float32"  # restored


def test_accepts_a_builder_function(small_fashion):
    tiny = small_fashion.subset(train=32, valid=32, test=32)
    result = fit(lambda: models.build("simple_cnn", dropout=0.2), tiny, protocol(), verbose=0)
    assert result.model.get_layer("dropout1").rate == 0.2


def test_a_run_stops_by_steps_and_reports_its_speed_after_the_warm_up(small_fashion):
    tiny = small_fashion.subset(train=256, valid=32, test=64)
    recipe = get_recipe("protocol", steps=WARMUP_STEPS + 4, batch_size=16)
    result = fit("lenet5_fashion", tiny, recipe, verbose=0)
    assert result.images == (WARMUP_STEPS + 4) * 16 and result.epochs == pytest.approx(112 / 256)
    assert len(result.history["loss"]) == 1  # the stopped epoch is still validated
    assert result.train_images_per_second > 0


def test_a_run_stops_when_its_minutes_are_up(small_fashion, capsys):
    recipe = get_recipe("protocol", minutes=3 / 60, eval_every=1, batch_size=16)
    result = fit("lenet5_fashion", small_fashion, recipe, verbose=2)
    # Only the clock can stop it, and not before its 3 s of training (the
    # evaluations' time is not counted). How far past them the last step ends,
    # and so how many checkpoints fit in, depends on the machine's load: what
    # is asserted holds at any speed.
    assert result.train_seconds >= 3 and result.epochs > 0
    seconds = [s for s, _, _ in result.checkpoints]
    on_the_way = seconds[:-1]
    # Each checkpoint on the way comes a whole eval_every of training after the
    # one before (its seconds are rounded to hundredths).
    assert all(b - a >= 0.99 for a, b in itertools.pairwise([0.0, *on_the_way]))
    assert seconds == sorted(seconds) and result.checkpoints[-1][1] == result.images
    # Its progress is the budget's line (cnn_guide._progress), not Keras'
    # "Epoch N/1000000": a line at each checkpoint on the way, which replaces
    # the clock's own, and one at the end, unless that was a checkpoint too.
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(result.checkpoints)
    assert all(line.split(" of ", 1)[1].startswith("0:03 [") for line in lines)
    assert f"{result.images:,} images" in lines[-1] and "last check 0:0" in lines[-1]


def test_checkpoints_and_the_schedule_follow_the_steps(small_fashion):
    tiny = small_fashion.subset(train=256, valid=32, test=64)
    # A checkpoint is due after any training at all: one after every step.
    recipe = get_recipe("protocol", steps=6, eval_every=1e-9, batch_size=16, schedule="one-cycle")
    result = fit("lenet5_fashion", tiny, recipe, verbose=0)
    assert [images for _, images, _ in result.checkpoints] == [16, 32, 48, 64, 80, 96]
    # The last step trained at the schedule's rate five sixths of the way.
    last_rate = one_cycle(recipe.learning_rate)(5 / 6)
    assert float(result.model.optimizer.learning_rate) == pytest.approx(last_rate, rel=1e-6)
    # MemoryPeak reads a GPU's peak allocation, else the resident memory in
    # /proc/self/statm (Linux); where it can read neither, there is no figure.
    if tf.config.list_physical_devices("GPU"):
        assert result.peak_memory_mb > 0
    elif Path("/proc/self/statm").is_file():
        assert result.peak_memory_mb > 100  # a process running TensorFlow holds far more
    else:
        assert result.peak_memory_mb is None


def test_flip_at_test_and_settled_batch_norm(small_fashion):
    tiny = small_fashion.subset(train=128, valid=32, test=64)
    recipe = get_recipe(
        "fast",
        epochs=1,
        batch_size=32,
        flip=True,
        shift=2,
        flip_at_test=True,
        settle_batch_norm=True,
    )
    result = fit("fast_resnet_fashion", tiny, recipe, verbose=0)
    flipped = evaluate(result.model, tiny.x_test, tiny.y_test, flip=True).accuracy
    assert result.test_accuracy == flipped
    assert (
        result.test_accuracy_single_view
        == evaluate(result.model, tiny.x_test, tiny.y_test).accuracy
    )


@pytest.mark.parametrize(
    ("recipe", "kwargs", "message"),
    [
        (get_recipe("protocol", optimizer="adamw2", epochs=1), {}, "Unknown optimizer 'adamw2'"),
        (get_recipe("protocol", momentum=0.9, epochs=1), {}, "momentum applies to 'sgd' only"),
        (get_recipe("protocol", epochs=1), {"checkpoint": "best.h5"}, "ending in .keras"),
    ],
)
def test_bad_arguments(small_fashion, recipe, kwargs, message):
    with pytest.raises(ValueError, match=message):
        fit("simple_cnn", small_fashion, recipe, **kwargs)


def test_a_recipe_without_a_stop_rule_is_refused(small_fashion):
    recipe = get_recipe("protocol").replace(epochs=None)
    with pytest.raises(ValueError, match="has no stop rule: give epochs, minutes or steps"):
        fit("simple_cnn", small_fashion, recipe)


def test_a_built_model_cannot_take_mixed_precision_or_a_strategy(small_fashion):
    with pytest.raises(ValueError, match="registry name or a function"):
        fit(models.build("simple_cnn"), small_fashion, protocol(precision="mixed_bfloat16"))
    with pytest.raises(ValueError, match="strategy's scope"):
        fit(models.build("simple_cnn"), small_fashion, protocol(), strategy="default")


def test_step_history_recovers_each_steps_loss(small_fashion):
    tiny = small_fashion.subset(train=128, valid=32, test=32)
    steps = StepHistory()
    result = fit(
        "lenet5_fashion", tiny, protocol(epochs=2, batch_size=32), callbacks=[steps], verbose=0
    )
    assert len(steps.loss) == len(steps.accuracy) == 2 * 4
    assert all(0.0 <= a <= 1.0 for a in steps.accuracy)
    # The mean of an epoch's step losses is the loss Keras reports for the epoch.
    assert np.mean(steps.loss[4:]) == pytest.approx(result.history["loss"][1], rel=1e-4)


def test_precise_batch_norm_sets_the_moving_statistics_from_its_images(small_fashion):
    images = small_fashion.x_train[:64]
    model = models.build("resnet_fashion")
    PreciseBatchNorm(model, images).recompute()
    stem = model.get_layer("conv1_bn")
    features = keras.Model(model.input, model.get_layer("conv1_conv").output)(images)
    np.testing.assert_allclose(stem.moving_mean, np.mean(features, axis=(0, 1, 2)), atol=1e-5)
    np.testing.assert_allclose(stem.moving_variance, np.var(features, axis=(0, 1, 2)), rtol=1e-3)
    assert stem.momentum == pytest.approx(0.9)  # restored
    with pytest.raises(ValueError, match="at least one image"):
        PreciseBatchNorm(model, images[:0])


def _left_or_right_model():
    # Class 0 when the left half is brighter, class 1 otherwise: flips swap them.
    inputs = keras.Input((4, 4, 1))
    halves = keras.layers.Conv2D(2, (4, 4), use_bias=False)(inputs)
    model = keras.Model(inputs, keras.layers.Softmax()(keras.layers.Flatten()(halves)))
    kernel = np.zeros((4, 4, 1, 2), "float32")
    kernel[:, :2, 0, 0] = kernel[:, 2:, 0, 1] = 1.0
    model.layers[1].set_weights([kernel])
    return model


def test_evaluate_reads_accuracy_and_cross_entropy_with_and_without_flips():
    model = _left_or_right_model()
    images = np.zeros((2, 4, 4, 1), "float32")
    images[0, :, :2] = 1
    images[1, :, 2:] = 1
    plain = evaluate(model, images, np.array([0, 1]))
    assert plain.accuracy == 1.0
    # softmax([8, 0]): the label's probability is 1 / (1 + e^-8).
    assert plain.loss == pytest.approx(np.log1p(np.exp(-8.0)), rel=1e-4)
    # Averaged with the mirror image the scores tie: argmax falls on class 0 for both.
    flipped = evaluate(model, images, np.array([0, 1]), flip=True)
    assert flipped.accuracy == 0.5 and flipped.loss == pytest.approx(np.log(2), rel=1e-4)
    with pytest.raises(ValueError, match="as many labels as images"):
        evaluate(model, images, np.array([0]))
