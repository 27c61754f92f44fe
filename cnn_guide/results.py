"""Measured results: training runs recorded with the machine and command that made them.

The book never types a measured number by hand. A run started with
``cnn-guide train NAME --record`` stores its figures in ``results.json``
(shipped inside the package, so a copied example script can read it too), and
pages print them from there together with the command that produced them.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "RESULTS_PATH",
    "benchmark_rows",
    "describe_machine",
    "describe_run",
    "format_benchmark_table",
    "full_run_report",
    "load_results",
    "machine_info",
    "record",
    "results_path",
    "runs_for",
]

RESULTS_PATH = Path(__file__).with_name("results.json")
"""The results file, inside the package."""

RESULTS_ENV_VAR = "CNN_GUIDE_RESULTS"
"""Environment variable naming another results file (tests, private runs)."""


def results_path() -> Path:
    """The results file in use: ``$CNN_GUIDE_RESULTS`` or `RESULTS_PATH`."""
    return Path(os.environ.get(RESULTS_ENV_VAR) or RESULTS_PATH)


def load_results(path: str | os.PathLike | None = None) -> dict[str, dict[str, Any]]:
    """All recorded runs, by key; an empty dict when the file does not exist.

    Raises:
        ValueError: If the file exists but is not a JSON object of runs.
    """
    path = Path(path) if path is not None else results_path()
    if not path.exists():
        return {}
    try:
        runs = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON ({error}); restore it with git.") from error
    if not isinstance(runs, dict):
        raise ValueError(
            f"{path} must hold a JSON object of runs by key, got {type(runs).__name__}."
        )
    return runs


def record(
    key: str, run: Mapping[str, Any], path: str | os.PathLike | None = None
) -> dict[str, Any]:
    """Store one run under ``key``, replacing an earlier run with that key.

    The date, the git commit and `machine_info` are added. The file is
    rewritten atomically, so an interrupted write never leaves it half done.

    Returns:
        The stored run.
    """
    path = Path(path) if path is not None else results_path()
    runs = load_results(path)
    stored = {
        **run,
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "commit": _git_commit(),
        "machine": machine_info(),
    }
    runs[key] = stored
    temporary = path.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(runs, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(temporary, path)
    return stored


def runs_for(model: str, path: str | os.PathLike | None = None) -> list[dict[str, Any]]:
    """Recorded runs of one model, newest first."""
    runs = [run for run in load_results(path).values() if run.get("model") == model]
    return sorted(runs, key=lambda run: run.get("date", ""), reverse=True)


def describe_run(run: Mapping[str, Any]) -> str:
    """A sentence stating a recorded run's result, machine and command."""
    machine = run.get("machine", {})
    hardware = (
        machine.get("gpu")
        or f"{machine.get('cpu', 'unknown CPU')}, {machine.get('cores', '?')} cores"
    )
    return (
        f"{run['model']}: test accuracy {run['test_accuracy']:.4f} after {run['epochs']} epoch(s) "
        f"on {run['train_size']:,} training images, "
        f"{run['train_seconds'] / 60:.1f} min of training "
        f"({run['seconds_per_epoch']:.0f} s per epoch) on {hardware}; "
        f"recorded {run.get('date', '?')[:10]} by `{run['command']}`."
    )


def full_run_report(
    model: str,
    *,
    epochs: int,
    batch_size: int,
    optimizer: str,
    path: str | os.PathLike | None = None,
) -> str:
    """What an example's full budget gave when it was last run, and how to run it.

    Looks for a recorded run of ``model`` on all 55,000 training images with
    the given epochs, batch size and optimizer (the example's full budget). If
    there is none, says so, names the command that records one and estimates
    its training time from the model's recorded training speed.

    Args:
        model: Registered model name.
        epochs: Epochs of the full budget.
        batch_size: Images per step of the full budget.
        optimizer: Keras optimizer name of the full budget.
        path: Results file (default `results_path`).

    Returns:
        A paragraph for the end of an example.
    """
    command = (
        f"cnn-guide train {model} --epochs {epochs} --batch-size {batch_size} "
        f"--optimizer {optimizer} --record"
    )
    runs = runs_for(model, path)
    for run in runs:
        if (
            run.get("train_size") == 55_000
            and run.get("epochs") == epochs
            and run.get("batch_size") == batch_size
            and run.get("optimizer") == optimizer
            and not run.get("quick")
        ):
            return "Full run: " + describe_run(run)
    report = f"No full run recorded yet: `{command}` records one."
    speeds = [run for run in runs if run.get("train_images_per_second")]
    if speeds:
        speed = speeds[0]
        minutes = epochs * 55_000 / speed["train_images_per_second"] / 60
        machine = speed.get("machine", {})
        hardware = machine.get("gpu") or (
            f"{machine.get('cpu', 'an unknown CPU')}, {machine.get('cores', '?')} cores"
        )
        report += (
            f" At the {speed['train_images_per_second']:,.0f} training images/s measured "
            f"on {hardware} (`{speed['command']}`), its {epochs} epochs take about "
            f"{minutes:,.0f} min of training."
        )
    return report


def benchmark_rows(
    recipe: str = "protocol",
    *,
    budget_minutes: float | None = 3,
    model: str | None = None,
    path: str | os.PathLike | None = None,
) -> list[dict[str, Any]]:
    """Recorded benchmark runs (never the quick smoke runs), in the book's model order.

    Args:
        recipe: Recipe name (``"protocol"``, ``"fast"``, ``"seed"``, ...).
        budget_minutes: Only runs with this time budget; ``None`` for any.
        model: Only this model's runs.
        path: Results file (default `results_path`).
    """
    from cnn_guide import models

    order = {name: index for index, name in enumerate(models.list_models())}
    rows = [
        run
        for key, run in load_results(path).items()
        if key.startswith("bench:")
        and run.get("recipe") == recipe
        and not run.get("quick")
        and (model is None or run.get("model") == model)
        and (budget_minutes is None or (run.get("budget_seconds") or 0) == budget_minutes * 60)
    ]
    return sorted(
        rows, key=lambda run: (order.get(run["model"], len(order)), run["budget_seconds"] or 0)
    )


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} s"


def _memory(run: Mapping[str, Any]) -> str:
    return "-" if run.get("peak_memory_mb") is None else f"{run['peak_memory_mb']:,.0f}"


def _reached(target: str) -> tuple[str, int, Any]:
    return (f"to {target}", 7, lambda r: _seconds(r["seconds_to"].get(target)))


_MODEL_COLUMNS = (
    # heading, width in a text table, how to show a row's value
    ("model", 22, lambda r: r["model"]),
    ("params", 10, lambda r: f"{r['parameters']:,}"),
    ("MACs", 12, lambda r: f"{r['macs']:,}"),
    ("train img/s", 12, lambda r: f"{r['train_images_per_second']:,.0f}"),
    ("infer img/s", 12, lambda r: f"{r['inference_images_per_second']:,.0f}"),
    ("s/epoch", 8, lambda r: f"{r['seconds_per_epoch']:,.0f}"),
    ("epochs", 7, lambda r: f"{r['epochs']:.1f}"),
    *(_reached(target) for target in ("90%", "91%", "92%", "93%")),
    ("test acc", 9, lambda r: f"{r['test_accuracy']:.4f}"),
    ("peak MiB", 9, _memory),
)

_RECIPE_COLUMNS = (
    ("recipe", 18, lambda r: r["recipe"]),
    ("model", 20, lambda r: r["model"]),
    ("budget", 7, lambda r: f"{r['budget_seconds'] / 60:g} min"),
    ("epochs", 7, lambda r: f"{r['epochs']:.1f}"),
    *(_reached(target) for target in ("90%", "91%", "92%", "93%", "94%", "95%")),
    ("valid acc", 10, lambda r: f"{r['valid_accuracy']:.4f}"),
    ("test acc", 9, lambda r: f"{r['test_accuracy']:.4f}"),
)


def format_benchmark_table(
    rows: list[Mapping[str, Any]], *, markdown: bool = False, by: str = "model"
) -> str:
    """Benchmark rows as an aligned text table, or a Markdown table.

    "to 90%" is the training time until a checkpoint first measured at least
    90% test accuracy ("-": not reached within the budget).

    Args:
        rows: Benchmark rows (`benchmark_rows`).
        markdown: A Markdown table instead of aligned text.
        by: ``"model"`` for the architecture columns (parameters, MACs,
            speeds, memory), ``"recipe"`` for the recipe columns (budget,
            times to 90-95%, validation and test accuracy).
    """
    columns = {"model": _MODEL_COLUMNS, "recipe": _RECIPE_COLUMNS}[by]
    headings = [heading for heading, _, _ in columns]
    cells = [[show(row) for _, _, show in columns] for row in rows]
    if markdown:
        lines = ["| " + " | ".join(headings) + " |", "|---" + "|---:" * (len(headings) - 1) + "|"]
        lines += ["| " + " | ".join(row) + " |" for row in cells]
        return "\n".join(lines)
    widths = [width for _, width, _ in columns]
    lines = [
        "".join(
            f"{cell:<{width}}" if index == 0 else f"{cell:>{width}}"
            for index, (cell, width) in enumerate(zip(line, widths, strict=True))
        )
        for line in [headings, *cells]
    ]
    return "\n".join(lines)


def describe_machine(run: Mapping[str, Any]) -> str:
    """Where a run was measured: GPU, or CPU model and cores, and TensorFlow version."""
    machine = run.get("machine", {})
    hardware = machine.get("gpu") or (
        f"{machine.get('cpu', 'an unknown CPU')}, {machine.get('cores', '?')} cores"
    )
    return f"{hardware}, TensorFlow {machine.get('tensorflow', '?')}"


def machine_info() -> dict[str, Any]:
    """The hardware and software a measurement ran on."""
    import keras
    import numpy
    import tensorflow as tf

    gpus = [
        tf.config.experimental.get_device_details(device).get("device_name", device.name)
        for device in tf.config.list_physical_devices("GPU")
    ]
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "gpu": ", ".join(gpus) or None,
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": numpy.__version__,
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).parent,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None
