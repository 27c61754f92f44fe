"""Choosing a ``tf.distribute`` strategy by name, and checking its devices."""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from cnn_guide.distribute._tf_config import read_tf_config

if TYPE_CHECKING:
    import tensorflow as tf

STRATEGIES = ("default", "mirrored", "multiworker", "tpu")
"""Strategy names `make_strategy` accepts."""


def make_strategy(
    name: str = "default", devices: Sequence[str] | None = None, *, tpu: str | None = None
) -> tf.distribute.Strategy:
    """Create a ``tf.distribute`` strategy by name.

    Create the strategy before any other TensorFlow operation runs: the
    multi-worker strategy configures the runtime's collective operations, and
    logical CPU devices (``devices=["/cpu:0", "/cpu:1"]``) can only be made
    before the runtime starts.

    Args:
        name: One of `STRATEGIES`:

            * ``"default"``: TensorFlow's default strategy, one device (a GPU
              if there is one, else the CPU), or the single device given;
            * ``"mirrored"``: ``tf.distribute.MirroredStrategy``, one replica
              per local GPU (the CPU when there is none), or one per device
              given. Asking for CPU devices that do not exist yet, e.g.
              ``["/cpu:0", "/cpu:1"]``, splits the CPU into that many logical
              devices, which lets a laptop run the same code as a multi-GPU
              machine;
            * ``"multiworker"``: ``tf.distribute.MultiWorkerMirroredStrategy``,
              several machines, each running the same program with its own
              ``TF_CONFIG`` environment variable (checked by `read_tf_config`);
            * ``"tpu"``: ``tf.distribute.TPUStrategy`` on the TPU named by
              ``tpu``, else by ``$TPU_NAME``, else on the TPU VM's own chips.
        devices: Device names for ``"default"`` (one) or ``"mirrored"``, such
            as ``["/gpu:0", "/gpu:1"]`` or ``["/cpu:0", "/cpu:1"]``.
        tpu: A TPU name or ``grpc://`` address, for ``"tpu"`` only; ``"local"``
            for the chips of a TPU VM.

    Returns:
        The strategy. ``strategy.num_replicas_in_sync`` tells how many
        replicas share each global batch.

    Raises:
        ValueError: For an unknown name, devices that do not exist or do not
            fit the strategy, a malformed ``TF_CONFIG``, a multi-worker strategy
            created too late, or no TPU found.
    """
    if name not in STRATEGIES:
        raise ValueError(
            f"Unknown strategy {name!r}. Valid names: {', '.join(STRATEGIES)} "
            "('default': one device; 'mirrored': all local GPUs or the devices given; "
            "'multiworker': several machines, configured by TF_CONFIG; 'tpu': a TPU)."
        )
    if devices is not None and name in ("multiworker", "tpu"):
        raise ValueError(
            f"devices applies to the 'default' and 'mirrored' strategies, not {name!r} "
            f"(got devices={list(devices)}). A {name} strategy uses every device it finds."
        )
    if tpu is not None and name != "tpu":
        raise ValueError(f"tpu={tpu!r} applies only to the 'tpu' strategy, not {name!r}.")
    if name == "multiworker":
        read_tf_config()  # before importing TensorFlow: a bad TF_CONFIG fails at once
    if name == "tpu":
        return _tpu_strategy(tpu)
    import tensorflow as tf  # lazy: keeps TensorFlow out of import time

    if name == "default":
        if devices is None:
            return tf.distribute.get_strategy()
        names = _local_devices(devices)
        if len(names) != 1:
            raise ValueError(
                f"The default strategy runs on one device, got {len(names)}: {names}. "
                "Use strategy 'mirrored' to train on several devices."
            )
        return tf.distribute.OneDeviceStrategy(names[0])
    if name == "mirrored":
        return tf.distribute.MirroredStrategy(
            devices=None if devices is None else _local_devices(devices)
        )
    try:
        return tf.distribute.MultiWorkerMirroredStrategy()
    except RuntimeError as error:
        raise ValueError(
            f"Could not create the multi-worker strategy ({error}). Create it before "
            "any other TensorFlow operation runs, e.g. call "
            "make_strategy('multiworker') at the top of the program."
        ) from error


def _local_devices(devices: Sequence[str]) -> list[str]:
    """Check device names, making logical CPU devices when more CPUs are asked for."""
    import tensorflow as tf  # lazy: keeps TensorFlow out of import time

    if isinstance(devices, str) or not devices:
        raise ValueError(
            f"devices must be a non-empty list of device names such as ['/gpu:0', '/gpu:1'] "
            f"or ['/cpu:0', '/cpu:1'], got {devices!r}."
        )
    specs = []
    for device in devices:
        try:
            spec = tf.DeviceSpec.from_string(device)
        except (ValueError, TypeError):
            spec = None
        if spec is None or spec.device_type is None or spec.device_index is None:
            raise ValueError(
                f"{device!r} is not a device name; use names such as '/gpu:0' or '/cpu:1'."
            )
        specs.append((spec.device_type.upper(), spec.device_index))
    if len(set(specs)) != len(specs):
        raise ValueError(f"devices lists a device twice: {list(devices)}.")
    cpus_wanted = max((index + 1 for kind, index in specs if kind == "CPU"), default=0)
    if cpus_wanted > 1:
        _split_cpu(cpus_wanted)
    available = {
        (d.device_type.upper(), tf.DeviceSpec.from_string(d.name).device_index)
        for d in tf.config.list_logical_devices()
    }
    missing = [d for d, spec in zip(devices, specs, strict=True) if spec not in available]
    if missing:
        have = ", ".join(sorted(f"/{kind.lower()}:{index}" for kind, index in available))
        raise ValueError(
            f"No such device: {', '.join(missing)}. This machine has: {have}. Logical CPU "
            "devices can only be added before TensorFlow's runtime starts: create the "
            "strategy first in the program."
        )
    return [f"/{kind.lower()}:{index}" for kind, index in specs]


def _split_cpu(count: int) -> None:
    """Split the first physical CPU into ``count`` logical devices, if still possible."""
    import tensorflow as tf  # lazy: keeps TensorFlow out of import time

    cpu = tf.config.list_physical_devices("CPU")[0]
    current = tf.config.get_logical_device_configuration(cpu)
    if current is not None and len(current) >= count:
        return
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(count)]
        )
    except RuntimeError:
        pass  # the runtime has started; the caller reports the missing devices


def _local_tpu_present() -> bool:
    # TPU VMs expose their chips as /dev/accel* (v2-v4) or /dev/vfio/<n> (v5 and later).
    return bool(glob.glob("/dev/accel*") or glob.glob("/dev/vfio/[0-9]*"))


def _tpu_strategy(tpu: str | None) -> tf.distribute.Strategy:
    target = tpu or os.environ.get("TPU_NAME") or ("local" if _local_tpu_present() else None)
    if target is None:
        raise ValueError(
            "No TPU found: no tpu name was given, $TPU_NAME is not set and this machine has "
            "no TPU chips (/dev/accel*, /dev/vfio). Run on a Cloud TPU VM or Colab TPU "
            "runtime, pass tpu='NAME' (or --tpu), or use strategy 'default' or 'mirrored'."
        )
    import tensorflow as tf  # lazy: keeps TensorFlow out of import time

    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=target)
        if target != "local":
            tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    except (ValueError, RuntimeError, tf.errors.OpError) as error:
        raise ValueError(
            f"No TPU found at {target!r}: {str(error).splitlines()[0]}. "
            "Use strategy 'default' or 'mirrored' on machines without a TPU."
        ) from error
