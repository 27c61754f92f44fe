"""``cnn-guide list``: every model of the book."""

from __future__ import annotations

import argparse


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Add the ``list`` command."""
    parser = commands.add_parser("list", help="list every model of the book")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--variants", action="store_true", help="Fashion-MNIST variants only")
    group.add_argument("--paper", action="store_true", help="paper configurations only")
    parser.set_defaults(run=run, needs_tensorflow=True)


def run(args: argparse.Namespace) -> int:
    """Print one line per model."""
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
