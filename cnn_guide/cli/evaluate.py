"""``cnn-guide evaluate``: a saved model's accuracy on the test images, or a full run's."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from cnn_guide.budget import QUICK_SIZES


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Add the ``evaluate`` command."""
    parser = commands.add_parser(
        "evaluate",
        help="evaluate a saved .keras model, or a full run's kept weights, on the test set",
        epilog="examples:\n"
        "  cnn-guide evaluate model.keras         a model saved with 'cnn-guide train --save'\n"
        "  cnn-guide evaluate resnet_fashion      the weights resnet_fashion's full run kept\n"
        "  cnn-guide evaluate flagship            the flagship's (seed 42), with test-time flips",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "path",
        help="a model saved with 'cnn-guide train --save', the name of a network whose full "
        "run kept its weights (cnn_guide.evidence.FULL_RUNS), or 'flagship' "
        "(cnn_guide.flagship; 'flagship:43' for another of its seeds)",
    )
    parser.add_argument(
        "--quick", action="store_true", help=f"first {QUICK_SIZES['test']:,} test images only"
    )
    parser.add_argument(
        "--data-dir", type=Path, help="directory holding the four Fashion-MNIST .gz files"
    )
    parser.set_defaults(run=run, needs_tensorflow=True)


def run(args: argparse.Namespace) -> int:
    """Load the model and score the test images the way the book does."""
    from cnn_guide.data import load_fashion_mnist
    from cnn_guide.training import evaluate

    model, flip = _load(args.path)
    data = load_fashion_mnist(args.data_dir)
    if args.quick:
        data = data.subset(test=QUICK_SIZES["test"])
    test = evaluate(model, data.x_test, data.y_test, flip=flip)
    print(
        f"{model.name}: test accuracy {test.accuracy:.4f}, loss {test.loss:.4f} "
        f"on {len(data.x_test):,} images"
        + (" (each averaged with its mirror image, as the run was scored)." if flip else ".")
    )
    return 0


def _load(path: str) -> tuple[Any, bool]:
    """The model to score, and whether its run scored it with test-time flips.

    ``path`` is a saved model, a full run's name, or ``flagship[:SEED]``.
    """
    import keras

    import cnn_guide.layers  # noqa: F401 - registers the book's custom layers for loading
    from cnn_guide.evidence import FULL_RUNS
    from cnn_guide.flagship import FLAGSHIP_RECIPE
    from cnn_guide.inspection import trained_flagship, trained_full_run

    if path in FULL_RUNS and not Path(path).exists():
        return trained_full_run(path), False
    name, _, seed = path.partition(":")
    if name == "flagship" and not Path(path).exists():
        if seed and not seed.isdigit():
            raise ValueError(
                f"expected flagship or flagship:SEED such as flagship:43, got {path!r}."
            )
        return trained_flagship(int(seed or 42)), FLAGSHIP_RECIPE["flip_at_test"]
    if not Path(path).is_file():
        raise ValueError(
            f"no model file at {path}, and no full run of that name; save a model with "
            f"'cnn-guide train NAME --save {path}', or name one of the full runs: "
            f"{', '.join(FULL_RUNS)}."
        )
    try:
        return keras.saving.load_model(path), False
    except Exception as error:
        raise ValueError(f"could not load {path} as a Keras model: {error}") from error
