"""Argument checks that the layers and builders share.

Each check returns the value it accepts, as a plain ``int``, so that a caller
can write ``self.filters = positive_int(filters, "filters", self.name)``, and
raises a ``ValueError`` that says what it received, what it expected and how
to fix the call.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

__all__ = ["boolean", "int_at_least", "positive_int", "positive_ints"]


def _prefix(owner: str | None) -> str:
    return f"{owner}: " if owner else ""


def _how_to_fix(value: object, minimum: int) -> str:
    """One sentence on how to turn ``value`` into an accepted integer."""
    if isinstance(value, bool):
        return f"Pass a number such as {max(minimum, 1)}, not {value}."
    if isinstance(value, float) and value.is_integer() and value >= minimum:
        return f"Pass {int(value)} as an int, not a float."
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return f"Pass {int(value)} as an int, not a string."
    if isinstance(value, numbers.Integral):
        return f"Pass {minimum} or more."
    return f"Pass a whole number of {minimum} or more."


def boolean(value: object, name: str, owner: str | None = None) -> bool:
    """Check that ``value`` is ``True`` or ``False`` (not ``1``, ``"false"``, ``None``).

    A string such as ``"false"`` is truthy, so accepting it would silently
    build the wrong model; on the command line ``--option NAME=false`` is
    read as JSON and arrives as ``False``.

    Args:
        value: The argument to check.
        name: The argument's name, for the message.
        owner: The layer or model it was passed to, for the message.

    Returns:
        ``value``.

    Raises:
        ValueError: If ``value`` is not a ``bool``.
    """
    if isinstance(value, bool):
        return value
    raise ValueError(
        f"{_prefix(owner)}{name} must be True or False, got {value!r}. Pass a bool "
        f"(on the command line: --option {name}=true or {name}=false, in lower case)."
    )


def int_at_least(value: object, name: str, owner: str | None = None, *, minimum: int) -> int:
    """Check that ``value`` is an integer of at least ``minimum``.

    Python and NumPy integers are accepted; ``bool``, floats (even ``3.0``)
    and strings are not.

    Args:
        value: The argument to check.
        name: The argument's name, for the message.
        owner: The layer or model it was passed to, for the message.
        minimum: The smallest accepted value.

    Returns:
        ``value`` as an ``int``.

    Raises:
        ValueError: If ``value`` is not an integer of at least ``minimum``.
    """
    if isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= minimum:
        return int(value)
    raise ValueError(
        f"{_prefix(owner)}{name} must be an integer >= {minimum}, got {value!r}. "
        + _how_to_fix(value, minimum)
    )


def positive_int(value: object, name: str, owner: str | None = None) -> int:
    """Check that ``value`` is a positive integer (1, 2, 3, ...).

    Args:
        value: The argument to check.
        name: The argument's name, for the message.
        owner: The layer or model it was passed to, for the message.

    Returns:
        ``value`` as an ``int``.

    Raises:
        ValueError: If ``value`` is not a positive integer, e.g.
            ``"ResNet: filters must be a positive integer, got 0. Pass 1 or more."``
    """
    try:
        return int_at_least(value, name, owner, minimum=1)
    except ValueError:
        raise ValueError(
            f"{_prefix(owner)}{name} must be a positive integer, got {value!r}. "
            + _how_to_fix(value, 1)
        ) from None


def positive_ints(values: object, name: str, owner: str | None = None) -> tuple[int, ...]:
    """Check that ``values`` is a non-empty sequence of positive integers.

    Args:
        values: The argument to check, such as stage widths ``(16, 32, 64)``.
        name: The argument's name, for the message.
        owner: The layer or model it was passed to, for the message.

    Returns:
        ``values`` as a tuple of ``int``.

    Raises:
        ValueError: If ``values`` is not a sequence (a single number or a
            string), is empty, or holds an entry that is not a positive integer.
    """
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
        raise ValueError(
            f"{_prefix(owner)}{name} must be a non-empty sequence of positive integers, "
            f"got {values!r}. Pass a tuple such as (16, 32, 64)."
        )
    for value in values:
        if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
            raise ValueError(
                f"{_prefix(owner)}every entry of {name} must be a positive integer, got "
                f"{value!r} in {values!r}. " + _how_to_fix(value, 1)
            )
    return tuple(int(value) for value in values)
