"""What changes when several replicas train one model together.

How the global batch is split and how the learning rate follows it, how the
input pipeline is sharded, which process writes files, and the two repairs
Keras 3 needs under ``MultiWorkerMirroredStrategy``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from cnn_guide import _compat
from cnn_guide._validate import positive_int

if TYPE_CHECKING:
    import keras
    import tensorflow as tf


def per_replica_batch_size(global_batch_size: int, replicas: int) -> int:
    """Split a global batch evenly across replicas.

    Each optimizer step consumes ``global_batch_size`` images: every replica
    computes the gradient of its ``global_batch_size / replicas`` images, and
    the replicas' gradients are summed (all-reduced) before the update.

    Args:
        global_batch_size: Images per optimizer step, over all replicas.
        replicas: ``strategy.num_replicas_in_sync``.

    Returns:
        Images per replica and step.

    Raises:
        ValueError: If the global batch does not divide evenly, naming the
            nearest global batch sizes that do.
    """
    global_batch_size = positive_int(global_batch_size, "global_batch_size")
    replicas = positive_int(replicas, "replicas")
    if global_batch_size % replicas:
        lower = global_batch_size // replicas * replicas
        upper = lower + replicas
        nearest = f"{lower} or {upper}" if lower else f"{upper}"
        raise ValueError(
            f"global_batch_size={global_batch_size} does not divide evenly across "
            f"{replicas} replicas. Use a multiple of {replicas}, such as {nearest}, "
            "or give batch_size per replica instead."
        )
    return global_batch_size // replicas


def linear_scaling(learning_rate: float, replicas: int) -> float:
    """The linear scaling rule: multiply the learning rate by the replica count.

    With a per-replica batch held fixed, ``replicas`` replicas make the global
    batch ``replicas`` times larger, and the gradient averaged over it is less
    noisy; Goyal et al. scale the learning rate by the same factor so that one
    large step moves the weights about as far as ``replicas`` small steps
    would. The rule breaks down early in training and for very large batches
    (above about 8k images on ImageNet in their experiments), which they
    handle with a gradual warm-up over the first epochs.

    Goyal, Dollár, Girshick, Noordhuis, Wesolowski, Kyrola, Tulloch, Jia and
    He, 2017, "Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour",
    https://arxiv.org/abs/1706.02677.

    Args:
        learning_rate: The learning rate tuned for one replica.
        replicas: ``strategy.num_replicas_in_sync``.

    Returns:
        ``learning_rate * replicas``.
    """
    return learning_rate * replicas


def sharding_options() -> tf.data.Options:
    """``tf.data`` options that shard an in-memory pipeline across workers by data.

    With several workers, each reads the same pipeline and
    ``tf.distribute`` shards it. The policy is set explicitly to ``DATA``:
    each worker keeps every *n*-th batch of the whole (identically shuffled)
    stream, so no example is read twice in one epoch. The ``FILE`` policy
    would split the *files* the pipeline reads among the workers, but an
    in-memory ``from_tensor_slices`` pipeline reads no files; ``AUTO`` tries
    ``FILE``, fails, logs a warning and falls back to ``DATA``.
    """
    import tensorflow as tf  # lazy: keeps TensorFlow out of import time

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return options


def is_chief(strategy: tf.distribute.Strategy | None) -> bool:
    """Whether this process is the one that writes files (checkpoints, saved models).

    In a multi-worker run it is the ``chief`` task, or worker 0 when the
    cluster has no chief; with any other strategy, the only process.
    """
    resolver = getattr(strategy, "cluster_resolver", None) if strategy is not None else None
    if resolver is None or not resolver.task_type:
        return True
    if resolver.task_type == "chief":
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return resolver.task_type == "worker" and resolver.task_id == 0 and not has_chief


def task_backup_dir(backup_dir: str | os.PathLike, strategy: tf.distribute.Strategy | None) -> Path:
    """Where this process keeps its ``BackupAndRestore`` state.

    Keras' callback writes and finally deletes the same two files in its
    directory from every process. In a multi-worker run each task gets its
    own subdirectory (``worker-0``, ``worker-1``, ``chief-0``, ...), so that
    workers sharing a file system do not overwrite or delete each other's
    backup. All replicas hold the same weights at every epoch's end, so every
    task restores the same state.
    """
    resolver = getattr(strategy, "cluster_resolver", None) if strategy is not None else None
    if resolver is None or not resolver.task_type:
        return Path(backup_dir)
    return Path(backup_dir) / f"{resolver.task_type}-{resolver.task_id}"


def apply_keras_workarounds(model: keras.Model, strategy: tf.distribute.Strategy | None) -> None:
    """Let Keras 3's ``fit`` and ``evaluate`` run under ``MultiWorkerMirroredStrategy``.

    Keras 3 (seen with Keras 3.15 and TensorFlow 2.21; reported since
    TensorFlow 2.16 made Keras 3 its default) fails in two places when several
    workers train together, see
    https://github.com/keras-team/keras/issues/20585 and
    https://github.com/tensorflow/tensorflow/issues/72388:

    1. Before the first step, ``fit`` takes one input batch to build the
       model's training state and averages it across all workers with
       ``strategy.reduce``, which the multi-worker strategy refuses for an
       ``(images, labels)`` pair (and collective operations refuse uint8
       labels). Only the batch's shapes are needed: this worker's own part
       of the batch is used instead, without communication.
    2. After each step, Keras averages the per-replica loss and metric values
       with ``strategy.reduce("MEAN", value, axis=0)``; they are scalars,
       which have no axis 0. They are averaged over the replicas with
       ``axis=None`` instead, which is what ``MirroredStrategy`` computes.

    Everything else (the all-reduce of the gradients, the synchronised
    variables, the data sharding) is TensorFlow's and Keras' own. This changes
    nothing under any other strategy, and nothing that worked before: both
    paths raise without it. `cnn_guide.training.fit` calls it; a custom
    ``fit`` under a multi-worker strategy can call it after ``compile``. The
    first repair wraps a private Keras method (see
    ``cnn_guide._compat.patch_multiworker_build``), the second the strategy's
    public ``reduce`` (``cnn_guide._compat.patch_scalar_reduce``).

    Args:
        model: The model, created and compiled in ``strategy.scope()``.
        strategy: The strategy it trains under.

    Raises:
        cnn_guide._compat.PrivateAPIError: If the installed Keras lacks the
            private method the first repair wraps.
    """
    import tensorflow as tf  # lazy: keeps TensorFlow out of import time

    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return
    _compat.patch_multiworker_build(model, strategy)
    _compat.patch_scalar_reduce(strategy)
