"""``cnn-guide evaluate``: a saved model's accuracy on the test images."""

from __future__ import annotations

import argparse
from pathlib import Path

from cnn_guide.budget import QUICK_SIZES


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Add the ``evaluate`` command."""
    parser = commands.add_parser("evaluate", help="evaluate a saved .keras model on the test set")
    parser.add_argument("path", type=Path, help="a model saved with 'cnn-guide train --save'")
    parser.add_argument(
        "--quick", action="store_true", help=f"first {QUICK_SIZES['test']:,} test images only"
    )
    parser.add_argument(
        "--data-dir", type=Path, help="directory holding the four Fashion-MNIST .gz files"
    )
    parser.set_defaults(run=run, needs_tensorflow=True)


def run(args: argparse.Namespace) -> int:
    """Load the model and score the test images the way the book does."""
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
    data = load_fashion_mnist(args.data_dir)
    if args.quick:
        data = data.subset(test=QUICK_SIZES["test"])
    test = evaluate(model, data.x_test, data.y_test)
    print(
        f"{model.name}: test accuracy {test.accuracy:.4f}, loss {test.loss:.4f} "
        f"on {len(data.x_test):,} images."
    )
    return 0
