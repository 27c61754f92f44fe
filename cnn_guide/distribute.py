"""Training on several devices or machines with TensorFlow's ``tf.distribute``.

Nothing here re-implements distribution: every strategy is TensorFlow's own.
This module only chooses one by name, checks its configuration up front (so a
typo in ``TF_CONFIG`` fails at once with a clear message instead of hanging
for minutes on a network timeout), and holds the small rules that
`cnn_guide.training.fit` applies on top:

* `make_strategy`: ``"default"`` (one device), ``"mirrored"`` (all local GPUs,
  or the devices given), ``"multiworker"`` (several machines, configured by
  ``TF_CONFIG``) and ``"tpu"``;
* `choose_precision`: ``"auto"`` picks ``mixed_float16`` on NVIDIA GPUs,
  ``mixed_bfloat16`` on TPUs, and on CPUs with native bfloat16 instructions
  whichever of bfloat16 and float32 trains the network faster there
  (`measure_training_speeds`), else ``float32``;
* `per_replica_batch_size` and `linear_scaling`: how the global batch is split
  and how the learning rate follows it;
* `sharding_options`: how the input pipeline is split across workers.

```python
from cnn_guide.data import load_fashion_mnist
from cnn_guide.distribute import make_strategy
from cnn_guide.recipes import get_recipe
from cnn_guide.training import fit

strategy = make_strategy("mirrored")  # all local GPUs
recipe = get_recipe("book", batch_size=128)  # per replica
result = fit("simple_cnn", load_fashion_mnist(), recipe, strategy=strategy)
```

Chapter: ``docs/chapters/distributed.md``.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from cnn_guide._validate import positive_int

if TYPE_CHECKING:
    import keras
    import tensorflow as tf

__all__ = [
    "BFLOAT16_MIN_GAIN",
    "STRATEGIES",
    "TF_CONFIG_EXAMPLE",
    "apply_keras_workarounds",
    "choose_precision",
    "cpu_supports_bfloat16",
    "is_chief",
    "linear_scaling",
    "make_strategy",
    "measure_training_speeds",
    "per_replica_batch_size",
    "precision_policy",
    "read_tf_config",
    "sharding_options",
    "task_backup_dir",
]

STRATEGIES = ("default", "mirrored", "multiworker", "tpu")
"""Strategy names `make_strategy` accepts."""

TF_CONFIG_EXAMPLE = (
    '{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
    '"task": {"type": "worker", "index": 0}}'
)
"""A valid ``TF_CONFIG`` for two machines, as it is set on the first one (the
second one sets ``"index": 1``)."""

BFLOAT16_MIN_GAIN = 1.1
"""How much faster bfloat16 must train than float32 on a CPU for ``"auto"`` to
pick it: a gain under 10% is within the noise of a few timed steps, and not
worth bfloat16's 8-bit mantissa."""

_POLICIES = ("float32", "mixed_bfloat16", "mixed_float16")
_TASK_TYPES = ("worker", "chief")
_CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


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
    import tensorflow as tf

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


def read_tf_config(text: str | None = None) -> dict[str, Any]:
    """Parse and check a ``TF_CONFIG``, the cluster description of a multi-worker run.

    Every machine of the cluster runs the same program with the same
    ``cluster`` and its own ``task``. ``TF_CONFIG_EXAMPLE`` shows the shape:
    a ``cluster`` with a ``worker`` list of ``host:port`` addresses (and
    optionally a ``chief`` list of one address), and a ``task`` with ``type``
    ``"worker"`` or ``"chief"`` and the ``index`` of this machine in that list.

    Args:
        text: The JSON text; ``None`` reads the ``TF_CONFIG`` environment
            variable.

    Returns:
        The parsed configuration.

    Raises:
        ValueError: Saying what is wrong and showing a correct example, if the
            variable is unset, not JSON, or its cluster or task is malformed.
    """
    if text is None:
        text = os.environ.get("TF_CONFIG")
    if text is None or not text.strip():
        _bad_tf_config(
            "TF_CONFIG is not set. The multi-worker strategy reads the cluster from it; "
            "on a single machine use strategy 'mirrored' instead",
            text,
        )
    try:
        config = json.loads(text)
    except json.JSONDecodeError as error:
        _bad_tf_config(f"it is not valid JSON ({error})", text)
    if not isinstance(config, dict):
        _bad_tf_config(f"it must be a JSON object, got a {type(config).__name__}", text)
    cluster = config.get("cluster")
    if not isinstance(cluster, dict):
        _bad_tf_config("it needs a 'cluster' object", text)
    extra = sorted(set(cluster) - set(_TASK_TYPES))
    if extra:
        why = (
            " ('ps' belongs to ParameterServerStrategy, which this book does not use)"
            if "ps" in extra
            else ""
        )
        _bad_tf_config(
            f"the cluster may list only 'worker' and 'chief' machines, got {extra}{why}", text
        )
    workers = cluster.get("worker")
    if not isinstance(workers, list) or not workers:
        _bad_tf_config("cluster.worker must be a non-empty list of 'host:port' strings", text)
    if "chief" in cluster and (
        not isinstance(cluster["chief"], list) or len(cluster["chief"]) != 1
    ):
        _bad_tf_config("cluster.chief must be a list of exactly one 'host:port' string", text)
    addresses = [*cluster.get("chief", []), *workers]
    for address in addresses:
        problem = _address_problem(address)
        if problem:
            _bad_tf_config(f"bad address {address!r} in the cluster: {problem}", text)
    duplicates = sorted({a for a in addresses if addresses.count(a) > 1})
    if duplicates:
        _bad_tf_config(f"every machine needs its own address, {duplicates} repeats", text)
    task = config.get("task")
    if not isinstance(task, dict):
        _bad_tf_config("it needs a 'task' object saying which machine this is", text)
    task_type = task.get("type")
    if task_type not in _TASK_TYPES:
        _bad_tf_config(f"task.type must be 'worker' or 'chief', got {task_type!r}", text)
    if task_type not in cluster:
        _bad_tf_config(f"task.type is {task_type!r} but the cluster has no {task_type!r}", text)
    index = task.get("index")
    size = len(cluster[task_type])
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < size:
        _bad_tf_config(
            f"task.index must be an integer from 0 to {size - 1} (the cluster lists {size} "
            f"{task_type} address(es)), got {index!r}",
            text,
        )
    return config


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
    import tensorflow as tf

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
    import numpy as np

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
    import keras

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
    import tensorflow as tf

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
    import tensorflow as tf

    from cnn_guide import _compat

    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return
    _compat.patch_multiworker_build(model, strategy)
    _compat.patch_scalar_reduce(strategy)


def _bad_tf_config(problem: str, text: str | None) -> NoReturn:
    shown = "unset" if text is None else repr(text if len(text) <= 300 else text[:300] + "...")
    raise ValueError(
        f"Malformed TF_CONFIG: {problem}. Got: {shown}. A correct TF_CONFIG for two "
        f"machines, on the first one: {TF_CONFIG_EXAMPLE} (the second one sets "
        '"index": 1).'
    )


def _address_problem(address: object) -> str | None:
    if not isinstance(address, str):
        return f"expected a 'host:port' string, got a {type(address).__name__}"
    host, sep, port = address.rpartition(":")
    if not sep or not host:
        return "expected 'host:port', such as '10.0.0.2:12345'"
    if not port.isdigit() or not 0 < int(port) < 65536:
        return f"the port must be a number from 1 to 65535, got {port!r}"
    return None


def _local_devices(devices: Sequence[str]) -> list[str]:
    """Check device names, making logical CPU devices when more CPUs are asked for."""
    import tensorflow as tf

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
    import tensorflow as tf

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


def _replicas_on_cpus_only(strategy: tf.distribute.Strategy | None) -> bool:
    if strategy is None:
        return False
    try:
        devices = strategy.extended.worker_devices
    except (AttributeError, RuntimeError):  # the default strategy has no device list
        return False
    return bool(devices) and all("CPU" in device.upper() for device in devices)


def _has_tensor_core_gpu() -> bool:
    import tensorflow as tf

    for gpu in tf.config.list_physical_devices("GPU"):
        capability = tf.config.experimental.get_device_details(gpu).get("compute_capability")
        if capability is None or tuple(capability) >= (7, 0):
            return True
    return False


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
    import tensorflow as tf

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
