"""Which floating-point precision to train in, on the hardware at hand.

Mixed precision keeps the weights in float32 and computes in float16 or
bfloat16 (Micikevicius et al. 2018, "Mixed Precision Training",
https://arxiv.org/abs/1710.03740); Keras applies it through a global dtype
policy.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from cnn_guide._validate import positive_int

if TYPE_CHECKING:
    import keras
    import tensorflow as tf

BFLOAT16_MIN_GAIN = 1.1
"""How much faster bfloat16 must train than float32 on a CPU for ``"auto"`` to
pick it: a gain under 10% is within the noise of a few timed steps, and not
worth bfloat16's 8-bit mantissa."""

_POLICIES = ("float32", "mixed_bfloat16", "mixed_float16")
_CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def choose_precision(
    precision: str = "auto",
    strategy: tf.distribute.Strategy | None = None,
    *,
    measure: Callable[[Sequence[str]], Mapping[str, float]] | None = None,
) -> str:
    """Resolve a precision name to a Keras dtype policy name.

    ``"auto"`` picks what the hardware computes fastest without hurting
    accuracy:

    * ``"mixed_bfloat16"`` under a TPU strategy (TPUs compute in bfloat16);
    * ``"mixed_float16"`` when TensorFlow sees an NVIDIA GPU of compute
      capability 7.0 or newer (Volta and later: tensor cores), unless the
      strategy's replicas are all CPUs; Keras then scales the loss so that
      small float16 gradients do not underflow;
    * on a CPU with native bfloat16 instructions (`cpu_supports_bfloat16`),
      ``"mixed_bfloat16"`` only if ``measure`` finds it at least
      `BFLOAT16_MIN_GAIN` times faster than float32 for the network at hand:
      the gain depends on the network and the CPU (from none to about 2x), so
      it is timed, not assumed. Without ``measure``, ``"float32"``;
    * ``"float32"`` otherwise (elsewhere bfloat16 is emulated and slower).

    Any other value must be a policy name and is returned unchanged.

    Args:
        precision: ``"auto"``, ``"float32"``, ``"mixed_bfloat16"`` or
            ``"mixed_float16"``.
        strategy: The strategy the model will train under, if any.
        measure: Times training under the given policies and returns images
            per second for each (see `measure_training_speeds`); asked only
            on a CPU with native bfloat16.

    Returns:
        A Keras dtype policy name.

    Raises:
        ValueError: For an unknown precision name.
    """
    if precision != "auto":
        if precision not in _POLICIES:
            raise ValueError(f"precision must be one of {('auto', *_POLICIES)}, got {precision!r}.")
        return precision
    import tensorflow as tf  # lazy: keeps TensorFlow out of import time

    if strategy is not None and isinstance(strategy, tf.distribute.TPUStrategy):
        return "mixed_bfloat16"
    if not _replicas_on_cpus_only(strategy) and _has_tensor_core_gpu():
        return "mixed_float16"
    if not cpu_supports_bfloat16() or measure is None:
        return "float32"
    speeds = measure(("float32", "mixed_bfloat16"))
    faster = speeds["mixed_bfloat16"] >= BFLOAT16_MIN_GAIN * speeds["float32"]
    return "mixed_bfloat16" if faster else "float32"


def measure_training_speeds(
    build: Callable[[], keras.Model],
    batch_size: int,
    policies: Sequence[str] = ("float32", "mixed_bfloat16"),
    *,
    rounds: int = 5,
    steps: int = 20,
) -> dict[str, float]:
    """Training images per second of one network under each precision policy.

    One copy of the network is built per policy and traced with two warm-up
    steps on random images of its input shape. Then each round times
    ``steps`` training steps of every policy in turn, in one process, so that
    any other load on the machine falls on all of them alike; a policy's
    speed is its median round (a best round of a few short ones is too noisy
    near `BFLOAT16_MIN_GAIN`: it can flip the choice from one process to the next).

    Args:
        build: Builds the network (called once per policy, under it).
        batch_size: Images per training step.
        policies: Keras dtype policy names.
        rounds: Interleaved rounds.
        steps: Timed steps per policy and round.

    Returns:
        Images per second, by policy.
    """
    positive_int(batch_size, "batch_size")
    nets = {}
    for policy in policies:
        with precision_policy(policy):
            net = build()
        net.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        nets[policy] = net
    rng = np.random.default_rng(0)
    shape, classes = nets[policies[0]].input_shape[1:], nets[policies[0]].output_shape[-1]
    images = rng.random((batch_size, *shape), dtype=np.float32)
    labels = rng.integers(0, classes, batch_size)
    for net in nets.values():
        for _ in range(2):  # trace the training step
            net.train_on_batch(images, labels)
    measured: dict[str, list[float]] = {policy: [] for policy in policies}
    for _ in range(rounds):
        for policy, net in nets.items():
            start = time.perf_counter()
            for _ in range(steps):
                net.train_on_batch(images, labels)
            measured[policy].append(steps * batch_size / (time.perf_counter() - start))
    return {policy: float(np.median(speeds)) for policy, speeds in measured.items()}


@contextlib.contextmanager
def precision_policy(precision: str) -> Iterator[None]:
    """Set Keras' global dtype policy while a model is built, then restore it."""
    import keras  # lazy: keeps TensorFlow out of import time

    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(precision)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


def cpu_supports_bfloat16(cpuinfo: str | os.PathLike = "/proc/cpuinfo") -> bool:
    """Whether the CPU computes bfloat16 natively (x86 AVX512-BF16 or AMX-BF16).

    Reads the ``flags`` lines of ``/proc/cpuinfo`` (Linux). Elsewhere, or
    when the file cannot be read, answers ``False``.

    Args:
        cpuinfo: The file to read.
    """
    try:
        text = Path(cpuinfo).read_text(errors="replace")
    except OSError:
        return False
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags" and any(flag in value.split() for flag in _CPU_BF16_FLAGS):
            return True
    return False


def _replicas_on_cpus_only(strategy: tf.distribute.Strategy | None) -> bool:
    if strategy is None:
        return False
    try:
        devices = strategy.extended.worker_devices
    except (AttributeError, RuntimeError):  # the default strategy has no device list
        return False
    return bool(devices) and all("CPU" in device.upper() for device in devices)


def _has_tensor_core_gpu() -> bool:
    import tensorflow as tf  # lazy: keeps TensorFlow out of import time

    for gpu in tf.config.list_physical_devices("GPU"):
        capability = tf.config.experimental.get_device_details(gpu).get("compute_capability")
        if capability is None or tuple(capability) >= (7, 0):
            return True
    return False
