"""cnn_guide.distribute and fit(strategy=...): real tf.distribute runs on this CPU.

TensorFlow's runtime can be configured only before it starts (logical CPU
devices, a multi-worker strategy), so those runs use fresh processes started
from tests/_distribute_worker.py. Everything else runs in this process.
"""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import keras
import numpy as np
import pytest
import tensorflow as tf

from cnn_guide import distribute
from cnn_guide.cli import main
from cnn_guide.distribute import (
    STRATEGIES,
    TF_CONFIG_EXAMPLE,
    _precision,
    _strategy,
    choose_precision,
    cpu_supports_bfloat16,
    is_chief,
    linear_scaling,
    make_strategy,
    per_replica_batch_size,
    read_tf_config,
    task_backup_dir,
)
from cnn_guide.recipes import PRECISIONS, get_recipe
from cnn_guide.training import fit

HELPER = Path(__file__).with_name("_distribute_worker.py")
ROOT = HELPER.parent.parent
RUN_TIMEOUT = 240  # seconds; each run takes well under a minute on a quiet 2-core machine


def _env(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "TF_CONFIG"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return {**env, "TF_CPP_MIN_LOG_LEVEL": "2", **extra}


def _start(mode: str, out: Path, **env: str) -> subprocess.Popen:
    out.mkdir(parents=True, exist_ok=True)
    log = (out / "log.txt").open("wb")  # a file, not a pipe: a full pipe would block the run
    try:
        return subprocess.Popen(
            [sys.executable, str(HELPER), mode, str(out)],
            cwd=ROOT,
            env=_env(**env),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    finally:
        log.close()


def _finish(processes: list[subprocess.Popen], outs: list[Path]) -> list[dict]:
    """Wait for every process (bounded), kill leftovers, return their results."""
    deadline = time.monotonic() + RUN_TIMEOUT
    try:
        for process in processes:
            process.wait(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        pytest.fail(f"distributed run exceeded {RUN_TIMEOUT} s; logs in {outs}")
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=30)
    results = []
    for process, out in zip(processes, outs, strict=True):
        log = (out / "log.txt").read_text(errors="replace")[-3000:]
        assert process.returncode == 0, f"{out.name} exited with {process.returncode}:\n{log}"
        results.append(json.loads((out / "result.json").read_text()))
    return results


def _free_loopback_ports(count: int) -> list[int]:
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


# --- real distributed runs ------------------------------------------------------------


def test_mirrored_on_two_logical_cpus_matches_one_device(tmp_path):
    # Same seed, same initial weights, same global batch of 32 split 2 x 16,
    # same shuffled order, no dropout, same learning rate (0.001: given to the
    # single run; 0.0005 x 2 replicas by the linear scaling rule for the
    # mirrored one): the two runs compute the same 8 updates,
    # except that each gradient is summed in two halves and then all-reduced,
    # a different order of float32 additions (relative error ~1e-7 per sum).
    # Nadam divides by the root of tiny second moments in its first steps,
    # which amplifies such rounding in the weights (about 1e-5 of their size
    # here), less so in the loss (about 1e-7). The tolerances, 1e-4 on losses
    # and 1e-3 on weights, leave a margin for other CPUs' thread splits, while
    # a real difference (a replica's gradient dropped or counted twice, the
    # batch not split, another data order) moves the loss by percents. Keep
    # the learning rate: at 0.002 this first epoch is unstable (the loss
    # rises) and amplifies the same rounding to percents of the weights.
    out = tmp_path / "mirrored"
    (result,) = _finish([_start("mirrored", out)], [out])
    assert result["replicas"] == 2 and result["single_replicas"] == 1
    assert result["global_batch"] == [32, 32]
    single, mirrored = result["loss"]
    assert math.isfinite(single) and single > 0
    assert mirrored == pytest.approx(single, rel=1e-4)
    assert result["val_loss"][1] == pytest.approx(result["val_loss"][0], rel=1e-4)
    assert result["test_loss"][1] == pytest.approx(result["test_loss"][0], rel=1e-4)
    assert result["max_weight_diff"] < 1e-3 * result["max_weight"]
    # A global batch that does not split over the two replicas.
    message = result["errors"]["global_batch_33"]
    assert "global_batch_size=33" in message and "2 replicas" in message
    assert "32 or 34" in message
    # A multi-worker strategy created after TensorFlow's runtime has started.
    assert (
        "Create it before any other TensorFlow operation"
        in result["errors"]["multiworker_too_late"]
    )
    # The linear scaling rule: the mirrored run's 0.0005 doubled on two replicas.
    assert result["learning_rate"] == pytest.approx([0.001, 0.001])


@pytest.mark.slow  # three processes end to end
def test_two_workers_on_localhost_end_with_the_same_weights(tmp_path):
    ports = _free_loopback_ports(2)
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    outs = [tmp_path / f"worker{index}" for index in range(2)]
    processes = []
    try:
        for index, out in enumerate(outs):
            tf_config = {"cluster": cluster, "task": {"type": "worker", "index": index}}
            processes.append(_start("worker", out, TF_CONFIG=json.dumps(tf_config)))
    finally:
        results = _finish(processes, outs[: len(processes)])
    first, second = results
    assert [r["task"] for r in results] == [["worker", 0], ["worker", 1]]
    assert [r["chief"] for r in results] == [True, False]  # worker 0 writes files
    assert first["replicas"] == second["replicas"] == 2
    assert first["global_batch"] == 32
    # 128 images in global batches of 32 are 4 steps. Sharded by data, each
    # worker reads 4 batches of 16; without sharding each would read all 128
    # images, 8 batches of 16, and run 8 steps.
    assert first["steps"] == second["steps"] == 4
    assert math.isfinite(first["loss"][0])
    assert first["loss"] == pytest.approx(second["loss"], rel=1e-6)  # metrics are all-reduced
    with np.load(outs[0] / "weights.npz") as a, np.load(outs[1] / "weights.npz") as b:
        assert a.files == b.files and len(a.files) == 16  # simple_cnn: 8 kernels, 8 biases
        for name in a.files:
            # Both apply the same all-reduced gradient to the same weights.
            np.testing.assert_allclose(a[name], b[name], rtol=0, atol=1e-6)
    for index, out in enumerate(outs):  # each task's backup, deleted once training completed
        assert not (out / "backup" / f"worker-{index}").exists()


# --- precision ---------------------------------------------------------------------


def test_mixed_bfloat16_under_a_named_strategy_keeps_float32_outputs(small_fashion):
    tiny = small_fashion.subset(train=32, valid=32, test=32)
    recipe = get_recipe("protocol", epochs=1, batch_size=32, precision="mixed_bfloat16")
    result = fit("simple_cnn", tiny, recipe, strategy="default", verbose=0)
    conv = result.model.get_layer("conv1")
    assert conv.compute_dtype == "bfloat16" and conv.variable_dtype == "float32"
    assert result.model.output.dtype == "float32"
    assert result.model(tiny.x_test[:4], training=False).dtype == "float32"
    assert result.precision == "mixed_bfloat16" and result.replicas == 1
    assert math.isfinite(result.history["loss"][0])
    assert keras.mixed_precision.global_policy().name == "float32"  # restored


def test_auto_precision_picks_a_valid_policy(small_fashion):
    import tensorflow as tf

    tiny = small_fashion.subset(train=32, valid=32, test=32)
    # A small registered network: "auto" times 200 training steps under each policy.
    recipe = get_recipe("protocol", epochs=1, precision="auto")
    result = fit("fast_resnet_fashion", tiny, recipe, verbose=0)
    chosen = result.precision
    assert chosen in PRECISIONS
    if not tf.config.list_physical_devices("GPU") and not cpu_supports_bfloat16():
        assert chosen == "float32"  # bfloat16 would be emulated, so never faster
    stem = result.model.get_layer("stem_conv")
    assert stem.compute_dtype == keras.DTypePolicy(chosen).compute_dtype
    assert result.model.output.dtype == "float32"


def test_training_speeds_are_measured_per_policy_in_one_process():
    def build():
        inputs = keras.Input((8, 8, 1))
        x = keras.layers.Conv2D(4, 3)(inputs)
        x = keras.layers.GlobalAveragePooling2D()(x)
        return keras.Model(inputs, keras.layers.Dense(3, dtype="float32")(x))

    speeds = distribute.measure_training_speeds(build, 4, rounds=2, steps=1)
    assert set(speeds) == {"float32", "mixed_bfloat16"}
    assert all(speed > 0 for speed in speeds.values())
    assert keras.mixed_precision.global_policy().name == "float32"  # restored
    with pytest.raises(ValueError, match="batch_size"):
        distribute.measure_training_speeds(build, 0)


def test_auto_precision_rules(monkeypatch):
    monkeypatch.setattr(_precision, "_has_tensor_core_gpu", lambda: True)
    assert choose_precision("auto") == "mixed_float16"
    cpus = SimpleNamespace(extended=SimpleNamespace(worker_devices=("/device:CPU:0",)))
    monkeypatch.setattr(_precision, "cpu_supports_bfloat16", lambda: False)
    assert choose_precision("auto", cpus) == "float32"  # replicas on CPUs despite the GPU
    monkeypatch.setattr(_precision, "_has_tensor_core_gpu", lambda: False)
    asked = []

    def timed(speeds):
        return lambda policies: asked.append(tuple(policies)) or speeds

    # Without native bfloat16 it is never timed: emulated, it is always slower.
    assert choose_precision("auto", measure=timed({})) == "float32" and not asked
    # With it, bfloat16 only where it is measured faster by the margin.
    monkeypatch.setattr(_precision, "cpu_supports_bfloat16", lambda: True)
    faster = {"float32": 100.0, "mixed_bfloat16": 100.0 * distribute.BFLOAT16_MIN_GAIN}
    assert choose_precision("auto", measure=timed(faster)) == "mixed_bfloat16"
    assert asked == [("float32", "mixed_bfloat16")]
    barely = {"float32": 100.0, "mixed_bfloat16": 105.0}
    assert choose_precision("auto", measure=timed(barely)) == "float32"
    slower = {"float32": 100.0, "mixed_bfloat16": 60.0}
    assert choose_precision("auto", measure=timed(slower)) == "float32"
    assert choose_precision("auto") == "float32"  # nothing to time: the safe choice
    assert choose_precision("mixed_float16") == "mixed_float16"  # explicit names pass through
    with pytest.raises(ValueError, match="precision must be one of"):
        choose_precision("float16")


def test_cpu_bfloat16_flags(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16 amx_tile\n")
    assert cpu_supports_bfloat16(cpuinfo)
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_vnni\n")
    assert not cpu_supports_bfloat16(cpuinfo)
    cpuinfo.write_text("flags\t\t: fpu amx_bf16\n")
    assert cpu_supports_bfloat16(cpuinfo)
    assert not cpu_supports_bfloat16(tmp_path / "missing")  # e.g. macOS: no /proc/cpuinfo


# --- batch size, learning rate, chief, backups ----------------------------------------


@pytest.mark.parametrize(
    ("global_batch", "replicas", "expected"),
    [(32, 1, 32), (32, 2, 16), (256, 8, 32), (3, 3, 1)],
)
def test_per_replica_batch_size(global_batch, replicas, expected):
    assert per_replica_batch_size(global_batch, replicas) == expected


@pytest.mark.parametrize(
    ("global_batch", "replicas", "nearest"),
    [(33, 2, "32 or 34"), (100, 8, "96 or 104"), (3, 4, "such as 4,"), (250, 3, "249 or 252")],
)
def test_a_global_batch_that_does_not_divide_is_refused(global_batch, replicas, nearest):
    with pytest.raises(ValueError) as error:
        per_replica_batch_size(global_batch, replicas)
    message = str(error.value)
    assert f"global_batch_size={global_batch}" in message
    assert f"{replicas} replicas" in message and nearest in message


def test_linear_scaling_rule():
    assert linear_scaling(0.1, 8) == pytest.approx(0.8)
    assert linear_scaling(1e-3, 1) == 1e-3


def test_sharding_policy_is_data():
    import tensorflow as tf

    policy = distribute.sharding_options().experimental_distribute.auto_shard_policy
    assert policy == tf.data.experimental.AutoShardPolicy.DATA


def _fake_strategy(task_type, task_id, cluster):
    resolver = SimpleNamespace(
        task_type=task_type,
        task_id=task_id,
        cluster_spec=lambda: SimpleNamespace(as_dict=lambda: cluster),
    )
    return SimpleNamespace(cluster_resolver=resolver)


def test_chief_and_backup_directories(tmp_path):
    workers = {"worker": ["a:1", "b:1"]}
    with_chief = {"chief": ["c:1"], "worker": ["a:1", "b:1"]}
    assert is_chief(None)
    assert is_chief(_fake_strategy("worker", 0, workers))
    assert not is_chief(_fake_strategy("worker", 1, workers))
    assert is_chief(_fake_strategy("chief", 0, with_chief))
    assert not is_chief(_fake_strategy("worker", 0, with_chief))
    assert task_backup_dir(tmp_path, None) == tmp_path
    assert task_backup_dir(tmp_path, _fake_strategy("worker", 1, workers)) == tmp_path / "worker-1"


def test_backup_and_restore_resumes_an_interrupted_run(small_fashion, tmp_path):
    tiny = small_fashion.subset(train=32, valid=32, test=32)
    backup = tmp_path / "backup"
    three = get_recipe("protocol", epochs=3)

    class Crash(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 1:
                raise RuntimeError("simulated worker failure")

    with pytest.raises(RuntimeError, match="simulated"):
        fit("simple_cnn", tiny, three, backup_dir=backup, callbacks=[Crash()], verbose=0)
    assert (backup / "run.json").is_file()  # epoch 0 was backed up
    resumed = fit("simple_cnn", tiny, three, backup_dir=backup, verbose=0)
    # The resumed run is the whole run: epoch 0 restored, epochs 1 and 2 trained.
    assert len(resumed.history["loss"]) == 3 and resumed.epochs == 3
    assert resumed.resumed_after_epochs == [1]
    assert not backup.exists()  # deleted once training completed


# --- errors ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tf_config", "problem"),
    [
        (None, "TF_CONFIG is not set"),
        ("{cluster: }", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('{"task": {"type": "worker", "index": 0}}', "needs a 'cluster' object"),
        ('{"cluster": {"worker": []}, "task": {"type": "worker", "index": 0}}', "non-empty list"),
        ('{"cluster": {"worker": "a:1"}, "task": {"type": "worker", "index": 0}}', "non-empty"),
        ('{"cluster": {"worker": ["hostonly"]}, "task": {"type": "worker", "index": 0}}', "host"),
        ('{"cluster": {"worker": ["a:99999"]}, "task": {"type": "worker", "index": 0}}', "port"),
        ('{"cluster": {"worker": ["a:1", "a:1"]}, "task": {"type": "worker", "index": 0}}', "own"),
        (
            '{"cluster": {"worker": ["a:1"], "ps": ["b:1"]}, "task": {"type": "worker"}}',
            "ParameterServerStrategy",
        ),
        ('{"cluster": {"worker": ["a:1"]}}', "needs a 'task' object"),
        ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "ps", "index": 0}}', "task.type"),
        ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "chief", "index": 0}}', "no 'chief'"),
        (
            '{"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 2}}',
            "from 0 to 1",
        ),
        ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": "0"}}', "integer"),
        ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker"}}', "got None"),
    ],
)
def test_malformed_tf_config_is_refused_before_anything_starts(monkeypatch, tf_config, problem):
    if tf_config is None:
        monkeypatch.delenv("TF_CONFIG", raising=False)
    else:
        monkeypatch.setenv("TF_CONFIG", tf_config)
    with pytest.raises(ValueError) as error:
        make_strategy("multiworker")
    message = str(error.value)
    assert message.startswith("Malformed TF_CONFIG") and problem in message
    assert TF_CONFIG_EXAMPLE in message  # every error shows a correct one


def test_valid_tf_configs_are_accepted():
    assert read_tf_config(TF_CONFIG_EXAMPLE)["task"]["index"] == 0
    with_chief = {
        "cluster": {"chief": ["10.0.0.1:2222"], "worker": ["10.0.0.2:2222", "[::1]:2222"]},
        "task": {"type": "worker", "index": 1},
    }
    assert read_tf_config(json.dumps(with_chief)) == with_chief


def test_unknown_strategy_names_the_valid_ones(small_fashion):
    with pytest.raises(ValueError) as error:
        make_strategy("mirror")
    assert "Unknown strategy 'mirror'" in str(error.value)
    assert all(name in str(error.value) for name in STRATEGIES)
    with pytest.raises(ValueError, match="Unknown strategy 'horovod'"):
        fit("simple_cnn", small_fashion, get_recipe("protocol"), strategy="horovod")


def test_tpu_without_a_tpu_is_refused_before_any_connection(monkeypatch):
    monkeypatch.delenv("TPU_NAME", raising=False)
    monkeypatch.setattr(_strategy, "_local_tpu_present", lambda: False)
    # Refused from the configuration alone: looking for a TPU on the network is what
    # would hang until a time-out, so neither the resolver nor a connection is tried.
    tried = []
    resolver = tf.distribute.cluster_resolver
    monkeypatch.setattr(resolver, "TPUClusterResolver", lambda **kw: tried.append(kw))
    monkeypatch.setattr(tf.config, "experimental_connect_to_cluster", tried.append)
    with pytest.raises(ValueError, match=r"No TPU found: no tpu name was given, \$TPU_NAME"):
        make_strategy("tpu")
    assert tried == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "multiworker", "devices": ["/cpu:0"]}, "devices applies to"),
        ({"name": "mirrored", "tpu": "my-tpu"}, "only to the 'tpu' strategy"),
        ({"name": "mirrored", "devices": "/cpu:0"}, "non-empty list"),
        ({"name": "mirrored", "devices": ["cpu zero"]}, "not a device name"),
        ({"name": "mirrored", "devices": ["/cpu:0", "/cpu:0"]}, "twice"),
        ({"name": "mirrored", "devices": ["/gpu:7"]}, "No such device: /gpu:7"),
    ],
)
def test_bad_devices(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_strategy(**kwargs)


# --- the command line ------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--strategy", "tpu"], "No TPU found"),
        (["--strategy", "multiworker"], "Malformed TF_CONFIG: TF_CONFIG is not set"),
        (["--strategy", "multiworker", "--devices", "/cpu:0"], "devices applies to"),
        (["--tpu", "my-tpu"], "--tpu applies only to --strategy tpu"),
        (["--strategy", "mirrored", "--devices", "/gpu:9"], "No such device: /gpu:9"),
        (["--batch-size", "16", "--global-batch-size", "32"], "not both"),
    ],
)
def test_cli_errors_are_one_clear_line(capsys, monkeypatch, argv, message):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    monkeypatch.delenv("TPU_NAME", raising=False)
    monkeypatch.setattr(_strategy, "_local_tpu_present", lambda: False)
    code = main(["train", "simple_cnn", *argv])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("cnn-guide train: error: ") and message in err
    assert "Traceback" not in err and err.count("\n") == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--strategy", "mirror"], "invalid choice: 'mirror'"),
        (["--global-batch-size", "0"], "expected a positive integer"),
        (["--devices", "cpu0"], "expected device names"),
        (["--precision", "float16"], "invalid choice: 'float16'"),
    ],
)
def test_cli_parser_rejects_bad_values(capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "simple_cnn", *argv])
    assert exit_info.value.code == 2 and message in capsys.readouterr().err
