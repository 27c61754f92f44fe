"""What the subcommands share: argument types, and the recipe's options.

Every training setting of `cnn_guide.recipes.Recipe` becomes one option
(``--learning-rate``, ``--flip``/``--no-flip``, ``--epochs``, ...), with the
help text the field carries; `spec_from_args` turns the options given into a
`cnn_guide.runs.RunSpec`, whose key and command name the same fields. Adding
a recipe field adds its option here without another line.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cnn_guide.budget import QUICK_SIZES
from cnn_guide.distribute import STRATEGIES  # no TensorFlow import: --help stays fast
from cnn_guide.recipes import PRECISIONS, SCHEDULES, STOP_FIELDS, Recipe, list_recipes

if TYPE_CHECKING:
    from cnn_guide.runs import RunSpec


def _number(kind: type, minimum: float | None, above: bool, expected: str) -> Any:
    """An argparse type: ``kind`` (int or float), checked against ``minimum``."""

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        if minimum is not None and (value <= minimum if above else value < minimum):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text}")
        return value

    return parse


positive_int = _number(int, 1, False, "a positive integer")
non_negative_int = _number(int, 0, False, "an integer of at least 0")
integer = _number(int, None, False, "an integer")
positive_float = _number(float, 0, True, "a positive number")
non_negative_float = _number(float, 0, False, "a number of at least 0")


def _or_none(kind: Any) -> Any:
    def parse(text: str) -> Any:
        return None if text.strip().lower() == "none" else kind(text)

    parse.__name__ = kind.__name__
    return parse


def names(text: str) -> list[str]:
    """Comma-separated names."""
    found = [name.strip() for name in text.split(",") if name.strip()]
    if not found:
        raise argparse.ArgumentTypeError(f"expected comma-separated model names, got {text!r}")
    return found


def devices(text: str) -> tuple[str, ...]:
    """Comma-separated device names such as /cpu:0,/cpu:1."""
    found = tuple(part.strip() for part in text.split(",") if part.strip())
    if not found or any(not d.startswith("/") for d in found):
        raise argparse.ArgumentTypeError(
            f"expected device names separated by commas, such as /cpu:0,/cpu:1, got {text!r}"
        )
    return found


def shape(text: str) -> tuple[int, ...]:
    """H,W,C."""
    try:
        values = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected H,W,C such as 28,28,1, got {text!r}") from None
    if len(values) != 3:
        raise argparse.ArgumentTypeError(f"expected three numbers H,W,C, got {text!r}")
    return values


# How each recipe field is read from the command line: by name, else by type.
_FIELD_PARSERS = {"batch_size": positive_int, "shift": non_negative_int, "seed": integer}
_PARSERS = {
    "str": str,
    "float": non_negative_float,
    "float | None": _or_none(positive_float),
    "int | None": _or_none(positive_int),
}
_CHOICES = {"schedule": SCHEDULES, "precision": PRECISIONS}


def add_data_options(parser: argparse.ArgumentParser) -> None:
    """``--quick`` and ``--data-dir``."""
    parser.add_argument(
        "--quick",
        action="store_true",
        help=(
            f"smoke run: {QUICK_SIZES['train']:,} training, {QUICK_SIZES['valid']} validation "
            f"and {QUICK_SIZES['test']} test images, 1 epoch unless a stop option is given"
        ),
    )
    parser.add_argument(
        "--data-dir", type=Path, help="directory holding the four Fashion-MNIST .gz files"
    )


def add_recipe_options(parser: argparse.ArgumentParser, default_recipe: str) -> None:
    """``--recipe`` and one option per recipe setting, each defaulting to the recipe's."""
    parser.add_argument(
        "--recipe",
        default=default_recipe,
        choices=list_recipes(),
        metavar="NAME",
        help=f"training recipe, one of: {', '.join(list_recipes())} (default {default_recipe}); "
        "'cnn-guide train --recipes' describes them",
    )
    settings = parser.add_argument_group(
        "recipe settings", "change one setting of the recipe (default: the recipe's own)"
    )
    stop = parser.add_argument_group(
        "stop rule",
        "when training ends (default: the recipe's rule); giving any of these replaces "
        "the whole rule, and training ends at whichever comes first",
    )
    for field in dataclasses.fields(Recipe):
        if "help" not in field.metadata:
            continue
        flag = "--" + field.name.replace("_", "-")
        group = stop if field.name in STOP_FIELDS else settings
        if field.type == "bool":
            group.add_argument(
                flag,
                action=argparse.BooleanOptionalAction,
                default=argparse.SUPPRESS,
                help=field.metadata["help"],
            )
            continue
        group.add_argument(
            flag,
            type=_FIELD_PARSERS.get(field.name) or _PARSERS[field.type],
            choices=_CHOICES.get(field.name),
            default=argparse.SUPPRESS,
            metavar=field.metadata["metavar"],
            help=field.metadata["help"],
        )


def add_strategy_options(parser: argparse.ArgumentParser) -> None:
    """``--strategy``, ``--devices`` and ``--tpu``."""
    group = parser.add_argument_group("devices")
    group.add_argument(
        "--strategy",
        choices=STRATEGIES,
        default="default",
        help=(
            "tf.distribute strategy: one device, all local GPUs (or --devices), "
            "several machines (TF_CONFIG), or a TPU (default: default)"
        ),
    )
    group.add_argument(
        "--devices",
        type=devices,
        metavar="DEV,DEV",
        help="devices for --strategy mirrored, e.g. /gpu:0,/gpu:1 or /cpu:0,/cpu:1",
    )
    group.add_argument("--tpu", metavar="NAME", help="TPU name or address for --strategy tpu")


def recipe_changes(args: argparse.Namespace) -> dict[str, Any]:
    """The recipe settings given on the command line, by field name."""
    changes = {
        field.name: getattr(args, field.name)
        for field in dataclasses.fields(Recipe)
        if "help" in field.metadata and hasattr(args, field.name)
    }
    return changes


def option(text: str) -> tuple[str, Any]:
    """A builder option NAME=VALUE, its value read as JSON (false, 3, [16, 32], "same")."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip().isidentifier():
        raise argparse.ArgumentTypeError(
            f"expected NAME=VALUE such as skip_connections=false, got {text!r}"
        )
    try:
        return name.strip(), json.loads(value)
    except json.JSONDecodeError:
        return name.strip(), value  # a bare word: a string


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """``--option NAME=VALUE``, repeatable: builder arguments that change the model."""
    parser.add_argument(
        "--option",
        dest="options",
        type=option,
        action="append",
        metavar="NAME=VALUE",
        help="a builder argument that changes the model, e.g. skip_connections=false or "
        "cardinality=4 (repeatable; 'cnn-guide summary NAME' shows the model)",
    )


def classes(text: str) -> tuple[int, ...]:
    """A comma-separated list of class indexes, e.g. ``0,1,2,3,4``."""
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected class indexes separated by commas, e.g. 0,1,2,3,4; got {text!r}"
        ) from None


def freeze(text: str) -> str:
    """``base`` or ``except-top:N`` (`cnn_guide.runs.trained_top_blocks`)."""
    from cnn_guide.runs import trained_top_blocks

    try:
        trained_top_blocks(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def add_task_options(parser: argparse.ArgumentParser) -> None:
    """What a run learns, where it is not all ten classes from scratch (`RunSpec.task`)."""
    from cnn_guide.runs import TASK_FIELDS

    group = parser.add_argument_group("the task (transfer learning, few labels)")
    types = {
        "classes": classes,
        "labels_per_class": positive_int,
        "start_from": str,
        "freeze": freeze,
    }
    metavars = {
        "classes": "A,B,...",
        "labels_per_class": "N",
        "start_from": "KEY",
        "freeze": "base|except-top:N",
    }
    for name, meaning in TASK_FIELDS.items():
        group.add_argument(
            "--" + name.replace("_", "-"),
            type=types.get(name, str),
            metavar=metavars.get(name),
            help=meaning,
        )


def spec_from_args(args: argparse.Namespace, **changes: Any) -> RunSpec:
    """The run the ``train`` options ask for (with more recipe ``changes``, if any)."""
    from cnn_guide.runs import TASK_FIELDS, RunSpec

    return RunSpec.of(
        args.name,
        args.recipe,
        strategy=args.strategy,
        devices=args.devices,
        quick=args.quick,
        options=dict(args.options or ()),
        task={name: getattr(args, name, None) for name in TASK_FIELDS},
        **{**recipe_changes(args), **changes},
    )
