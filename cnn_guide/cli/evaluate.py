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
        "  cnn-guide evaluate resnet_fashion      the weights resnet_fashion's full run kept",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "path",
        help="a model saved with 'cnn-guide train --save', or the name of a network whose full "
        "run kept its weights (cnn_guide.evidence.FULL_RUNS)",
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

    model = _load(args.path)
    data = load_fashion_mnist(args.data_dir)
    if args.quick:
        data = data.subset(test=QUICK_SIZES["test"])
    test = evaluate(model, data.x_test, data.y_test)
    print(
        f"{model.name}: test accuracy {test.accuracy:.4f}, loss {test.loss:.4f} "
        f"on {len(data.x_test):,} images."
    )
    return 0


def _load(path: str) -> Any:
    """The model saved at ``path``, or the network of a full run with its kept weights."""
    import keras

    import cnn_guide.layers  # noqa: F401 - registers the book's custom layers for loading
    from cnn_guide.evidence import FULL_RUNS
    from cnn_guide.inspection import trained_full_run

    if path in FULL_RUNS and not Path(path).exists():
        return trained_full_run(path)
    if not Path(path).is_file():
        raise ValueError(
            f"no model file at {path}, and no full run of that name; save a model with "
            f"'cnn-guide train NAME --save {path}', or name one of the full runs: "
            f"{', '.join(FULL_RUNS)}."
        )
    try:
        return keras.saving.load_model(path)
    except Exception as error:
        raise ValueError(f"could not load {path} as a Keras model: {error}") from error
