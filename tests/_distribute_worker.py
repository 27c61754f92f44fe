"""Helper processes for tests/test_distribute.py (not a test module).

TensorFlow's runtime can be configured only before it starts: logical CPU
devices must be made, and a multi-worker strategy created, before the first
TensorFlow operation. Each run therefore needs a fresh process:

    python tests/_distribute_worker.py mirrored OUT_DIR
    TF_CONFIG=... python tests/_distribute_worker.py worker OUT_DIR

Each writes ``result.json`` (and ``weights.npz``) into OUT_DIR.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

# Small real subsets: 256 training images are 8 steps of a global batch of 32,
# 128 images 4 steps.
SIZES = {"train": 256, "valid": 64, "test": 64}
WORKER_SIZES = {"train": 128, "valid": 32, "test": 32}
GLOBAL_BATCH = 32


def mirrored(out: Path) -> None:
    from cnn_guide import models
    from cnn_guide.data import load_fashion_mnist
    from cnn_guide.distribute import make_strategy, per_replica_batch_size
    from cnn_guide.recipes import get_recipe
    from cnn_guide.training import fit

    # First TensorFlow call of the process: splits the CPU into two devices.
    strategy = make_strategy("mirrored", devices=["/cpu:0", "/cpu:1"])
    data = load_fashion_mnist(download=False).subset(**SIZES)

    def build():
        # No dropout: its masks come from per-replica random streams, which a
        # single device cannot reproduce; everything else is deterministic.
        return models.build("simple_cnn", dropout=0.0)

    # The single-device run also goes through a strategy (OneDeviceStrategy):
    # under any strategy Keras draws one batch from a fresh iterator to build
    # the train step, and the reshuffling pipeline then starts the first epoch
    # on its second shuffle order. Without a strategy the first order is used.
    one_device = make_strategy("default", devices=["/cpu:0"])
    recipe = get_recipe("protocol", optimizer="nadam", epochs=1, seed=3)
    single = fit(
        build,
        data,
        recipe.replace(batch_size=GLOBAL_BATCH, learning_rate=0.001),
        strategy=one_device,
        verbose=0,
    )
    # 0.0005 scaled by the linear scaling rule on two replicas: the single run's 0.001.
    mirror = fit(
        build,
        data,
        recipe.replace(
            batch_size=GLOBAL_BATCH // 2, learning_rate=0.0005, scale_learning_rate=True
        ),
        strategy=strategy,
        verbose=0,
    )
    weight_diff = max(
        float(np.max(np.abs(a - b)))
        for a, b in zip(single.model.get_weights(), mirror.model.get_weights(), strict=True)
    )
    weight_scale = max(float(np.max(np.abs(a))) for a in single.model.get_weights())

    errors = {}
    try:
        per_replica_batch_size(33, strategy.num_replicas_in_sync)
    except ValueError as error:
        errors["global_batch_33"] = str(error)
    # A multi-worker strategy asked for after the runtime has started.
    os.environ["TF_CONFIG"] = json.dumps(
        {"cluster": {"worker": ["127.0.0.1:1"]}, "task": {"type": "worker", "index": 0}}
    )
    try:
        make_strategy("multiworker")
    except ValueError as error:
        errors["multiworker_too_late"] = str(error)
    finally:
        del os.environ["TF_CONFIG"]
    (out / "result.json").write_text(
        json.dumps(
            {
                "replicas": mirror.replicas,
                "single_replicas": single.replicas,
                "global_batch": [single.global_batch_size, mirror.global_batch_size],
                "loss": [single.history["loss"][0], mirror.history["loss"][0]],
                "val_loss": [single.history["val_loss"][0], mirror.history["val_loss"][0]],
                "test_loss": [single.test_loss, mirror.test_loss],
                "max_weight_diff": weight_diff,
                "max_weight": weight_scale,
                "errors": errors,
                "learning_rate": [single.learning_rate, mirror.learning_rate],
            }
        )
    )


def worker(out: Path) -> None:
    import keras

    from cnn_guide.data import load_fashion_mnist
    from cnn_guide.distribute import is_chief
    from cnn_guide.recipes import get_recipe
    from cnn_guide.training import fit

    class StepCounter(keras.callbacks.Callback):
        steps = 0

        def on_train_batch_end(self, batch, logs=None):
            StepCounter.steps += 1

    data = load_fashion_mnist(download=False).subset(**WORKER_SIZES)
    # The strategy is created by name inside fit(), before any other
    # TensorFlow operation, from this process's TF_CONFIG.
    workers = len(json.loads(os.environ["TF_CONFIG"])["cluster"]["worker"])
    result = fit(
        "simple_cnn",
        data,
        get_recipe(
            "protocol", optimizer="nadam", epochs=1, batch_size=GLOBAL_BATCH // workers, seed=11
        ),
        strategy="multiworker",
        backup_dir=out / "backup",
        callbacks=[StepCounter()],
        verbose=0,
    )
    np.savez(out / "weights.npz", *result.model.get_weights())
    strategy = result.model.distribute_strategy
    (out / "result.json").write_text(
        json.dumps(
            {
                "replicas": result.replicas,
                "global_batch": result.global_batch_size,
                "loss": result.history["loss"],
                "test_loss": result.test_loss,
                "steps": StepCounter.steps,
                "chief": is_chief(strategy),
                "task": [strategy.cluster_resolver.task_type, strategy.cluster_resolver.task_id],
            }
        )
    )


if __name__ == "__main__":
    mode, out_dir = sys.argv[1], Path(sys.argv[2])
    out_dir.mkdir(parents=True, exist_ok=True)
    {"mirrored": mirrored, "worker": worker}[mode](out_dir)
