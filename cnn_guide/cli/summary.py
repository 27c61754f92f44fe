"""``cnn-guide summary``: a model's layers and parameters."""

from __future__ import annotations

import argparse

from cnn_guide.cli._args import positive_int, shape


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Add the ``summary`` command."""
    parser = commands.add_parser("summary", help="print a model's layers and parameters")
    parser.add_argument("name", help="model name, from 'cnn-guide list'")
    parser.add_argument(
        "--input-shape", type=shape, metavar="H,W,C", help="input shape (default: the model's)"
    )
    parser.add_argument("--num-classes", type=positive_int, metavar="N", help="classes")
    parser.set_defaults(run=run, needs_tensorflow=True)


def run(args: argparse.Namespace) -> int:
    """Print the Keras summary, the paper and the reference parameter count."""
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
