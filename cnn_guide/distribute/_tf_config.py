"""``TF_CONFIG``, the cluster description every machine of a multi-worker run reads.

It is checked up front, so that a typo fails at once with a message that
shows a correct example, instead of hanging for minutes on a network timeout.
"""

from __future__ import annotations

import json
import os
from typing import Any, NoReturn

TF_CONFIG_EXAMPLE = (
    '{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
    '"task": {"type": "worker", "index": 0}}'
)
"""A valid ``TF_CONFIG`` for two machines, as it is set on the first one (the
second one sets ``"index": 1``)."""

_TASK_TYPES = ("worker", "chief")


def read_tf_config(text: str | None = None) -> dict[str, Any]:
    """Parse and check a ``TF_CONFIG``, the cluster description of a multi-worker run.

    Every machine of the cluster runs the same program with the same
    ``cluster`` and its own ``task``. ``TF_CONFIG_EXAMPLE`` shows the shape:
    a ``cluster`` with a ``worker`` list of ``host:port`` addresses (and
    optionally a ``chief`` list of one address), and a ``task`` with ``type``
    ``"worker"`` or ``"chief"`` and the ``index`` of this machine in that list.

    Args:
        text: The JSON text; ``None`` reads the ``TF_CONFIG`` environment
            variable.

    Returns:
        The parsed configuration.

    Raises:
        ValueError: Saying what is wrong and showing a correct example, if the
            variable is unset, not JSON, or its cluster or task is malformed.
    """
    if text is None:
        text = os.environ.get("TF_CONFIG")
    if text is None or not text.strip():
        _bad_tf_config(
            "TF_CONFIG is not set. The multi-worker strategy reads the cluster from it; "
            "on a single machine use strategy 'mirrored' instead",
            text,
        )
    try:
        config = json.loads(text)
    except json.JSONDecodeError as error:
        _bad_tf_config(f"it is not valid JSON ({error})", text)
    if not isinstance(config, dict):
        _bad_tf_config(f"it must be a JSON object, got a {type(config).__name__}", text)
    cluster = config.get("cluster")
    if not isinstance(cluster, dict):
        _bad_tf_config("it needs a 'cluster' object", text)
    extra = sorted(set(cluster) - set(_TASK_TYPES))
    if extra:
        why = (
            " ('ps' belongs to ParameterServerStrategy, which this book does not use)"
            if "ps" in extra
            else ""
        )
        _bad_tf_config(
            f"the cluster may list only 'worker' and 'chief' machines, got {extra}{why}", text
        )
    workers = cluster.get("worker")
    if not isinstance(workers, list) or not workers:
        _bad_tf_config("cluster.worker must be a non-empty list of 'host:port' strings", text)
    if "chief" in cluster and (
        not isinstance(cluster["chief"], list) or len(cluster["chief"]) != 1
    ):
        _bad_tf_config("cluster.chief must be a list of exactly one 'host:port' string", text)
    addresses = [*cluster.get("chief", []), *workers]
    for address in addresses:
        problem = _address_problem(address)
        if problem:
            _bad_tf_config(f"bad address {address!r} in the cluster: {problem}", text)
    duplicates = sorted({a for a in addresses if addresses.count(a) > 1})
    if duplicates:
        _bad_tf_config(f"every machine needs its own address, {duplicates} repeats", text)
    task = config.get("task")
    if not isinstance(task, dict):
        _bad_tf_config("it needs a 'task' object saying which machine this is", text)
    task_type = task.get("type")
    if task_type not in _TASK_TYPES:
        _bad_tf_config(f"task.type must be 'worker' or 'chief', got {task_type!r}", text)
    if task_type not in cluster:
        _bad_tf_config(f"task.type is {task_type!r} but the cluster has no {task_type!r}", text)
    index = task.get("index")
    size = len(cluster[task_type])
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < size:
        _bad_tf_config(
            f"task.index must be an integer from 0 to {size - 1} (the cluster lists {size} "
            f"{task_type} address(es)), got {index!r}",
            text,
        )
    return config


def _bad_tf_config(problem: str, text: str | None) -> NoReturn:
    shown = "unset" if text is None else repr(text if len(text) <= 300 else text[:300] + "...")
    raise ValueError(
        f"Malformed TF_CONFIG: {problem}. Got: {shown}. A correct TF_CONFIG for two "
        f"machines, on the first one: {TF_CONFIG_EXAMPLE} (the second one sets "
        '"index": 1).'
    )


def _address_problem(address: object) -> str | None:
    if not isinstance(address, str):
        return f"expected a 'host:port' string, got a {type(address).__name__}"
    host, sep, port = address.rpartition(":")
    if not sep or not host:
        return "expected 'host:port', such as '10.0.0.2:12345'"
    if not port.isdigit() or not 0 < int(port) < 65536:
        return f"the port must be a number from 1 to 65535, got {port!r}"
    return None
