"""Where a run ran: the machine, its CPU's vector instructions, and the code's commit.

Machines of one kind differ several-fold in training speed, so every
recorded run carries these facts (`cnn_guide.runs.RunRecord.machine`), and
pages compare timings only within one kind (`machine_kind`).
"""

from __future__ import annotations

import os
import platform
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "cpu_generation",
    "cpu_vector_instructions",
    "git_commit",
    "machine_info",
    "machine_kind",
]


def machine_kind(machine: Mapping[str, Any]) -> str:
    """The machine in words: its GPU, or its CPU (and generation), cores and vector instructions.

    Two CPUs sold under one name ("AMD EPYC") can differ twofold in speed, so
    the generation is part of the kind where it was recorded.
    """
    if machine.get("gpu"):
        return str(machine["gpu"])
    cpu = machine.get("cpu", "an unknown CPU")
    if machine.get("cpu_generation"):
        cpu += f" ({machine['cpu_generation']})"
    kind = f"{cpu}, {machine.get('cores', '?')} cores"
    return kind + (f", {machine['isa']}" if machine.get("isa") else "")


def machine_info() -> dict[str, Any]:
    """The hardware and software a measurement ran on."""
    import keras
    import numpy
    import tensorflow as tf

    gpus = [
        tf.config.experimental.get_device_details(device).get("device_name", device.name)
        for device in tf.config.list_physical_devices("GPU")
    ]
    return {
        "cpu": _cpu_model(),
        "cpu_generation": cpu_generation(),
        "cores": os.cpu_count(),
        "isa": cpu_vector_instructions(),
        "gpu": ", ".join(gpus) or None,
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": numpy.__version__,
        "load_average": _load_average(),
    }


def _load_average() -> list[float] | None:
    """The 1-, 5- and 15-minute load averages when the run ended (where the OS has them).

    A run keeps about as many cores busy as it has; a higher load means other
    work shared the machine, and the run's timings are slower than a quiet
    machine's (its accuracy is not affected).
    """
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except (AttributeError, OSError):
        return None


# The widest vector instructions first: what sets a CPU's training speed (machines
# sold under one model name, e.g. "AMD EPYC", range from AVX2 to AVX-512 with BF16).
_VECTOR_INSTRUCTIONS = (
    ("amx_bf16", "AMX"),
    ("avx512_bf16", "AVX-512 with BF16"),
    ("avx512f", "AVX-512"),
    ("avx2", "AVX2"),
    ("asimd", "NEON"),
)


def cpu_vector_instructions(cpuinfo: str | os.PathLike = "/proc/cpuinfo") -> str | None:
    """The CPU's widest vector instructions, e.g. ``"AVX-512 with BF16"``, or ``None``.

    Reads the ``flags`` (x86) or ``Features`` (Arm) line of ``/proc/cpuinfo``;
    ``None`` where the file does not exist (macOS, Windows) or names none.
    """
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return None
    flags = {
        flag
        for line in text.splitlines()
        if line.split(":", 1)[0].strip() in ("flags", "Features")
        for flag in line.split(":", 1)[1].split()
    }
    return next((name for flag, name in _VECTOR_INSTRUCTIONS if flag in flags), None)


def cpu_generation(cpuinfo: str | os.PathLike = "/proc/cpuinfo") -> str | None:
    """The CPU's family and model numbers, e.g. ``"family 25 model 17"`` (AMD Zen 4).

    Returns:
        ``None`` where the system does not say (not Linux, or an ARM CPU).
    """
    try:
        fields = dict(
            (key.strip(), value.strip())
            for key, _, value in (
                line.partition(":") for line in Path(cpuinfo).read_text().splitlines()[:30]
            )
        )
    except OSError:
        return None
    if "cpu family" not in fields or "model" not in fields:
        return None
    return f"family {fields['cpu family']} model {fields['model']}"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def git_commit() -> str | None:
    """The checkout's short commit, or ``None`` outside a git checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).parent,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None
