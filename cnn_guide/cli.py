"""The ``cnn-guide`` command: list, inspect, train and evaluate the book's models.

```text
cnn-guide list
cnn-guide summary resnet18
cnn-guide train simple_cnn --epochs 10 --save simple_cnn.keras
cnn-guide train simple_cnn --strategy mirrored --global-batch-size 256 --precision auto
cnn-guide evaluate simple_cnn.keras
cnn-guide book                       # build the book, every example executed
```

TensorFlow is imported only by the commands that need it, so ``--help``
answers at once.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from cnn_guide._quiet import import_tensorflow
from cnn_guide.budget import BUDGETS, QUICK_SIZES
from cnn_guide.distribute import STRATEGIES  # no TensorFlow import: --help stays fast

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status.

    Args:
        argv: Arguments without the program name; ``sys.argv[1:]`` when ``None``.
    """
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    if args.run is _book:  # MkDocs' own processes load TensorFlow where they need it
        return _book(args)
    import_tensorflow()
    from cnn_guide.data import DataError

    try:
        return args.run(args)
    except (ValueError, DataError) as error:
        print(f"cnn-guide {args.command}: error: {error}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cnn-guide",
        description=(
            "Build, inspect, train and evaluate the CNN architectures of the "
            "cnn-guide book on the real Fashion-MNIST."
        ),
        epilog="Run 'cnn-guide COMMAND --help' for a command's options.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    listing = commands.add_parser("list", help="list every model of the book")
    group = listing.add_mutually_exclusive_group()
    group.add_argument("--variants", action="store_true", help="Fashion-MNIST variants only")
    group.add_argument("--paper", action="store_true", help="paper configurations only")
    listing.set_defaults(run=_list)

    summary = commands.add_parser("summary", help="print a model's layers and parameters")
    summary.add_argument("name", help="model name, from 'cnn-guide list'")
    summary.add_argument(
        "--input-shape", type=_shape, metavar="H,W,C", help="input shape (default: the model's)"
    )
    summary.add_argument("--num-classes", type=_positive_int, metavar="N", help="classes")
    summary.set_defaults(run=_summary)

    train = commands.add_parser(
        "train",
        help="train a model on Fashion-MNIST and report test accuracy",
        description="Train a model on the real Fashion-MNIST, then evaluate it on the test set.",
    )
    train.add_argument("name", help="model name, from 'cnn-guide list --variants'")
    train.add_argument("--epochs", type=_positive_int, help="epochs (default 10; 1 with --quick)")
    train.add_argument(
        "--quick",
        action="store_true",
        help=(
            f"smoke run: {QUICK_SIZES['train']:,} training images and 1 epoch "
            "unless --epochs is given"
        ),
    )
    batch = train.add_mutually_exclusive_group()
    batch.add_argument(
        "--batch-size", type=_positive_int, help="images per step and replica (default 32)"
    )
    batch.add_argument(
        "--global-batch-size",
        type=_positive_int,
        metavar="N",
        help="images per step over all replicas (must divide by the replica count)",
    )
    train.add_argument("--optimizer", default="nadam", help="Keras optimizer name (default nadam)")
    train.add_argument("--learning-rate", type=float, help="learning rate (default: optimizer's)")
    train.add_argument(
        "--scale-learning-rate",
        action="store_true",
        help="multiply the learning rate by the replica count (linear scaling rule)",
    )
    train.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    train.add_argument(
        "--precision",
        choices=("auto", "float32", "mixed_bfloat16", "mixed_float16"),
        default="float32",
        help="compute precision; auto picks one for the hardware (default float32)",
    )
    train.add_argument(
        "--strategy",
        choices=STRATEGIES,
        default="default",
        help=(
            "tf.distribute strategy: one device, all local GPUs (or --devices), "
            "several machines (TF_CONFIG), or a TPU (default: default)"
        ),
    )
    train.add_argument(
        "--devices",
        type=_devices,
        metavar="DEV,DEV",
        help="devices for --strategy mirrored, e.g. /gpu:0,/gpu:1 or /cpu:0,/cpu:1",
    )
    train.add_argument("--tpu", metavar="NAME", help="TPU name or address for --strategy tpu")
    train.add_argument(
        "--backup-dir",
        type=Path,
        metavar="DIR",
        help="back up every epoch here; a restarted run resumes from the last one",
    )
    train.add_argument(
        "--early-stopping",
        type=_positive_int,
        metavar="PATIENCE",
        help="stop after PATIENCE epochs without progress",
    )
    train.add_argument("--save", type=Path, metavar="PATH", help="save the trained model (.keras)")
    train.add_argument(
        "--record",
        action="store_true",
        help="store the result, machine and command in cnn_guide/results.json (read by the book)",
    )
    train.add_argument(
        "--data-dir", type=Path, help="directory holding the four Fashion-MNIST .gz files"
    )
    train.set_defaults(run=_train)

    evaluate = commands.add_parser("evaluate", help="evaluate a saved .keras model on the test set")
    evaluate.add_argument("path", type=Path, help="a model saved with --save")
    evaluate.add_argument(
        "--quick", action="store_true", help=f"first {QUICK_SIZES['test']:,} test images only"
    )
    evaluate.add_argument(
        "--data-dir", type=Path, help="directory holding the four Fashion-MNIST .gz files"
    )
    evaluate.set_defaults(run=_evaluate)

    bench = commands.add_parser(
        "bench",
        help="train models for a fixed time and record accuracy, speed and memory",
        description=(
            "The book's benchmark. Trains each model with one recipe (default 'protocol':\n"
            "Adam at 1e-3, batch 128, no augmentation, seed 42) on all 55,000 training\n"
            "images for a fixed budget of training time, evaluating the 10,000 test images\n"
            "at checkpoints. Reports parameters, multiply-accumulates, training and\n"
            "inference images/second, seconds per epoch, the training time to 90-95% test\n"
            "accuracy, the final accuracy and peak memory. With --record each model's row\n"
            "is stored in the results file as soon as it finishes, replacing only that\n"
            "row. --throughput times a few training steps instead."
        ),
        epilog=(
            "examples:\n"
            "  cnn-guide bench --record                      every variant, 3 minutes each\n"
            "  cnn-guide bench --models resnet_fashion --budget 10\n"
            "  cnn-guide bench --recipe fast --budget 10 --record\n"
            "  cnn-guide bench --throughput --models vgg_fashion"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    bench.add_argument(
        "--models",
        type=_names,
        metavar="A,B",
        help="comma-separated names (default: the recipe's model; for 'protocol', every "
        "Fashion-MNIST variant)",
    )
    bench.add_argument(
        "--recipe",
        default="protocol",
        metavar="NAME",
        help="training recipe: protocol (default), seed, fast, fast-augment, "
        "fast-no-schedule, fast-no-smoothing",
    )
    bench.add_argument(
        "--budget",
        type=_positive_float,
        default=3.0,
        metavar="MIN",
        help="minutes of training per model (default 3)",
    )
    bench.add_argument(
        "--epochs",
        type=_positive_float,
        metavar="N",
        help="stop after N epochs if that comes before the budget",
    )
    bench.add_argument(
        "--eval-every",
        type=_positive_float,
        default=30.0,
        metavar="S",
        help="training seconds between test evaluations (default 30)",
    )
    bench.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run: 1,000 training and 500 test images, 5 seconds per model",
    )
    bench.add_argument(
        "--throughput",
        action="store_true",
        help="only time --steps training steps and inference (no accuracy)",
    )
    bench.add_argument(
        "--batch-size",
        type=_positive_int,
        default=128,
        help="with --throughput: images per step (default 128)",
    )
    bench.add_argument(
        "--steps",
        type=_positive_int,
        default=20,
        help="with --throughput: timed steps (default 20)",
    )
    bench.add_argument(
        "--record", action="store_true", help="store the figures in cnn_guide/results.json"
    )
    bench.add_argument(
        "--data-dir", type=Path, help="directory holding the four Fashion-MNIST .gz files"
    )
    bench.set_defaults(run=_bench)

    book = commands.add_parser(
        "book",
        help="build the book with every example executed (or preview it)",
        description=(
            "Build the book from this source checkout: 'mkdocs build --strict' with every "
            "example executed at its short 'site' budget and the notebook cache off, "
            "printing one line per example. The site lands in site/."
        ),
    )
    book.add_argument(
        "--budget",
        choices=BUDGETS,
        default="site",
        help="how much each example trains: quick (a few steps each, a smoke test), "
        "site (what the published book shows; default) or full (hours)",
    )
    book.add_argument(
        "--no-execute",
        dest="execute",
        action="store_false",
        help="render the examples' code without running it (checks pages and links in seconds)",
    )
    book.add_argument(
        "--serve", action="store_true", help="preview at http://127.0.0.1:8000 instead"
    )
    book.add_argument("--site-dir", type=Path, help="where the site goes (default: site/)")
    book.set_defaults(run=_book)
    return parser


def _book(args: argparse.Namespace) -> int:
    from cnn_guide.book import build_book

    try:
        return build_book(
            budget=args.budget, execute=args.execute, serve=args.serve, site_dir=args.site_dir
        )
    except ValueError as error:
        print(f"cnn-guide book: error: {error}", file=sys.stderr)
        return 2


def _list(args: argparse.Namespace) -> int:
    from cnn_guide import models

    variants = True if args.variants else False if args.paper else None
    rows = [models.get_info(name) for name in models.list_models(variants=variants)]
    width = max(len(info.name) for info in rows)
    print(f"{'name':<{width}}  {'year':>4}  {'input':<11}  {'reference params':>17}  summary")
    for info in rows:
        shape = "x".join(map(str, info.input_shape))
        params = f"{info.reference_params:,}" if info.reference_params else "-"
        print(f"{info.name:<{width}}  {info.year:>4}  {shape:<11}  {params:>17}  {info.summary}")
    return 0


def _summary(args: argparse.Namespace) -> int:
    from cnn_guide import models

    kwargs = {}
    if args.input_shape:
        kwargs["input_shape"] = args.input_shape
    if args.num_classes:
        kwargs["num_classes"] = args.num_classes
    info = models.get_info(args.name)
    model = models.build(args.name, **kwargs)
    model.summary(line_length=100)
    print(f"Paper: {info.paper} ({info.year}), {info.url}")
    if info.reference_params and not kwargs:
        print(
            f"Reference parameter count: {info.reference_params:,} {info.reference_kind} "
            f"({info.reference_source})"
        )
    return 0


def _train(args: argparse.Namespace) -> int:
    from cnn_guide import models
    from cnn_guide.data import load_fashion_mnist
    from cnn_guide.distribute import (
        choose_precision,
        is_chief,
        make_strategy,
        per_replica_batch_size,
    )
    from cnn_guide.training import DEFAULT_BATCH_SIZE, train

    info = models.get_info(args.name)
    if tuple(info.input_shape) != (28, 28, 1):
        variants = [
            n
            for n in models.list_models(variants=True)
            if models.get_info(n).variant_of == args.name
        ]
        hint = (
            f" Train its Fashion-MNIST variant instead: {', '.join(variants)}." if variants else ""
        )
        raise ValueError(
            f"{args.name} is a paper configuration for {'x'.join(map(str, info.input_shape))} "
            f"inputs, not 28x28x1 Fashion-MNIST images.{hint}"
        )
    if args.tpu is not None and args.strategy != "tpu":
        raise ValueError(f"--tpu applies only to --strategy tpu, not {args.strategy}.")
    # The strategy comes first: a multi-worker strategy must be created before
    # any other TensorFlow operation, and logical CPU devices before the runtime starts.
    strategy = None
    if args.strategy != "default" or args.devices:
        strategy = make_strategy(args.strategy, args.devices, tpu=args.tpu)
    replicas = strategy.num_replicas_in_sync if strategy is not None else 1
    precision = choose_precision(args.precision, strategy)
    data = load_fashion_mnist(args.data_dir)
    if args.quick:
        data = data.subset(**QUICK_SIZES)
    epochs = args.epochs or (1 if args.quick else 10)
    if args.global_batch_size is None:
        per_replica = args.batch_size or DEFAULT_BATCH_SIZE
    else:
        per_replica = per_replica_batch_size(args.global_batch_size, replicas)
    batch = f"batch {per_replica * replicas}"
    if replicas > 1:
        batch = f"global batch {per_replica * replicas} ({per_replica} x {replicas} replicas)"
    where = "" if strategy is None else f", strategy {args.strategy}"
    print(
        f"Training {args.name} on {len(data.x_train):,} images for {epochs} epoch(s), "
        f"{batch}, {args.optimizer}, {precision}{where}."
    )
    result = train(
        args.name,
        data,
        epochs=epochs,
        batch_size=args.batch_size,
        global_batch_size=args.global_batch_size,
        optimizer=args.optimizer,
        learning_rate=args.learning_rate,
        scale_learning_rate=args.scale_learning_rate,
        seed=args.seed,
        early_stopping=args.early_stopping,
        backup_dir=args.backup_dir,
        precision=precision,
        strategy=strategy,
        verbose=1,
    )
    print(
        f"Test accuracy: {result.test_accuracy:.4f} on {len(data.x_test):,} images "
        f"(loss {result.test_loss:.4f}); {result.train_seconds:.1f} s of training, "
        f"{result.seconds_per_epoch:.1f} s per epoch."
    )
    if args.scale_learning_rate and result.learning_rate is not None:
        print(
            f"Learning rate {result.learning_rate:.6g}: the base rate x {result.replicas} "
            "replica(s), by the linear scaling rule."
        )
    if not is_chief(strategy):
        if args.record or args.save:
            print("Not recording or saving: this worker is not the chief, which does both.")
        return 0
    if args.record:
        _record(args, result, epochs, len(data.x_train))
    if args.save:
        if args.save.suffix != ".keras":
            raise ValueError(f"--save needs a path ending in .keras, got {args.save}.")
        args.save.parent.mkdir(parents=True, exist_ok=True)
        result.model.save(args.save)
        print(f"Saved the model to {args.save}.")
    return 0


def _record(args: argparse.Namespace, result, epochs: int, train_size: int) -> None:
    from cnn_guide.results import record

    batch_size = result.global_batch_size // result.replicas
    command = f"cnn-guide train {args.name} --epochs {epochs}"
    if args.global_batch_size:
        command += f" --global-batch-size {args.global_batch_size}"
    else:
        command += f" --batch-size {batch_size}"
    command += f" --optimizer {args.optimizer} --precision {args.precision} --seed {args.seed}"
    if args.learning_rate:
        command += f" --learning-rate {args.learning_rate}"
    if args.scale_learning_rate:
        command += " --scale-learning-rate"
    if args.strategy != "default":
        command += f" --strategy {args.strategy}"
    if args.devices:
        command += f" --devices {','.join(args.devices)}"
    if args.quick:
        command += " --quick"
    key = f"train:{args.name}:{args.optimizer}:b{batch_size}:e{epochs}:{result.precision}"
    if args.strategy != "default" or args.devices:
        key += f":{args.strategy}x{result.replicas}"
    key += ":quick" if args.quick else ""
    record(
        key,
        {
            "model": args.name,
            "command": command + " --record",
            "epochs": epochs,
            "batch_size": batch_size,
            "global_batch_size": result.global_batch_size,
            "replicas": result.replicas,
            "strategy": args.strategy,
            "devices": list(args.devices) if args.devices else None,
            "optimizer": args.optimizer,
            "learning_rate": result.learning_rate,
            "precision": result.precision,
            "seed": args.seed,
            "train_size": train_size,
            "test_accuracy": result.test_accuracy,
            "test_loss": result.test_loss,
            "train_seconds": result.train_seconds,
            "seconds_per_epoch": result.seconds_per_epoch,
            "images_per_second": train_size / result.seconds_per_epoch,
            "epoch_seconds": result.epoch_seconds,
            "history": result.history,
        },
    )
    print(f"Recorded the run as {key!r} in cnn_guide/results.json.")


def _evaluate(args: argparse.Namespace) -> int:
    import keras

    import cnn_guide.layers  # noqa: F401 - registers the book's custom layers for loading
    from cnn_guide.data import load_fashion_mnist
    from cnn_guide.training import evaluate

    if not args.path.is_file():
        raise ValueError(
            f"no model file at {args.path}; "
            f"save one with 'cnn-guide train NAME --save {args.path}'."
        )
    try:
        model = keras.saving.load_model(args.path)
    except Exception as error:
        raise ValueError(f"could not load {args.path} as a Keras model: {error}") from error
    if not getattr(model, "compiled", False):
        model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    data = load_fashion_mnist(args.data_dir)
    if args.quick:
        data = data.subset(test=QUICK_SIZES["test"])
    loss, accuracy = evaluate(model, data)
    print(
        f"{model.name}: test accuracy {accuracy:.4f}, loss {loss:.4f} "
        f"on {len(data.x_test):,} images."
    )
    return 0


def _bench(args: argparse.Namespace) -> int:
    from cnn_guide import models
    from cnn_guide.benchmark import check_fashion_model
    from cnn_guide.data import load_fashion_mnist
    from cnn_guide.recipes import get_recipe

    recipe = get_recipe(args.recipe)
    if args.models:
        names = args.models
    elif args.throughput or args.recipe == "protocol":
        names = [
            n for n in models.list_models() if tuple(models.get_info(n).input_shape) == (28, 28, 1)
        ]
    else:
        names = [recipe.model]
    for name in names:
        check_fashion_model(name)  # bad names fail before any measurement
    if not args.throughput and len(names) > 1:
        return _bench_each_in_own_process(args, names)
    data = load_fashion_mnist(args.data_dir)
    if args.throughput:
        return _bench_throughput(args, names, data)
    if args.quick:
        data = data.subset(train=1_000, valid=200, test=500)
    return _bench_timed(args, names[0], data)


def _bench_throughput(args: argparse.Namespace, names: list[str], data) -> int:
    from cnn_guide.benchmark import measure_throughput
    from cnn_guide.results import record

    steps = 2 if args.quick else args.steps
    print(f"{'model':<22}{'params':>11}{'MACs':>13}{'train img/s':>13}{'infer img/s':>13}")
    for name in names:
        speed = measure_throughput(name, data, batch_size=args.batch_size, train_steps=steps)
        print(
            f"{name:<22}{speed.parameters:>11,}{speed.macs:>13,}"
            f"{speed.train_images_per_second:>13,.0f}{speed.inference_images_per_second:>13,.0f}",
            flush=True,
        )
        if args.record:
            command = f"cnn-guide bench --throughput --models {name} --batch-size {args.batch_size}"
            command += f" --steps {steps} --record"
            record(f"throughput:{name}:b{args.batch_size}", {**speed.as_dict(), "command": command})
    if args.record:
        print("Recorded the figures in cnn_guide/results.json.")
    return 0


def _bench_each_in_own_process(args: argparse.Namespace, names: list[str]) -> int:
    """Benchmark several models one after another, each in a fresh process.

    A fresh process per model makes its peak memory its own (memory an
    earlier model held is not returned to the system) and keeps one
    model's failure from ending the others.
    """
    import subprocess

    from cnn_guide.benchmark import run_key
    from cnn_guide.results import format_benchmark_table, load_results

    failed = []
    for index, name in enumerate(names, start=1):
        print(f"[{index}/{len(names)}] {name}", flush=True)
        argv = [sys.executable, "-m", "cnn_guide.cli", "bench", "--recipe", args.recipe]
        argv += ["--models", name, "--budget", f"{args.budget:g}"]
        argv += ["--eval-every", f"{args.eval_every:g}"]
        argv += ["--epochs", f"{args.epochs:g}"] if args.epochs else []
        argv += ["--data-dir", str(args.data_dir)] if args.data_dir else []
        argv += ["--quick"] if args.quick else []
        argv += ["--record"] if args.record else []
        if subprocess.run(argv, check=False).returncode != 0:
            failed.append(name)
    if args.record:
        runs = load_results()
        keys = [run_key(args.recipe, n, args.budget, args.epochs, quick=args.quick) for n in names]
        print(format_benchmark_table([runs[key] for key in keys if key in runs]))
    if failed:
        print(f"cnn-guide bench: failed for {', '.join(failed)} (see above).", file=sys.stderr)
        return 1
    return 0


def _bench_timed(args: argparse.Namespace, name: str, data) -> int:
    from cnn_guide.benchmark import benchmark_record, run_key
    from cnn_guide.recipes import get_recipe
    from cnn_guide.results import format_benchmark_table, record
    from cnn_guide.timed import train_timed

    budget = 5.0 if args.quick else args.budget * 60
    eval_every = 2.0 if args.quick else args.eval_every
    recipe = get_recipe(args.recipe, model=name)
    limit = f"{budget / 60:g} min" + (f" or {args.epochs:g} epochs" if args.epochs else "")
    print(
        f"{name}, recipe {args.recipe}: {limit} of training on {len(data.x_train):,} images, "
        f"test accuracy on {len(data.x_test):,}",
        flush=True,
    )
    run = train_timed(
        recipe, data, budget_seconds=budget, epochs=args.epochs, eval_every=eval_every
    )
    command = f"cnn-guide bench --recipe {args.recipe} --models {name} --budget {args.budget:g}"
    command += f" --epochs {args.epochs:g}" if args.epochs else ""
    command += f" --eval-every {args.eval_every:g}" if args.eval_every != 30 else ""
    command += " --quick" if args.quick else ""
    row = benchmark_record(run, recipe, command=command + " --record", quick=args.quick)
    print(format_benchmark_table([row]), flush=True)
    if args.record:
        key = run_key(args.recipe, name, args.budget, args.epochs, quick=args.quick)
        record(key, row)
        print(f"Recorded as {key!r}.", flush=True)
    return 0


def _names(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"expected comma-separated model names, got {text!r}")
    return names


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def _devices(text: str) -> tuple[str, ...]:
    devices = tuple(part.strip() for part in text.split(",") if part.strip())
    if not devices or any(not d.startswith("/") for d in devices):
        raise argparse.ArgumentTypeError(
            f"expected device names separated by commas, such as /cpu:0,/cpu:1, got {text!r}"
        )
    return devices


def _shape(text: str) -> tuple[int, ...]:
    try:
        shape = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected H,W,C such as 28,28,1, got {text!r}") from None
    if len(shape) != 3:
        raise argparse.ArgumentTypeError(f"expected three numbers H,W,C, got {text!r}")
    return shape


if __name__ == "__main__":
    sys.exit(main())
