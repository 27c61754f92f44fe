"""``cnn-guide train``: train a model under a recipe, report and record it."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cnn_guide.cli._args import (
    add_data_options,
    add_model_options,
    add_recipe_options,
    add_strategy_options,
    add_task_options,
    positive_int,
    recipe_changes,
    spec_from_args,
)

if TYPE_CHECKING:
    from cnn_guide.runs import RunSpec


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Add the ``train`` command."""
    parser = commands.add_parser(
        "train",
        help="train a model on Fashion-MNIST and report test accuracy",
        description=(
            "Train a model on the real Fashion-MNIST under a recipe (default 'book': the\n"
            "book's shared recipe, AdamW with a one-cycle schedule for 10 epochs; see\n"
            "--recipes), then score the test images. Any setting of the\n"
            "recipe can be changed with its option. With --record the result is stored in\n"
            "the store of runs, under a key made of these same arguments. A run stopped by\n"
            "--minutes shows, instead of Keras' epochs, one line of the training time used out\n"
            "of the budget, the images seen and the test accuracy at the last checkpoint."
        ),
        epilog=(
            "examples:\n"
            "  cnn-guide train simple_cnn --epochs 10 --save simple_cnn.keras\n"
            "  cnn-guide train simple_cnn --recipe seed --record\n"
            "  cnn-guide train vgg_fashion --recipe benchmark        3 minutes of training\n"
            "  cnn-guide train resnet_fashion --strategy mirrored --devices /cpu:0,/cpu:1\n"
            "  cnn-guide train --recipes                            describe every recipe"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("name", nargs="?", help="model name, from 'cnn-guide list --variants'")
    parser.add_argument("--recipes", action="store_true", help="describe every recipe and exit")
    add_model_options(parser)
    add_recipe_options(parser, default_recipe="book")
    batch = parser.add_argument_group("distributed batch")
    batch.add_argument(
        "--global-batch-size",
        type=positive_int,
        metavar="N",
        help="images per step over all replicas, instead of --batch-size per replica",
    )
    add_strategy_options(parser)
    add_data_options(parser)
    add_task_options(parser)
    parser.add_argument(
        "--backup-dir",
        type=Path,
        metavar="DIR",
        help="back up the run after every epoch here; the same command run again goes on "
        "after the last epoch backed up, with its schedule, clock and history",
    )
    parser.add_argument(
        "--early-stopping",
        type=positive_int,
        metavar="PATIENCE",
        help="stop after PATIENCE epochs without progress in validation accuracy",
    )
    parser.add_argument("--save", type=Path, metavar="PATH", help="save the trained model (.keras)")
    parser.add_argument(
        "--record",
        action="store_true",
        help="store the result, machine and command in the book's store (cnn_guide/records)",
    )
    parser.set_defaults(run=run, needs_tensorflow=True)


def run(args: argparse.Namespace) -> int:
    """Train, report, and record or save when asked."""
    from cnn_guide import models
    from cnn_guide.data import load_fashion_mnist
    from cnn_guide.distribute import is_chief, make_strategy, per_replica_batch_size
    from cnn_guide.runs import RunRecord
    from cnn_guide.training import fit

    if args.recipes:
        from cnn_guide.recipes import get_recipe, list_recipes

        print("\n\n".join(get_recipe(name).describe() for name in list_recipes()))
        return 0
    if args.name is None:
        raise ValueError("name a model to train, e.g. 'cnn-guide train simple_cnn'.")
    models.check_fashion_mnist(args.name)
    if args.save is not None and args.save.suffix != ".keras":
        raise ValueError(f"--save needs a path ending in .keras, got {args.save}.")
    if args.tpu is not None and args.strategy != "tpu":
        raise ValueError(f"--tpu applies only to --strategy tpu, not {args.strategy}.")
    if args.global_batch_size is not None and "batch_size" in recipe_changes(args):
        raise ValueError("give --batch-size (per replica) or --global-batch-size, not both.")
    # The strategy comes first: a multi-worker strategy must be created before
    # any other TensorFlow operation, and logical CPU devices before the runtime starts.
    strategy = None
    if args.strategy != "default" or args.devices:
        strategy = make_strategy(args.strategy, args.devices, tpu=args.tpu)
    replicas = strategy.num_replicas_in_sync if strategy is not None else 1
    per_replica = {}
    if args.global_batch_size is not None:
        per_replica["batch_size"] = per_replica_batch_size(args.global_batch_size, replicas)
    spec = spec_from_args(args, **per_replica)
    recipe = spec.resolve()
    model = _starting_model(spec)  # an unknown option or start fails before the data loads
    data = load_fashion_mnist(args.data_dir)
    if args.quick:
        from cnn_guide.budget import QUICK_SIZES

        data = data.subset(**QUICK_SIZES)
    data = spec.task_data(data)
    batch = f"batch {recipe.batch_size}"
    if replicas > 1:
        batch = f"global batch {recipe.batch_size * replicas} ({recipe.batch_size} x {replicas})"
    print(
        f"Training {args.name} on {len(data.x_train):,} images, recipe {args.recipe}: "
        f"{recipe.optimizer}, {batch}, {_precision_words(recipe.precision, strategy)}, "
        f"until {recipe.stop_rule}."
    )
    result = fit(
        model,
        data,
        recipe,
        strategy=strategy,
        early_stopping=args.early_stopping,
        backup_dir=args.backup_dir,
        verbose=1,
    )
    print(result.describe())
    if result.resumed_after_epochs:
        restarts = ", ".join(str(epochs) for epochs in result.resumed_after_epochs)
        print(
            f"Resumed after epoch(s) {restarts}: the figures cover all "
            f"{len(result.history['loss'])} epochs."
        )
    if recipe.precision == "auto":
        print(f"Precision: {result.precision} (chosen by precision 'auto').")
    if recipe.scale_learning_rate:
        print(
            f"Learning rate {result.learning_rate:.6g}: the recipe's x {replicas} "
            "replica(s), by the linear scaling rule."
        )
    if not is_chief(strategy):
        if args.record or args.save:
            print("Not recording or saving: this worker is not the chief, which does both.")
        return 0
    if args.record:
        from cnn_guide.evidence import keeps_weights
        from cnn_guide.results import record, run_file

        # A full run keeps its weights too (the book reads trained networks from them),
        # and so does a run that another catalogued run starts from.
        full = keeps_weights(spec)
        record(
            RunRecord.from_fit(spec, result.recipe, result),
            predictions=result.test_predictions,
            weights=result.model if full else None,
        )
        kept = "its test predictions" + (" and trained weights" if full else "")
        print(f"Recorded the run as {spec.key!r} in {run_file(spec)}, with {kept}.")
    if args.save:
        args.save.parent.mkdir(parents=True, exist_ok=True)
        result.model.save(args.save)
        print(f"Saved the model to {args.save}.")
    return 0


def _starting_model(spec: RunSpec) -> Any:
    """The model a run trains: its builder, or a recorded run's kept weights to start from.

    With ``start_from`` (`cnn_guide.runs.TASK_FIELDS`), every layer but the
    classifier (the last layer with weights) takes the recorded run's kept
    weights, and the new classifier is drawn by the run's seed. ``freeze``
    then applies `cnn_guide.transfer.freeze_base`: ``"base"`` leaves only the
    classifier trainable, ``"except-top:N"`` the top N blocks too; every
    frozen layer, and every batch normalization of the top blocks, runs in
    inference mode, as Keras does for a frozen layer.

    Raises:
        ValueError: For an unknown option, a run to start from that is not
            recorded or kept no weights, or weights that do not fit the model.
    """
    model = spec.build_model()
    task = dict(spec.task)
    if "start_from" not in task:
        return model
    import keras

    from cnn_guide.inspection import load_checked_weights
    from cnn_guide.results import load_results, weights_file
    from cnn_guide.runs import trained_top_blocks
    from cnn_guide.training import build_model
    from cnn_guide.transfer import copy_base, freeze_base

    source = load_results().get(task["start_from"])
    if source is None:
        raise ValueError(
            f"no recorded run {task['start_from']!r} to start from; record it first with "
            f"`cnn-guide train {task['start_from']} --record`."
        )
    file = weights_file(source.spec)
    if not file.exists():
        raise ValueError(
            f"the run {source.key!r} kept no weights ({file} is missing); only the book's "
            "full runs and the runs a catalogued run starts from keep theirs "
            "(cnn_guide.evidence.keeps_weights). Start from one of them."
        )
    try:
        donor = load_checked_weights(build_model(source.spec.build_model()), file)
    except ValueError as error:
        raise ValueError(
            f"starting from {source.key!r}: {error} Record the run again "
            f"(`{source.command}`) to keep weights that fit it."
        ) from None
    keras.utils.set_random_seed(spec.resolve().seed)  # the new classifier, drawn by the seed
    net = build_model(model)
    try:
        copy_base(donor, net)
    except ValueError as error:
        raise ValueError(f"starting from {source.key!r}: {error}") from None
    if "freeze" in task:
        freeze_base(net, train_top=trained_top_blocks(task["freeze"]))
    return net


def _precision_words(precision: str, strategy: Any) -> str:
    """The precision, or how ``"auto"`` will choose it on this machine."""
    from cnn_guide.distribute import choose_precision, cpu_supports_bfloat16

    chosen = choose_precision(precision, strategy)
    if precision == "auto" and chosen == "float32" and cpu_supports_bfloat16():
        return "float32 or mixed_bfloat16, whichever a few timed steps find faster"
    return chosen
