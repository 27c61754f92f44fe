"""``cnn-guide bench``: the book's benchmark, each model trained in a process of its own."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from cnn_guide.cli._args import add_data_options, add_recipe_options, names, recipe_changes

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
    add_recipe_options(parser, default_recipe="benchmark")
    add_data_options(parser)
    parser.add_argument(
        "--record", action="store_true", help="store each model's row in cnn_guide/results.json"
    )
    parser.set_defaults(run=run, needs_tensorflow=True)


def run(args: argparse.Namespace) -> int:
    """Train each model in turn, each in its own process; print the table."""
    from cnn_guide import models
    from cnn_guide.recipes import get_recipe
    from cnn_guide.runs import RunSpec

    if args.throughput:
        args.recipe = "throughput"
    recipe = get_recipe(args.recipe)
    chosen = args.models or ([recipe.model] if recipe.model else models.list_models(fashion=True))
    for name in chosen:
        models.check_fashion_mnist(name)  # bad names fail before any measurement
    changes = recipe_changes(args)
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


def run_each(specs: list[RunSpec], *, record: bool, data_dir: Path | None = None) -> int:
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
    if record and specs:
        from cnn_guide.results import format_table, load_results

        runs = load_results()
        print(format_table([runs[spec.key] for spec in specs if spec.key in runs]))
    if specs:
        print(_time_taken(time.perf_counter() - started))
    if failed:
        print(f"cnn-guide: failed: {'; '.join(failed)} (see above).", file=sys.stderr)
        return 1
    return 0
