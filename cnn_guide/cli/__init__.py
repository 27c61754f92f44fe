"""The ``cnn-guide`` command: list, inspect, train, evaluate and benchmark the book's models.

```text
cnn-guide list
cnn-guide summary resnet18
cnn-guide train simple_cnn --epochs 10 --save simple_cnn.keras
cnn-guide train simple_cnn --recipe seed --record
cnn-guide train simple_cnn --strategy mirrored --global-batch-size 256 --precision auto
cnn-guide evaluate simple_cnn.keras
cnn-guide bench --record             # every variant under the benchmark recipe
cnn-guide record --list              # the runs the book draws on: recorded, missing
cnn-guide book                       # build the book, every example executed
```

One module per subcommand, each with its parser next to its handler.
TensorFlow is imported only by the commands that need it, so ``--help``
answers at once.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from cnn_guide._quiet import import_tensorflow
from cnn_guide.cli import bench, book, evaluate, listing, record, summary, train

__all__ = ["main"]

_COMMANDS = (listing, summary, train, evaluate, bench, record, book)


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
    if args.needs_tensorflow:
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
    for command in _COMMANDS:
        command.add_parser(commands)
    return parser


if __name__ == "__main__":
    sys.exit(main())
