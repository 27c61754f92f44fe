"""The store of recorded runs: one JSON file per run, read without TensorFlow.

The book never types a measured number by hand. A run started with
``cnn-guide train ... --record`` (or ``cnn-guide bench --record``) is stored
as a `cnn_guide.runs.RunRecord` in a file of its own, named after the key its
`cnn_guide.runs.RunSpec` derives, under ``cnn_guide/records/`` (shipped inside
the package, so that a copied example script can read it too):

```
records/
  runs/MODEL/SLUG-HASH.json               one run: its spec, figures, machine, command
  runs/MODEL/SLUG-HASH.predictions.npy    its test predictions, one uint8 class each
  runs/MODEL/SLUG-HASH.weights.h5         a full run's trained weights (no optimizer state)
  comparisons/SLUG-HASH.json              one recipe-against-recipe comparison
```

Each file is written atomically (a temporary file in the same folder, then a
rename), so two recorders running at once never lose each other's runs and a
stopped recorder never leaves half a file. Nothing here imports TensorFlow:
the docs build reads the store in its own process.

A record made under an older definition of its recipe is *stale*
(`cnn_guide.runs.RunRecord.stale_fields`): it is still read and shown, with a
warning, and `missing` lists it for re-recording.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cnn_guide.recipes import STOP_FIELDS, Recipe, get_recipe, setting_fields
from cnn_guide.runs import RunRecord, RunSpec

__all__ = [
    "RECORDS_PATH",
    "RESULTS_ENV_VAR",
    "benchmark_rows",
    "estimate_minutes",
    "find",
    "find_all",
    "load_entries",
    "load_predictions",
    "load_results",
    "missing",
    "record",
    "record_entry",
    "results_path",
    "run_file",
    "timed_runs",
    "weights_file",
]

RECORDS_PATH = Path(__file__).with_name("records")
"""The book's store, inside the package."""

RESULTS_ENV_VAR = "CNN_GUIDE_RESULTS"
"""Environment variable naming another store folder (tests, private runs)."""

_UNSAFE = re.compile(r"[^A-Za-z0-9_.=]+")


def results_path() -> Path:
    """The store in use: the folder in ``$CNN_GUIDE_RESULTS``, or `RECORDS_PATH`."""
    return Path(os.environ.get(RESULTS_ENV_VAR) or RECORDS_PATH)


def _store(path: str | os.PathLike | None) -> Path:
    return Path(path) if path is not None else results_path()


def _file_name(key: str, drop: str = "") -> str:
    """A readable, unique file name for a key: its words, then a hash of the whole key."""
    words = _UNSAFE.sub("-", key.removeprefix(drop)).strip("-").lower()[:80] or "run"
    return f"{words}-{hashlib.sha1(key.encode()).hexdigest()[:8]}"


def run_file(spec: RunSpec, path: str | os.PathLike | None = None) -> Path:
    """The file that holds (or will hold) the record of ``spec``."""
    name = _file_name(spec.key, drop=spec.model)
    return _store(path) / "runs" / _UNSAFE.sub("-", spec.model) / f"{name}.json"


def _predictions_file(spec: RunSpec, path: str | os.PathLike | None) -> Path:
    return run_file(spec, path).with_suffix(".predictions.npy")


def weights_file(spec: RunSpec, path: str | os.PathLike | None = None) -> Path:
    """The file that holds (or will hold) the trained weights of ``spec``'s run."""
    return run_file(spec, path).with_suffix(".weights.h5")


# --- Reading and writing one file -----------------------------------------------------


def _read_json(file: Path) -> dict[str, Any]:
    """One stored object.

    Raises:
        ValueError: If the file is not a JSON object, naming it and the fix.
    """
    try:
        content = json.loads(file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(
            f"{file} is not valid JSON ({error}). Restore it with `git checkout -- {file}`, "
            "or delete it and record the run again."
        ) from error
    if not isinstance(content, dict):
        raise ValueError(
            f"{file} must hold one JSON object, got {type(content).__name__}. Restore it "
            f"with `git checkout -- {file}`, or delete it and record the run again."
        )
    return content


def _read_record(file: Path) -> RunRecord:
    try:
        return RunRecord.from_json(_read_json(file))
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(
            f"{file} is not a run record this version of cnn_guide can read: {error}. "
            f"Restore it with `git checkout -- {file}`, or delete it and record the run again."
        ) from error


def _write_atomically(file: Path, write: Any) -> None:
    """Write ``file`` through a temporary file in its folder: readers never see half of it."""
    file.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=file.parent, prefix=f".{file.name}.", suffix=".tmp")
    try:
        os.fchmod(handle, 0o644)  # mkstemp's 0600 would keep the store from other readers
        with os.fdopen(handle, "wb") as stream:
            write(stream)
        os.replace(temporary, file)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _save_weights_atomically(model: Any, file: Path) -> None:
    """The model's weights, without its optimizer's state, into ``file``, atomically.

    Keras' ``save_weights`` also writes a compiled model's optimizer slots
    (twice the weights again, under Adam). Weights only is what a reader
    loads, so they are saved from an uncompiled copy of the model.
    """
    weights_only = type(model).from_config(model.get_config())  # not compiled: no optimizer
    weights_only.set_weights(model.get_weights())
    file.parent.mkdir(parents=True, exist_ok=True)
    temporary = file.with_name(f".{os.getpid()}.{file.name}")  # still ends in .weights.h5
    try:
        weights_only.save_weights(temporary)
        os.replace(temporary, file)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _json_bytes(values: Mapping[str, Any]) -> bytes:
    return (json.dumps(values, indent=1, sort_keys=True) + "\n").encode("utf-8")


# --- Runs -------------------------------------------------------------------------------


def record(
    run: RunRecord,
    path: str | os.PathLike | None = None,
    *,
    predictions: np.ndarray | None = None,
    weights: Any = None,
) -> RunRecord:
    """Store one run in its own file, replacing an earlier run with the same key.

    The predictions and weights are written before the record, so a record
    never names files that a stopped recorder did not finish.

    Args:
        run: The run.
        path: The store (default `results_path`).
        predictions: The predicted class of each test image, in the test
            set's order, stored beside the record as ``uint8``.
        weights: A trained Keras model whose weights (only: no optimizer
            state) are kept beside the record (`weights_file`).

    Returns:
        The stored run.

    Raises:
        ValueError: For predictions that are not one class index per test image.
    """
    if predictions is not None:
        predictions = np.asarray(predictions)
        if predictions.shape != (run.test_size,) or predictions.min(initial=0) < 0:
            raise ValueError(
                f"predictions must be one class index per test image, shape ({run.test_size},); "
                f"got shape {predictions.shape}."
            )
        _write_atomically(
            _predictions_file(run.spec, path),
            lambda stream: np.save(stream, predictions.astype(np.uint8), allow_pickle=False),
        )
    if weights is not None:
        _save_weights_atomically(weights, weights_file(run.spec, path))
    _write_atomically(
        run_file(run.spec, path), lambda stream: stream.write(_json_bytes(run.to_json()))
    )
    return run


def _run_files(path: str | os.PathLike | None) -> Iterator[Path]:
    return iter(sorted((_store(path) / "runs").glob("*/*.json")))


def load_results(path: str | os.PathLike | None = None) -> dict[str, RunRecord]:
    """Every stored run, by key, stale ones included; empty when the store does not exist.

    Raises:
        ValueError: For a file that is not a run record, naming it.
    """
    records = (_read_record(file) for file in _run_files(path))
    return {run.key: run for run in records}


def find(spec: RunSpec, path: str | os.PathLike | None = None) -> RunRecord | None:
    """The stored run of ``spec`` (stale or not: see `RunRecord.stale_fields`), or ``None``."""
    file = run_file(spec, path)
    return _read_record(file) if file.exists() else None


def find_all(
    specs: Sequence[RunSpec], path: str | os.PathLike | None = None
) -> list[RunRecord | None]:
    """The stored run of each of ``specs`` (see `find`)."""
    return [find(spec, path) for spec in specs]


def missing(
    specs: Sequence[RunSpec],
    path: str | os.PathLike | None = None,
    *,
    with_predictions: bool = False,
    with_weights: bool = False,
) -> list[RunSpec]:
    """The runs of ``specs`` the store lacks, or holds under an older recipe (stale).

    Args:
        specs: The runs asked for.
        path: The store (default `results_path`).
        with_predictions: A run stored without its test predictions counts as missing.
        with_weights: A run stored without its trained weights counts as missing.
    """
    return [
        spec
        for spec, run in zip(specs, find_all(specs, path), strict=True)
        if run is None
        or run.stale_fields()
        or (with_predictions and not _predictions_file(spec, path).exists())
        or (with_weights and not weights_file(spec, path).exists())
    ]


def load_predictions(spec: RunSpec, path: str | os.PathLike | None = None) -> np.ndarray | None:
    """The stored test predictions of ``spec``'s run, or ``None`` where none were kept."""
    file = _predictions_file(spec, path)
    return np.load(file, allow_pickle=False) if file.exists() else None


# --- Other entries (comparisons) ---------------------------------------------------------


def record_entry(
    kind: str, key: str, values: Mapping[str, Any], path: str | os.PathLike | None = None
) -> None:
    """Store one entry of another kind (e.g. ``"comparisons"``) in its own file, by key."""
    file = _store(path) / kind / f"{_file_name(key)}.json"
    _write_atomically(file, lambda stream: stream.write(_json_bytes({"key": key, **values})))


def remove_entry(kind: str, key: str, path: str | os.PathLike | None = None) -> None:
    """Delete one stored entry of another kind, by key (nothing when there is none)."""
    (_store(path) / kind / f"{_file_name(key)}.json").unlink(missing_ok=True)


def load_entries(kind: str, path: str | os.PathLike | None = None) -> dict[str, dict[str, Any]]:
    """Every stored entry of one kind, by key (none when there are none).

    Raises:
        ValueError: For a file that is not a JSON object with a key, naming it.
    """
    entries = {}
    for file in sorted((_store(path) / kind).glob("*.json")):
        values = _read_json(file)
        if not isinstance(values.get("key"), str):
            raise ValueError(
                f"{file} lacks its 'key'. Restore it with `git checkout -- {file}`, or "
                "delete it and record it again."
            )
        entries[values.pop("key")] = values
    return entries


# --- Queries -----------------------------------------------------------------------------


def timed_runs(
    recipe: str,
    *,
    minutes: float | None = None,
    model: str | None = None,
    path: str | os.PathLike | None = None,
) -> list[RunRecord]:
    """Recorded time-budgeted runs of a recipe (never quick ones), in file order.

    Args:
        recipe: Recipe name (``"benchmark"``, ``"fast"``, ``"seed"``, ...).
        minutes: Only runs with this time budget (default: the recipe's own).
        model: Only this model's runs.
        path: The store (default `results_path`).
    """
    minutes = minutes if minutes is not None else get_recipe(recipe).minutes
    return [
        run
        for run in load_results(path).values()
        if run.spec.recipe == recipe
        and not run.spec.quick
        and run.settings.get("minutes") is not None
        and run.test_accuracy is not None
        and (model is None or run.model == model)
        and run.settings["minutes"] == minutes
    ]


def benchmark_rows(
    recipe: str = "benchmark",
    *,
    minutes: float | None = None,
    model: str | None = None,
    path: str | os.PathLike | None = None,
) -> list[RunRecord]:
    """`timed_runs` in the book's model order (this imports the models, and TensorFlow)."""
    from cnn_guide import models  # TensorFlow: only for callers that show model order

    order = {name: index for index, name in enumerate(models.list_models())}
    rows = timed_runs(recipe, minutes=minutes, model=model, path=path)
    return sorted(rows, key=lambda run: order.get(run.model, len(order)))


def estimate_minutes(
    spec: RunSpec, path: str | os.PathLike | None = None
) -> tuple[float, RunRecord | None] | None:
    """Minutes of training a run will take, from a recorded speed of its network.

    The speed is that of the recorded run trained most like ``spec``: the same
    recipe settings if there is one, else the same batch and precision, else
    the newest. It was measured on the machine that recorded it.

    Returns:
        The minutes and the run whose speed they come from (``None`` for a
        run stopped by minutes: they are its own), or ``None`` when no run of
        the same model with the same builder options on all the training
        images is recorded.
    """
    recipe = spec.resolve()
    if recipe.minutes is not None:
        return recipe.minutes, None
    # Builder options (a width, a depth) change the speed: only the same network counts.
    speeds = [
        other
        for other in load_results(path).values()
        if other.model == spec.model
        and other.spec.options == spec.options
        and not other.spec.quick
        and other.train_size == 55_000
    ]
    if not speeds:
        return None
    likest = max(
        speeds,
        key=lambda other: (
            other.settings == {**other.settings, **_settings_but_stop(recipe)},
            other.settings.get("batch_size") == recipe.batch_size
            and other.settings.get("precision") == recipe.precision,
            other.date,
        ),
    )
    global_batch = recipe.batch_size * likest.replicas
    images = recipe.max_steps(_train_size(spec, likest.train_size), global_batch) * global_batch
    return images / likest.train_images_per_second / 60, likest


def _train_size(spec: RunSpec, all_classes: int) -> int:
    """The training images a run learns from: its classes' share, or its labels per class."""
    task = dict(spec.task)
    classes = len(task.get("classes") or range(10))
    if task.get("labels_per_class") is not None:
        return classes * task["labels_per_class"]
    return all_classes * classes // 10


def _settings_but_stop(recipe: Recipe) -> dict[str, Any]:
    return {
        name: getattr(recipe, name)
        for name in setting_fields()
        if name not in (*STOP_FIELDS, "eval_every")
    }
