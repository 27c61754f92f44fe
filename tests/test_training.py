"""cnn_guide.training: a tiny real run, reproducibility and argument checks."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from cnn_guide import models
from cnn_guide.training import PreciseBatchNorm, StepHistory, train


def test_a_tiny_real_run_learns(small_fashion, tmp_path):
    checkpoint = tmp_path / "best.keras"
    result = train(
        "simple_cnn", small_fashion, epochs=2, batch_size=32, checkpoint=checkpoint, verbose=0
    )
    assert set(result.history) >= {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert len(result.history["loss"]) == 2 and len(result.epoch_seconds) == 2
    assert result.history["loss"][1] < result.history["loss"][0]
    assert 0.0 <= result.test_accuracy <= 1.0 and np.isfinite(result.test_loss)
    assert result.test_accuracy > 0.2  # ten classes: chance is 0.1
    assert checkpoint.is_file()
    reloaded = keras.saving.load_model(checkpoint)
    assert reloaded.count_params() == 1_413_834
    text = result.describe(test_images=len(small_fashion.x_test))
    assert text.startswith(f"Test accuracy {result.test_accuracy:.4f} on ")
    assert "after 2 epoch(s)" in text and "s per epoch" in text


def test_same_seed_same_run(small_fashion):
    tiny = small_fashion.subset(train=96, valid=32, test=32)
    first = train("simple_cnn", tiny, epochs=1, seed=7, verbose=0)
    second = train("simple_cnn", tiny, epochs=1, seed=7, verbose=0)
    assert first.history["loss"] == pytest.approx(second.history["loss"], rel=1e-5)
    for a, b in zip(first.model.get_weights(), second.model.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_early_stopping_restores_the_best_epoch(small_fashion):
    tiny = small_fashion.subset(train=64, valid=32, test=32)
    result = train("simple_cnn", tiny, epochs=4, early_stopping=1, learning_rate=1e-7, verbose=0)
    assert len(result.history["loss"]) < 4


def test_mixed_precision_keeps_float32_outputs(small_fashion):
    tiny = small_fashion.subset(train=64, valid=32, test=32)
    result = train("simple_cnn", tiny, epochs=1, precision="mixed_bfloat16", verbose=0)
    assert result.model.layers[1].compute_dtype == "bfloat16"
    assert result.model.output.dtype == "float32"
    assert keras.mixed_precision.global_policy().name == "float32"  # restored


def test_accepts_a_builder_function(small_fashion):
    tiny = small_fashion.subset(train=32, valid=32, test=32)
    result = train(lambda: models.build("simple_cnn", dropout=0.2), tiny, epochs=1, verbose=0)
    assert result.model.get_layer("dropout1").rate == 0.2


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"epochs": 0}, "epochs must be a positive integer"),
        ({"batch_size": -1}, "batch_size must be a positive integer"),
        ({"precision": "float16"}, "precision must be one of"),
        ({"optimizer": "adamw2"}, "Unknown optimizer 'adamw2'"),
        ({"learning_rate": -0.1}, "learning_rate must be positive"),
        ({"checkpoint": "best.h5"}, "ending in .keras"),
        (
            {"optimizer": keras.optimizers.SGD(), "learning_rate": 0.1},
            "only to an optimizer given by name",
        ),
    ],
)
def test_bad_arguments(small_fashion, kwargs, message):
    with pytest.raises(ValueError, match=message):
        train("simple_cnn", small_fashion, **kwargs)


def test_a_built_model_cannot_take_mixed_precision(small_fashion):
    with pytest.raises(ValueError, match="registry name or a function"):
        train(models.build("simple_cnn"), small_fashion, precision="mixed_bfloat16")


def test_step_history_recovers_each_steps_loss(small_fashion):
    tiny = small_fashion.subset(train=128, valid=32, test=32)
    steps = StepHistory()
    result = train("lenet5_fashion", tiny, epochs=2, batch_size=32, callbacks=[steps], verbose=0)
    assert len(steps.loss) == len(steps.accuracy) == 2 * 4
    assert all(0.0 <= a <= 1.0 for a in steps.accuracy)
    # The mean of an epoch's step losses is the loss Keras reports for the epoch.
    assert np.mean(steps.loss[4:]) == pytest.approx(result.history["loss"][1], rel=1e-4)


def test_precise_batch_norm_sets_the_moving_statistics_from_its_images(small_fashion):
    images = small_fashion.x_train[:64]
    model = models.build("resnet_fashion")
    callback = PreciseBatchNorm(images)
    callback.set_model(model)
    callback.recompute()
    stem = model.get_layer("conv1_bn")
    features = keras.Model(model.input, model.get_layer("conv1_conv").output)(images)
    np.testing.assert_allclose(stem.moving_mean, np.mean(features, axis=(0, 1, 2)), atol=1e-5)
    np.testing.assert_allclose(stem.moving_variance, np.var(features, axis=(0, 1, 2)), rtol=1e-3)
    assert stem.momentum == pytest.approx(0.9)  # restored
    with pytest.raises(ValueError, match="at least one image"):
        PreciseBatchNorm(images[:0])
