"""``cnn-guide record``: record the runs the book draws on, resuming where it stopped."""

from __future__ import annotations

import argparse

from cnn_guide.cli._args import names


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Add the ``record`` command."""
    parser = commands.add_parser(
        "record",
        help="record every run the book's pages draw on (resumable)",
        description=(
            "Record the runs the book's pages draw on, as its catalogue names them\n"
            "(cnn_guide.evidence): each network's full run ('full'), the benchmark\n"
            "('benchmark'), the chapters' teaching experiments ('experiments'), the\n"
            "design-space populations ('design-spaces') and the flagship ('flagship': its\n"
            "candidates, then, once all are recorded, the one chosen on the validation\n"
            "images with two more seeds).\n"
            "Runs already in the store are skipped, unless they are stale (recorded under\n"
            "an older definition of their recipe); each missing one trains in a process of\n"
            "its own and is stored when it ends, so the command can be stopped at any time\n"
            "and resumed by running it again. Every run keeps its test predictions, and a\n"
            "full run, or a run that another starts from (a pretraining), its trained\n"
            "weights too; one stored without them is recorded again. A pretraining is\n"
            "recorded before the runs that start from it."
        ),
        epilog=(
            "examples:\n"
            "  cnn-guide record --list                  what is recorded, what is missing\n"
            "  cnn-guide record --plan full             every example's full run\n"
            "  cnn-guide record --models lenet5_fashion,vgg_fashion\n"
            "  cnn-guide record --plan experiments --only resnet-degradation\n"
            "  cnn-guide record --plan design-spaces    the sampled populations\n"
            "  cnn-guide record --plan flagship         the flagship's candidates, then its seeds"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--plan",
        choices=("full", "benchmark", "experiments", "design-spaces", "flagship", "all"),
        default="all",
        help="which runs: each example's full run, the benchmark, the teaching "
        "experiments, the design-space populations, the flagship, or all of them "
        "(default all)",
    )
    parser.add_argument(
        "--only",
        type=names,
        metavar="A,B",
        help="only these experiments' runs (cnn_guide.experiments.list_experiments, "
        "cnn_guide.design_spaces.list_design_spaces)",
    )
    parser.add_argument("--models", type=names, metavar="A,B", help="only these models' runs")
    parser.add_argument(
        "--list", action="store_true", help="list the runs, recorded or missing, and stop"
    )
    parser.set_defaults(run=run, needs_tensorflow=True)


def run(args: argparse.Namespace) -> int:
    """List the plan, or record what is missing, one process per run."""
    from cnn_guide.cli.bench import run_each
    from cnn_guide.design_spaces import design_space_runs, list_design_spaces
    from cnn_guide.evidence import PLANS, keeps_weights, plan
    from cnn_guide.experiments import experiment_runs
    from cnn_guide.results import estimate_minutes, find_all, missing

    groups = PLANS if args.plan == "all" else (args.plan,)
    specs = [spec for group in groups for spec in plan(group)]
    if args.only:
        # The experiments seed by seed, in the order asked for, then the design spaces.
        planned = set(specs)
        spaces = [name for name in args.only if name in list_design_spaces()]
        named = [name for name in args.only if name not in spaces]
        asked = (experiment_runs(named) if named else []) + (
            design_space_runs(spaces) if spaces else []
        )
        specs = [spec for spec in asked if spec in planned]
    if args.models:
        # In the order asked for, so the runs a reader wants first come first.
        specs = sorted(
            (spec for spec in specs if spec.model in args.models),
            key=lambda spec: args.models.index(spec.model),
        )
    # Full runs keep their test predictions and weights, and so do the runs that another
    # catalogued run starts from: one without them is re-recorded.
    full = set(plan("full"))
    todo = [
        spec
        for spec in specs
        if missing([spec], with_predictions=spec in full, with_weights=keeps_weights(spec))
    ]
    if args.list:
        total, stale, unknown = 0.0, 0, 0
        for spec, run in zip(specs, find_all(specs), strict=True):
            if spec not in todo:
                status = f"{run.test_accuracy:.4f} ({run.date[:10]})"
            else:
                estimate = estimate_minutes(spec)
                total += estimate[0] if estimate else 0.0
                unknown += estimate is None
                status = "missing" if run is None else "stale" if run.stale_fields() else "partial"
                status += f", ~{estimate[0]:,.0f} min" if estimate else ""
                stale += run is not None and bool(run.stale_fields())
            print(f"{status:>22}  {spec.command}")
            if run is not None and run.stale_fields():
                print(f"{'':>22}  (recorded under older {', '.join(run.stale_fields())})")
            elif run is not None and spec in todo:
                print(f"{'':>22}  (recorded without its test predictions or weights)")
        print(
            f"{len(specs) - len(todo)} of {len(specs)} recorded; {len(todo)} missing "
            f"({stale} of them stale), about {total / 60:,.1f} h of training at the recorded "
            "speeds (machines differ)"
            + (f", not counting {unknown} whose network has no recorded speed." if unknown else ".")
        )
        return 0
    print(f"{len(specs) - len(todo)} of {len(specs)} runs recorded; recording {len(todo)}.")
    return run_each(todo, record=True)
