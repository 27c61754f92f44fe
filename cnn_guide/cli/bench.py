"""``cnn-guide bench``: the book's benchmark, each model trained in a process of its own."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

from cnn_guide.cli._args import add_data_options, add_recipe_options, names, recipe_changes
from cnn_guide.comparison import FRACTIONS
from cnn_guide.recipes import STOP_FIELDS, get_recipe, list_recipes

if TYPE_CHECKING:
    from cnn_guide.runs import RunSpec


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Add the ``bench`` command."""
    parser = commands.add_parser(
        "bench",
        help="train models for a fixed time and record accuracy, speed and memory",
        description=(
            "The book's benchmark. Trains each model under one recipe (default 'benchmark':\n"
            "the book recipe, AdamW with a one-cycle schedule, label smoothing, weight decay,\n"
            "batch 128, seed 42 and settled batch-norm statistics, for 3 minutes of training\n"
            "on all 55,000 training images, the 10,000 test images scored every 30 s).\n"
            "Each model runs in a fresh process ('cnn-guide train'), so its peak memory is its\n"
            "own. Reports parameters, multiply-accumulates, training and inference images per\n"
            "second, seconds per epoch, the training time to 90-95% test accuracy, the final\n"
            "accuracy and peak memory. With --record each model's row is stored as soon as it\n"
            "finishes, replacing only that row, so a stopped benchmark can be resumed."
        ),
        epilog=(
            "examples:\n"
            "  cnn-guide bench --record                      every variant, 3 minutes each\n"
            "  cnn-guide bench --models resnet_fashion --minutes 10\n"
            "  cnn-guide bench --recipe fast --minutes 10 --record\n"
            "  cnn-guide bench --recipe fast --against seed --record   goals as fractions of T\n"
            "  cnn-guide bench --recipe fast --against seed --seeds 42,43,44 --record\n"
            "  cnn-guide bench --throughput --models vgg_fashion"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--models",
        type=names,
        metavar="A,B",
        help="comma-separated names (default: the recipe's own model, else every "
        "Fashion-MNIST variant)",
    )
    parser.add_argument(
        "--throughput",
        action="store_true",
        help="speed only: the same as --recipe throughput (23 steps, the last 20 timed)",
    )
    against = parser.add_argument_group(
        "against a reference recipe",
        "Time the recipe against another on this machine, so that its goals hold on any\n"
        "machine. T is the time the reference recipe needs for its epochs here, from its\n"
        "steady speed over a few hundred steps. The recipe then trains once for each\n"
        "fraction of T, its schedule spread over that budget, and its times to 91.2-95%\n"
        "test accuracy are reported as fractions of T.",
    )
    against.add_argument(
        "--against",
        choices=[name for name in list_recipes() if get_recipe(name).epochs is not None],
        metavar="RECIPE",
        help="the reference recipe, e.g. seed (the simple CNN, Nadam, batch 32, 10 epochs)",
    )
    against.add_argument(
        "--fractions",
        type=fractions,
        default=FRACTIONS,
        metavar="F,F",
        help="with --against: the budgets, as fractions of T "
        f"(default {','.join(map(str, FRACTIONS))})",
    )
    against.add_argument(
        "--seeds",
        type=seed_list,
        metavar="S,S",
        help="with --against: train each budget once per seed, e.g. 42,43,44, so that a goal "
        "is judged by the seeds' mean and each budget against the next by their spread "
        "(default: the recipe's one seed)",
    )
    add_recipe_options(parser, default_recipe="benchmark")
    add_data_options(parser)
    parser.add_argument(
        "--record",
        action="store_true",
        help="store each model's run in the book's store of runs (cnn_guide/records)",
    )
    parser.set_defaults(run=run, needs_tensorflow=True)


def fractions(text: str) -> tuple[Fraction, ...]:
    """Comma-separated fractions of T above 0, such as ``1/20,1/10,1``."""
    try:
        found = tuple(Fraction(part.strip()) for part in text.split(",") if part.strip())
    except (ValueError, ZeroDivisionError):
        found = ()
    if not found or any(fraction <= 0 for fraction in found):
        raise argparse.ArgumentTypeError(
            f"expected comma-separated fractions above 0 such as 1/20,1/10,1, got {text!r}"
        )
    return tuple(sorted(found))


def seed_list(text: str) -> tuple[int, ...]:
    """Comma-separated distinct integer seeds, such as ``42,43,44``."""
    try:
        found = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        found = ()
    if not found or len(set(found)) != len(found):
        raise argparse.ArgumentTypeError(
            f"expected comma-separated distinct integer seeds such as 42,43,44, got {text!r}"
        )
    return found


def run(args: argparse.Namespace) -> int:
    """Train each model in turn, each in its own process; print the table."""
    from cnn_guide import models
    from cnn_guide.runs import RunSpec

    if args.throughput:
        args.recipe = "throughput"
    recipe = get_recipe(args.recipe)
    chosen = args.models or ([recipe.model] if recipe.model else models.list_models(fashion=True))
    for name in chosen:
        models.check_fashion_mnist(name)  # bad names fail before any measurement
    changes = recipe_changes(args)
    if args.seeds and not args.against:
        raise ValueError("--seeds belongs with --against: name the reference recipe, e.g. seed.")
    if args.against:
        return run_against(args, chosen, changes)
    specs = [RunSpec.of(name, args.recipe, quick=args.quick, **changes) for name in chosen]
    return run_each(specs, record=args.record, data_dir=args.data_dir)


def _time_taken(wall_seconds: float) -> str:
    """The wall-clock and CPU time of the runs, all processes together."""
    text = f"{wall_seconds / 60:,.1f} min of wall-clock time"
    try:
        import resource  # Unix only
    except ImportError:
        return text + "."
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = children.ru_utime + children.ru_stime
    return text + f", {cpu / 60:,.1f} min of CPU time (all {os.cpu_count()} cores together)."


def run_each(
    specs: list[RunSpec], *, record: bool, data_dir: Path | None = None, table: bool = True
) -> int:
    """Train each run in a fresh process (``cnn-guide train``); print the recorded table.

    A fresh process per run makes its peak memory its own (memory an earlier
    model held is not returned to the system) and keeps one run's failure
    from ending the others.

    Returns:
        The exit status: 1 if any run failed.
    """
    failed = []
    started = time.perf_counter()
    for index, spec in enumerate(specs, start=1):
        print(f"[{index}/{len(specs)}] {spec.command.removesuffix(' --record')}", flush=True)
        argv = [sys.executable, "-m", "cnn_guide.cli", "train", *spec.arguments()]
        argv += ["--data-dir", str(data_dir)] if data_dir else []
        argv += ["--record"] if record else []
        if subprocess.run(argv, check=False).returncode != 0:
            failed.append(spec.key)
    if record and specs and table:
        from cnn_guide.report.tables import format_table
        from cnn_guide.results import find_all

        print(format_table([run for run in find_all(specs) if run is not None]))
    if specs:
        print(_time_taken(time.perf_counter() - started))
    if failed:
        print(f"cnn-guide: failed: {'; '.join(failed)} (see above).", file=sys.stderr)
        return 1
    return 0


def run_against(args: argparse.Namespace, chosen: list[str], changes: dict) -> int:
    """Measure T with the reference recipe, train the recipe for fractions of T, compare.

    Without ``--record`` the runs are stored in a temporary store, read back
    for the comparison and then discarded.
    """
    from cnn_guide import comparison
    from cnn_guide.machine import machine_info
    from cnn_guide.report.comparison import describe
    from cnn_guide.results import find, load_results
    from cnn_guide.runs import RunSpec

    if args.seeds and "seed" in changes:
        raise ValueError("give the seeds with --seeds or one seed with --seed, not both.")
    given = [name for name in (*STOP_FIELDS, "eval_every") if name in changes]
    if given:
        flags = ", ".join("--" + name.replace("_", "-") for name in given)
        raise ValueError(
            f"with --against, each run's budget and checkpoints follow from T; drop {flags}."
        )
    if len(chosen) != 1:
        raise ValueError(
            f"--against compares one model's runs, got {len(chosen)}: give one name to --models."
        )
    reference = comparison.reference_spec(args.against, quick=args.quick)
    with _store(keep=args.record):
        print(f"Measuring T: {args.against} recipe, {reference.resolve().stop_rule}.", flush=True)
        if run_each([reference], record=True, data_dir=args.data_dir, table=False):
            return 1
        seconds = comparison.reference_seconds(find(reference))
        print(f"T = {seconds:,.0f} s on this machine ({seconds / 60:.1f} min).", flush=True)
        seeds = args.seeds or (None,)  # None: the recipe's own seed, unchanged
        budgets = [(fraction, seed) for fraction in args.fractions for seed in seeds]
        specs = [
            RunSpec.of(
                chosen[0],
                args.recipe,
                quick=args.quick,
                **changes,
                **comparison.budget_of(fraction, seconds),
                **({} if seed is None else {"seed": seed}),
            )
            for fraction, seed in budgets
        ]
        if run_each(specs, record=True, data_dir=args.data_dir, table=False):
            return 1
        command = f"cnn-guide bench --recipe {args.recipe} --against {args.against}"
        command += "" if args.fractions == FRACTIONS else f" --fractions {_text(args.fractions)}"
        command += f" --seeds {','.join(map(str, args.seeds))}" if args.seeds else ""
        command += " --quick" if args.quick else ""
        result = comparison.Comparison(
            recipe=args.recipe,
            against=args.against,
            reference=reference.key,
            runs=tuple(
                (fraction, spec.key) for (fraction, _), spec in zip(budgets, specs, strict=True)
            ),
            machine=machine_info(),
            date=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            command=command + " --record",
            quick=args.quick,
        )
        print(describe(result.resolve(load_results())))
        if args.record:
            for key in comparison.record_comparison(result):
                print(f"Removed the comparison {key!r}: its T was measured again here.")
    return 0


def _text(fractions: tuple[Fraction, ...]) -> str:
    return ",".join(str(fraction) for fraction in fractions)


@contextlib.contextmanager
def _store(*, keep: bool) -> Iterator[None]:
    """The store the runs record to: the real one, or a temporary one."""
    if keep:
        yield
        return
    from cnn_guide.results import RESULTS_ENV_VAR

    before = os.environ.get(RESULTS_ENV_VAR)
    with tempfile.TemporaryDirectory() as folder:
        os.environ[RESULTS_ENV_VAR] = str(Path(folder) / "records")
        try:
            yield
        finally:
            if before is None:
                del os.environ[RESULTS_ENV_VAR]
            else:
                os.environ[RESULTS_ENV_VAR] = before
