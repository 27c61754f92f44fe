"""The results file: every recorded run, and how pages show them.

The book never types a measured number by hand. A run started with
``cnn-guide train ... --record`` (or ``cnn-guide bench --record``) is stored
as a `cnn_guide.runs.RunRecord` in ``results.json`` (shipped inside the
package, so a copied example script can read it too), under the key its
`cnn_guide.runs.RunSpec` derives. Pages print records from here together with
the command that made them; the book's build calls `render_marker` for the
``<!-- ... -->`` markers in chapters.

The file holds ``{"version": 2, "runs": {key: row}}``. Version 1 (a plain
object of rows by older keys) is migrated when read: `migrate_v1`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cnn_guide.runs import RunRecord, RunSpec

if TYPE_CHECKING:
    from cnn_guide.recipes import Recipe

__all__ = [
    "CHANCE_LINE",
    "RESULTS_PATH",
    "VERSION",
    "benchmark_rows",
    "estimate_minutes",
    "find",
    "find_all",
    "format_table",
    "full_run_report",
    "load_results",
    "migrate_v1",
    "read_section",
    "record",
    "render_marker",
    "results_path",
    "timed_runs",
    "write_section",
]

RESULTS_PATH = Path(__file__).with_name("results.json")
"""The results file, inside the package."""

RESULTS_ENV_VAR = "CNN_GUIDE_RESULTS"
"""Environment variable naming another results file (tests, private runs)."""

VERSION = 2
"""The results file's current format."""


def results_path() -> Path:
    """The results file in use: ``$CNN_GUIDE_RESULTS`` or `RESULTS_PATH`."""
    return Path(os.environ.get(RESULTS_ENV_VAR) or RESULTS_PATH)


def _read(path: Path) -> dict[str, Any]:
    """The results file's JSON object; an empty one when the file does not exist.

    Raises:
        ValueError: If the file exists but is not a JSON object.
    """
    if not path.exists():
        return {}
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not valid JSON ({error}); restore it with git.") from error
    if not isinstance(content, dict):
        raise ValueError(
            f"{path} must hold a JSON object with 'version' and 'runs', "
            f"got {type(content).__name__}; restore it with git."
        )
    return content


def _write(content: Mapping[str, Any], path: Path) -> None:
    """Write the results file atomically (never a half-written file)."""
    temporary = path.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(content, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(temporary, path)


def load_results(path: str | os.PathLike | None = None) -> dict[str, RunRecord]:
    """All recorded runs, by key; an empty dict when the file does not exist.

    Raises:
        ValueError: If the file exists but is not a results file this
            version of the book can read.
    """
    path = Path(path) if path is not None else results_path()
    content = _read(path)
    if not content:
        return {}
    version = content.get("version", 1)
    if version == 1:
        rows = migrate_v1(content)
    elif version == VERSION and isinstance(content.get("runs"), dict):
        rows = [RunRecord.from_json(row) for row in content["runs"].values()]
    else:
        raise ValueError(
            f"{path} has results format {version!r}; this version of cnn_guide reads "
            f"formats 1 and {VERSION}. Update cnn_guide, or restore the file with git."
        )
    return {row.key: row for row in rows}


def save_results(runs: Iterable[RunRecord], path: str | os.PathLike | None = None) -> None:
    """Write runs in the current format, keeping the file's other sections."""
    path = Path(path) if path is not None else results_path()
    existing = _read(path)
    content = existing if existing.get("version") == VERSION else {}  # version 1 is migrated
    content.update(
        version=VERSION,
        runs={row.key: row.to_json() for row in sorted(runs, key=lambda row: row.key)},
    )
    _write(content, path)


def read_section(name: str, path: str | os.PathLike | None = None) -> dict[str, Any]:
    """A section of the results file other than its runs (e.g. ``"comparisons"``)."""
    return dict(_read(Path(path) if path is not None else results_path()).get(name, {}))


def write_section(
    name: str, values: Mapping[str, Any], path: str | os.PathLike | None = None
) -> None:
    """Replace one section of the results file, keeping its runs and other sections."""
    path = Path(path) if path is not None else results_path()
    content = _read(path)
    if content.get("version", 1) != VERSION:  # a missing or version 1 file: migrate it first
        save_results(load_results(path).values(), path)
        content = _read(path)
    content[name] = dict(values)
    _write(content, path)


def record(run: RunRecord, path: str | os.PathLike | None = None) -> RunRecord:
    """Store one run under its key, replacing an earlier run with that key.

    Returns:
        The stored run.
    """
    runs = load_results(path)
    runs[run.key] = run
    save_results(runs.values(), path)
    return run


def find(spec: RunSpec, path: str | os.PathLike | None = None) -> RunRecord | None:
    """The recorded run of ``spec``, or ``None`` (also when its recipe has changed since).

    See `RunRecord.is_current`.
    """
    return find_all([spec], path)[0]


def find_all(
    specs: Sequence[RunSpec], path: str | os.PathLike | None = None
) -> list[RunRecord | None]:
    """The recorded run of each of ``specs`` (see `find`), reading the file once."""
    recorded = load_results(path)
    runs = [recorded.get(spec.key) for spec in specs]
    return [run if run is not None and run.is_current() else None for run in runs]


def benchmark_rows(
    recipe: str = "benchmark",
    *,
    minutes: float | None = None,
    model: str | None = None,
    path: str | os.PathLike | None = None,
) -> list[RunRecord]:
    """Recorded time-budgeted runs (never quick ones), in the book's model order.

    Args:
        recipe: Recipe name (``"benchmark"``, ``"fast"``, ``"seed"``, ...).
        minutes: Only runs with this time budget (default: the recipe's own).
        model: Only this model's runs.
        path: Results file (default `results_path`).
    """
    from cnn_guide import models

    order = {name: index for index, name in enumerate(models.list_models())}
    rows = timed_runs(recipe, minutes=minutes, model=model, path=path)
    return sorted(rows, key=lambda run: order.get(run.model, len(order)))


def timed_runs(
    recipe: str,
    *,
    minutes: float | None = None,
    model: str | None = None,
    path: str | os.PathLike | None = None,
) -> list[RunRecord]:
    """`benchmark_rows` in file order, without importing the models (and TensorFlow).

    What the docs build reads in MkDocs' own process, which must stay free of
    TensorFlow's start-up logs.
    """
    from cnn_guide.recipes import get_recipe

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


def full_run_report(spec: RunSpec, path: str | os.PathLike | None = None) -> str:
    """What a full run gave when it was recorded, or the command that records it.

    Args:
        spec: The full run an example stands for (`cnn_guide.budget.Plan.full_run`).
        path: Results file (default `results_path`).

    Returns:
        A paragraph for the end of an example.
    """
    run = find(spec, path)
    if run is not None:
        from cnn_guide.evidence import full_run_target

        return (
            f"Full run: test accuracy {run.test_accuracy:.4f} (validation "
            f"{run.valid_accuracy:.4f}) after {run.epochs:g} epoch(s) on {run.train_size:,} "
            f"training images, {run.train_seconds / 60:.1f} min of training "
            f"({run.seconds_per_epoch:.0f} s per epoch) on {run.describe_machine()}; recorded "
            f"{run.date[:10]} by `{run.command}`.\n"
            + full_run_target(run.model).verdict(run.test_accuracy)
        )
    report = f"No full run recorded yet: `{spec.command}` records one."
    estimate = estimate_minutes(spec, path)
    if estimate is not None:
        minutes, speed = estimate
        report += (
            f" At the {speed.train_images_per_second:,.0f} training images/s measured on "
            f"{speed.hardware} (`{speed.command}`), its {spec.resolve().stop_rule} take "
            f"about {minutes:,.0f} min of training."
        )
    return report


def estimate_minutes(
    spec: RunSpec, path: str | os.PathLike | None = None
) -> tuple[float, RunRecord | None] | None:
    """Minutes of training a run will take, from a recorded speed of its model.

    The speed is that of the recorded run trained most like ``spec``: the same
    recipe settings if there is one, else the same batch and precision, else
    the newest. It was measured on the machine that recorded it.

    Returns:
        The minutes and the run whose speed they come from (``None`` for a
        run stopped by minutes: they are its own), or ``None`` when no run of
        the model on all the training images is recorded.
    """
    recipe = spec.resolve()
    if recipe.minutes is not None:
        return recipe.minutes, None
    speeds = [
        other
        for other in load_results(path).values()
        if other.model == spec.model and not other.spec.quick and other.train_size == 55_000
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
    images = recipe.max_steps(likest.train_size, global_batch) * global_batch
    return images / likest.train_images_per_second / 60, likest


# --- Tables -----------------------------------------------------------------------------


def _settings_but_stop(recipe: Recipe) -> dict[str, Any]:
    from cnn_guide.recipes import STOP_FIELDS, setting_fields

    return {
        name: getattr(recipe, name)
        for name in setting_fields()
        if name not in (*STOP_FIELDS, "eval_every")
    }


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} s"


def _reached(target: str) -> tuple[str, int, Any]:
    return (f"to {target}", 7, lambda r: _seconds(r.reached.get(target)))


_MODEL_COLUMNS = (
    # heading, width in a text table, how to show a row's value
    ("model", 22, lambda r: r.model),
    ("params", 10, lambda r: f"{r.parameters:,}"),
    ("MACs", 12, lambda r: f"{r.macs:,}"),
    ("train img/s", 12, lambda r: f"{r.train_images_per_second:,.0f}"),
    ("infer img/s", 12, lambda r: f"{r.inference_images_per_second:,.0f}"),
    ("s/epoch", 8, lambda r: f"{r.seconds_per_epoch:,.0f}"),
    ("epochs", 7, lambda r: f"{r.epochs:.1f}"),
    *(_reached(target) for target in ("90%", "91%", "92%", "93%")),
    ("test acc", 9, lambda r: f"{r.test_accuracy:.4f}"),
    ("peak MiB", 9, lambda r: "-" if r.peak_memory_mb is None else f"{r.peak_memory_mb:,.0f}"),
)

_RECIPE_COLUMNS = (
    ("recipe", 18, lambda r: r.spec.recipe),
    ("model", 20, lambda r: r.model),
    ("budget", 7, lambda r: f"{r.settings['minutes']:g} min"),
    ("epochs", 7, lambda r: f"{r.epochs:.1f}"),
    *(_reached(target) for target in ("90%", "91%", "92%", "93%", "94%", "95%")),
    ("valid acc", 10, lambda r: f"{r.valid_accuracy:.4f}"),
    ("test acc", 9, lambda r: f"{r.test_accuracy:.4f}"),
)


def format_table(rows: list[RunRecord], *, markdown: bool = False, by: str = "model") -> str:
    """Recorded runs as an aligned text table, or a Markdown table.

    "to 90%" is the training time until a checkpoint first measured at least
    90% test accuracy ("-": not reached).

    Args:
        rows: Recorded runs (`benchmark_rows`).
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
    return "\n".join(
        "".join(
            f"{cell:<{width}}" if index == 0 else f"{cell:>{width}}"
            for index, (cell, width) in enumerate(zip(line, widths, strict=True))
        )
        for line in [headings, *cells]
    )


# --- Markers in chapters (read in MkDocs' own process: no TensorFlow) --------------


def render_marker(
    marker: str,
    *,
    chapters: Mapping[str, str] | None = None,
    path: str | os.PathLike | None = None,
) -> str:
    """The Markdown a chapter marker stands for, read from the results file.

    Markers (one per line in a chapter, as HTML comments):

    * ``benchmark: MODEL``: that model's benchmark row, machine, date and command;
    * ``benchmark-table``: every model's benchmark row, best test accuracy first;
    * ``full-run: MODEL``: that model's recorded full run (the run its
      example stands for), held to its target;
    * ``full-runs-table``: every example's full run, best test accuracy first;
    * ``experiment: NAME``: a teaching experiment's table and curves
      (`cnn_guide.experiments`);
    * ``paper-findings``: every paper result the experiments test, and
      whether the runs agree (`cnn_guide.experiments.render_findings`);
    * ``fast-goals``: the fast recipe's goals, as fractions of the seed
      recipe's time T, each checked on every machine kind that recorded a
      comparison (`cnn_guide.comparison.render_goals`);
    * ``fast-against-seed``: those comparisons in full: T, the times to each
      accuracy as fractions of T, and the runs
      (`cnn_guide.comparison.render_comparisons`).

    Args:
        marker: The comment's text, e.g. ``"benchmark: vgg_fashion"``.
        chapters: Each model's chapter file name (and each experiment's, by
            its name), to link the tables' rows.
        path: Results file (default `results_path`).

    Raises:
        ValueError: For an unknown marker.
    """
    name, _, argument = (part.strip() for part in marker.partition(":"))
    if name == "benchmark" and argument:
        return _benchmark_row(argument, path)
    if name == "benchmark-table":
        return _benchmark_table(chapters or {}, path)
    if name == "full-run" and argument:
        return _full_run(argument, path)
    if name == "full-runs-table":
        return _full_runs_table(chapters or {}, path)
    if name == "fast-goals":
        from cnn_guide.comparison import render_goals

        return render_goals(path)
    if name == "fast-against-seed":
        from cnn_guide.comparison import render_comparisons

        return render_comparisons(path)
    if name == "experiment" and argument:
        from cnn_guide.experiments import render_experiment

        return render_experiment(argument, path)
    if name == "paper-findings":
        from cnn_guide.experiments import render_findings

        return render_findings(chapters, path)
    raise ValueError(
        f"unknown results marker {marker!r}; use 'benchmark: MODEL', 'benchmark-table', "
        "'full-run: MODEL', 'full-runs-table', 'experiment: NAME', 'paper-findings', "
        "'fast-goals' or 'fast-against-seed'."
    )


def _full_run_spec(model: str) -> RunSpec:
    from cnn_guide.evidence import plan

    spec = next((spec for spec in plan("full") if spec.model == model), None)
    if spec is None:
        raise ValueError(f"no example states a full run of {model!r}.")
    return spec


def _full_run(model: str, path: str | os.PathLike | None) -> str:
    spec = _full_run_spec(model)
    run = find(spec, path)
    if run is None:
        return full_run_report(spec, path)
    from cnn_guide.plotting import embedded_png, plot_recorded_run

    alt = f"Accuracy and loss by epoch of {model}'s recorded full run"
    return full_run_report(spec, path) + "\n\n" + embedded_png(plot_recorded_run(run), alt) + "\n"


def _full_runs_table(chapters: Mapping[str, str], path: str | os.PathLike | None) -> str:
    from cnn_guide.evidence import full_run_target, plan

    specs = plan("full")
    found = find_all(specs, path)
    runs = [run for run in found if run is not None]
    runs.sort(key=lambda run: -run.test_accuracy)
    lines = [
        "| network | parameters | epochs | test accuracy | validation | s per epoch | target |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for run in runs:
        target = full_run_target(run.model)
        margin = 100 * (run.test_accuracy - target.accuracy)
        name = f"[{run.model}]({chapters[run.model]})" if run.model in chapters else run.model
        lines.append(
            f"| {name} | {run.parameters:,} | {run.epochs:g} | {run.test_accuracy:.4f} | "
            f"{run.valid_accuracy:.4f} | {run.seconds_per_epoch:.0f} | {target.accuracy:.2%}: "
            f"{'met' if margin >= 0 else 'missed'} by {abs(margin):.2f} points |"
        )
    missing = [spec for spec, run in zip(specs, found, strict=True) if run is None]
    machines = "; ".join(sorted({run.describe_machine() for run in runs})) or "-"
    text = (
        "\n".join(lines) + f"\n\nMeasured on {machines}; each row by its own command, "
        "`cnn-guide record --plan full` for all of them."
    )
    if missing:
        text += " Not recorded yet: " + ", ".join(f"`{spec.command}`" for spec in missing) + "."
    return text


def _benchmark_row(model: str, path: str | os.PathLike | None) -> str:
    rows = timed_runs("benchmark", model=model, path=path)
    if not rows:
        spec = RunSpec.of(model, "benchmark")
        return f"*Not in the [benchmark](results.md) yet: `{spec.command}` measures it.*"
    run = max(rows, key=lambda row: row.date)
    text = (
        f"In the book's [benchmark](results.md), the same {run.settings['minutes']:g} minutes of "
        f"training for every architecture on all {run.train_size:,} training images "
        f"({_recipe_words(run)}; "
        '"to 90%": training time until the test accuracy first reached 90%):\n\n'
        + format_table([run], markdown=True)
        + f"\n\nMeasured on {run.describe_machine()}, {run.date[:10]}, by `{run.command}`."
    )
    if run.test_accuracy < CHANCE_LINE:
        text += (
            f" **This row is at chance** (test accuracy {run.test_accuracy:.4f}; ten classes "
            "give 0.1000 by guessing). "
            + (
                "It was evaluated with the batch-norm moving statistics as training left "
                "them, which after a few minutes can lag far behind the weights; the full "
                "runs settle them first (`--settle-batch-norm`, part of the book recipe)."
                if not run.settings.get("settle_batch_norm")
                else "It was evaluated with settled batch-norm statistics."
            )
        )
    return text


CHANCE_LINE = 0.2
"""Below this test accuracy a ten-class run has learned next to nothing."""


def _recipe_words(run: RunRecord) -> str:
    """The recipe a run trained under, in a few words, from its own recorded settings."""
    settings = run.settings
    words = f"{settings['optimizer'].replace('adamw', 'AdamW').replace('adam', 'Adam')}"
    words += f", batch {settings['batch_size']}"
    if settings.get("schedule") == "one-cycle":
        words += ", one-cycle"
    if settings.get("settle_batch_norm"):
        words += ", settled batch-norm statistics"
    return words


def _benchmark_table(chapters: Mapping[str, str], path: str | os.PathLike | None) -> str:
    newest: dict[str, RunRecord] = {}
    for run in timed_runs("benchmark", path=path):
        if run.date >= newest.get(run.model, run).date:
            newest[run.model] = run
    runs = sorted(newest.values(), key=lambda run: -run.test_accuracy)
    if not runs:
        return "*No benchmark recorded yet: `cnn-guide bench --record` measures every variant.*"
    machines = "; ".join(sorted({run.describe_machine() for run in runs}))
    dates = sorted(run.date[:10] for run in runs)
    when = dates[0] if dates[0] == dates[-1] else f"{dates[0]} to {dates[-1]}"
    lines = format_table(runs, markdown=True).splitlines()
    for index, run in enumerate(runs, start=2):  # link each model to its chapter
        if run.model in chapters:
            link = f"[{run.model}]({chapters[run.model]})"
            lines[index] = lines[index].replace(f"| {run.model} |", f"| {link} |", 1)
    return (
        "\n".join(lines) + f"\n\nMeasured on {machines}, {when}, by "
        "`cnn-guide bench --record` (each row's own command is in the "
        "results file and on the example page)."
    )


# --- Version 1 ----------------------------------------------------------------------------


def migrate_v1(rows: Mapping[str, Mapping[str, Any]]) -> list[RunRecord]:
    """Rows of the unversioned results file (version 1), as records.

    Version 1 had three schemas, told apart by key: ``bench:RECIPE:MODEL:NMIN``
    (a time-budgeted run), ``throughput:MODEL:bN`` (speed only: its accuracy
    fields are ``None``) and ``train:...`` (an epoch-based run). Every
    measured figure is kept; each row's old key is kept in ``migrated_from``.
    """
    return [_migrate_row(key, row) for key, row in rows.items() if key != "version"]


def _migrate_row(key: str, row: Mapping[str, Any]) -> RunRecord:
    kind = key.split(":", 1)[0]
    quick = bool(row.get("quick")) or key.endswith(":quick")
    provenance = {
        "date": row.get("date", ""),
        "commit": row.get("commit"),
        "machine": dict(row.get("machine", {})),
        "migrated_from": key,
    }
    if kind == "bench":
        stop = {"minutes": row["budget_seconds"] / 60}
        if ":e" in key.rsplit("min", 1)[-1]:
            stop["epochs"] = float(key.rsplit(":e", 1)[1].split(":")[0])
        if row["recipe"] == "protocol":  # the benchmark's recipe is now a recipe of its own
            spec = RunSpec.of(row["model"], "benchmark", quick=quick, **stop)
        else:
            spec = RunSpec.of(row["model"], row["recipe"], quick=quick, eval_every=30, **stop)
        figures = {
            "precision": row["precision"],
            "global_batch_size": row["batch_size"],
            "train_size": row["train_size"],
            "valid_size": 200 if quick else 5_000,
            "test_size": row["test_size"],
            "epochs": row["epochs"],
            "images": round(row["epochs"] * row["train_size"]),
            "train_seconds": row["train_seconds"],
            "train_images_per_second": row["train_images_per_second"],
            "inference_images_per_second": row["inference_images_per_second"],
            "checkpoints": [list(c) for c in row["checkpoints"]],
            "valid_accuracy": row["valid_accuracy"],
            "test_accuracy": row["test_accuracy"],
            "test_accuracy_single_view": row["test_accuracy_single_view"],
            "peak_memory_mb": row.get("peak_memory_mb"),
        }
    elif kind == "throughput":
        # `--steps N` timed N steps after 3 untimed ones.
        steps = int(row["command"].split("--steps ")[1].split()[0]) + 3
        spec = RunSpec.of(row["model"], "throughput", steps=steps, batch_size=row["batch_size"])
        figures = {
            "precision": row["precision"],
            "global_batch_size": row["batch_size"],
            "train_size": 55_000,
            "valid_size": 5_000,
            "test_size": 10_000,
            "epochs": steps * row["batch_size"] / 55_000,
            "images": steps * row["batch_size"],
            "train_seconds": steps * row["batch_size"] / row["train_images_per_second"],
            "train_images_per_second": row["train_images_per_second"],
            "inference_images_per_second": row["inference_images_per_second"],
        }
    elif kind == "train":
        spec = RunSpec.of(
            row["model"],
            "protocol",
            strategy=row.get("strategy", "default"),
            devices=tuple(row["devices"]) if row.get("devices") else None,
            quick=quick,
            optimizer=row["optimizer"],
            batch_size=row["batch_size"],
            epochs=row["epochs"],
            seed=row.get("seed", 42),
            precision=row["precision"],
        )
        history = {name: list(values) for name, values in row.get("history", {}).items()}
        history["seconds"] = _cumulative(row.get("epoch_seconds", []))
        figures = {
            "precision": row["precision"],
            "replicas": row.get("replicas", 1),
            "global_batch_size": row.get("global_batch_size", row["batch_size"]),
            "train_size": row["train_size"],
            "valid_size": 200 if quick else 5_000,
            "test_size": 512 if quick else 10_000,
            "epochs": row["epochs"],
            "images": row["epochs"] * row["train_size"],
            "train_seconds": row["train_seconds"],
            "train_images_per_second": row["images_per_second"],
            "history": history,
            "test_accuracy": row["test_accuracy"],
            "test_accuracy_single_view": row["test_accuracy"],
            "test_loss": row.get("test_loss"),
        }
    else:
        raise ValueError(f"cannot migrate results row {key!r}: unknown kind {kind!r}.")
    recipe = spec.resolve()
    from cnn_guide.recipes import setting_fields

    defaults = {
        "replicas": 1,
        "learning_rate": row.get("learning_rate") or recipe.learning_rate,
        "inference_images_per_second": None,
        "history": {},
        "checkpoints": [],
        "valid_accuracy": None,
        "test_accuracy": None,
        "test_accuracy_single_view": None,
        "test_loss": None,
    }
    if "parameters" not in row:  # epoch-based rows did not record the model's size
        row = {**row, **_model_size(row["model"])}
    return RunRecord(
        spec=spec,
        settings={name: getattr(recipe, name) for name in setting_fields()},
        parameters=row["parameters"],
        macs=row["macs"],
        **{**defaults, **figures},
        **provenance,
    )


def _model_size(model: str) -> dict[str, int]:
    from cnn_guide import analysis, models

    built = models.build(model)
    return {"parameters": built.count_params(), "macs": analysis.layer_table(built).macs or 0}


def _cumulative(seconds: list[float]) -> list[float]:
    total, out = 0.0, []
    for value in seconds:
        total += value
        out.append(round(total, 3))
    return out
