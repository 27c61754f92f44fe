"""A run stopped and restarted with the same backup directory is the run it resumes."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import pytest

from cnn_guide.recipes import get_recipe
from cnn_guide.training import fit


class _Stopped(Exception):
    pass


class _StopAt(keras.callbacks.Callback):
    """Ends the process' training at the start of an epoch, as a crash would."""

    def __init__(self, epoch: int) -> None:
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        if epoch == self.epoch:
            raise _Stopped(f"stopped at the start of epoch {epoch}")


class _Steps(keras.callbacks.Callback):
    """The optimizer's step count and learning rate as each step begins."""

    def __init__(self) -> None:
        super().__init__()
        self.iterations: list[int] = []
        self.rates: list[float] = []

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        self.iterations.append(int(self.model.optimizer.iterations))
        self.rates.append(float(self.model.optimizer.learning_rate))


# Dropout (simple_cnn), flips, shifts and a one-cycle schedule: every kind of
# state a resumed run must carry over. 96 images in batches of 32: 3 steps an epoch.
_RECIPE = get_recipe(
    "protocol", epochs=4, batch_size=32, schedule="one-cycle", flip=True, shift=2, seed=5
)


def test_a_resumed_run_is_the_run_it_resumes(small_fashion, tmp_path):
    tiny = small_fashion.subset(train=96, valid=32, test=32)
    backup = tmp_path / "backup"
    whole_steps = _Steps()
    whole = fit("simple_cnn", tiny, _RECIPE, callbacks=[whole_steps], verbose=0)

    with pytest.raises(_Stopped):
        fit("simple_cnn", tiny, _RECIPE, backup_dir=backup, callbacks=[_StopAt(2)], verbose=0)
    backed_up = json.loads((backup / "run.json").read_text())["clock"]
    time.sleep(1)  # down time, which the clock must not count
    steps = _Steps()
    started = time.perf_counter()
    resumed = fit("simple_cnn", tiny, _RECIPE, backup_dir=backup, callbacks=[steps], verbose=0)
    resumed_wall = time.perf_counter() - started

    assert resumed.resumed_after_epochs == resumed.figures()["resumed_after_epochs"] == [2]
    assert whole.resumed_after_epochs is None
    # It counts every epoch, and its figures cover them all.
    assert (resumed.epochs, resumed.images) == (whole.epochs, whole.images) == (4, 384)
    assert "after 4 epoch(s)" in resumed.describe()
    assert all(len(values) == 4 for values in resumed.history.values())
    # The optimizer's step count and the schedule go on from step 6, not from 0.
    assert steps.iterations == whole_steps.iterations[6:] == list(range(6, 12))
    assert steps.rates == whole_steps.rates[6:]
    # Same weights, optimizer state, data order, augmentations and dropout
    # masks as the run never stopped: the same numbers, up to rounding.
    for name in ("loss", "accuracy", "val_loss", "val_accuracy"):
        assert resumed.history[name] == pytest.approx(whole.history[name], rel=1e-5), name
    assert resumed.test_loss == pytest.approx(whole.test_loss, rel=1e-5)
    # The training clock goes on from the backup's, without the time in between.
    assert resumed.history["seconds"][:2] == backed_up["history"]["seconds"]
    assert backed_up["seconds"] < resumed.train_seconds <= backed_up["seconds"] + resumed_wall
    assert resumed.history["seconds"] == sorted(resumed.history["seconds"])
    assert not backup.exists()  # deleted once training completed


def test_a_backup_of_another_run_is_refused(small_fashion, tmp_path):
    tiny = small_fashion.subset(train=32, valid=32, test=32)
    three = get_recipe("protocol", epochs=3)
    with pytest.raises(_Stopped):
        fit("simple_cnn", tiny, three, backup_dir=tmp_path, callbacks=[_StopAt(1)], verbose=0)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["epoch-1.weights.h5", "run.json"]
    with pytest.raises(ValueError, match=r"is of another run \(it differs in epochs\)"):
        fit("simple_cnn", tiny, three.replace(epochs=4), backup_dir=tmp_path, verbose=0)


# --- a real process, stopped by a real signal -------------------------------------

_EPOCHS = 6
_STOP_AFTER = 2  # SIGTERM once the backup of this many epochs exists


def _train(backup: Path, saved: Path, *, stop: bool = False) -> str:
    """``cnn-guide train`` on the quick subset; with ``stop``, SIGTERM once backed up."""
    command = [sys.executable, "-m", "cnn_guide.cli", "train", "lenet5_fashion", "--quick"]
    command += ["--epochs", str(_EPOCHS), "--backup-dir", str(backup), "--save", str(saved)]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    if stop:
        _wait_for_backup(backup / "run.json", process)
        process.send_signal(signal.SIGTERM)
    output = process.communicate(timeout=600)[0]
    assert process.returncode == (-signal.SIGTERM if stop else 0), output
    return output


def _wait_for_backup(state: Path, process: subprocess.Popen) -> None:
    # Polled by count, not by time: the backup appears once the epochs are trained.
    while process.poll() is None:
        if state.is_file() and json.loads(state.read_text())["epochs"] >= _STOP_AFTER:
            return
        time.sleep(0.02)
    pytest.fail(f"training ended before a backup of {_STOP_AFTER} epochs was seen")


def _test_accuracy(output: str) -> float:
    found = re.search(rf"Test accuracy (\S+) on 512 test images after {_EPOCHS} epoch\(s\)", output)
    assert found, output
    return float(found[1])


@pytest.mark.slow
def test_a_run_stopped_by_sigterm_resumes_as_the_same_run(tmp_path):
    whole = _train(tmp_path / "whole-backup", tmp_path / "whole.keras")
    backup = tmp_path / "backup"
    _train(backup, tmp_path / "resumed.keras", stop=True)
    done = json.loads((backup / "run.json").read_text())["epochs"]
    assert _STOP_AFTER <= done < _EPOCHS
    resumed = _train(backup, tmp_path / "resumed.keras")

    assert f"Resuming the run backed up in {backup} after epoch {done}" in resumed
    assert f"Resumed after epoch(s) {done}: the figures cover all {_EPOCHS} epochs" in resumed
    # The schedule went on: the last steps' learning rate and the step count are
    # those of the run never stopped (a restarted one-cycle would end mid-cycle).
    optimizers = [
        keras.saving.load_model(tmp_path / name).optimizer
        for name in ("whole.keras", "resumed.keras")
    ]
    assert int(optimizers[1].iterations) == int(optimizers[0].iterations) == _EPOCHS * 5
    assert float(optimizers[1].learning_rate) == pytest.approx(
        float(optimizers[0].learning_rate), rel=1e-6
    )
    # The same run, with the same data order and state: the same accuracy, up
    # to floating-point rounding (one test image in 512; seeds differ by 1 to 3 points).
    assert _test_accuracy(resumed) == pytest.approx(_test_accuracy(whole), abs=1 / 512)
    assert not backup.exists()
