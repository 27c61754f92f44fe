"""TensorFlow's start-up, without the log lines that report nothing wrong.

While it loads and probes for devices, TensorFlow writes a few lines straight
to file descriptor 2, before any logging setting applies (absl logs everything
"before InitializeLog", whatever ``TF_CPP_MIN_LOG_LEVEL`` says): the oneDNN
notice, "Could not find cuda drivers", the CPU instructions it was not built
for and, on a machine without a GPU, "failed call to cuInit". None is an
error, and a reader cannot tell that. `import_tensorflow` imports TensorFlow
and Keras with descriptor 2 passed through a filter that drops those lines
and nothing else, so a real problem still shows.

The command line calls it before any command that needs TensorFlow, the
book's kernels before a page's first cell, and an example as its first line
(``cnn_guide.import_tensorflow()``), before ``import keras`` would load
TensorFlow unfiltered.

This module imports nothing heavy itself: ``cnn-guide --help`` stays fast.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from typing import IO, cast

__all__ = ["filtered_stderr", "import_tensorflow", "is_start_up_noise"]

# Lines TensorFlow 2.16-2.21 prints on a healthy CPU-only or GPU machine.
_NOISE = re.compile(
    r"All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|oneDNN custom operations are on"
    r"|Could not find cuda drivers on your machine"
    r"|failed call to cuInit"
    r"|This TensorFlow binary is optimized to use available CPU instructions"
    r"|^To enable the following instructions: .* rebuild TensorFlow"
    r"|Unable to register cu(?:DNN|FFT|BLAS) factory"
    r"|TF-TRT Warning: Could not find TensorRT"
    r"|computation placer already registered"
)

# The filter runs in a child process rather than a thread or a temporary file:
# when TensorFlow dies while loading (a fatal log line, then abort, as on a CPU
# without the instructions it was built for), the child still reads the pipe
# to its end and passes the fatal line on. It ignores Ctrl-C, which is this
# process' to handle.
_FILTER = """\
import re, signal, sys
signal.signal(signal.SIGINT, signal.SIG_IGN)
noise = re.compile(sys.argv[1])
for line in sys.stdin.buffer:
    if not noise.search(line.decode(errors="replace")):
        sys.stdout.buffer.write(line)
        sys.stdout.buffer.flush()
"""
# How long to wait for the filter once the block is over. It ends as soon as
# the pipe closes, unless a process started inside the block still holds it.
_FILTER_WAIT_S = 10


def is_start_up_noise(line: str) -> bool:
    """Whether ``line`` is one of TensorFlow's harmless start-up messages."""
    return bool(_NOISE.search(line))


@contextlib.contextmanager
def filtered_stderr() -> Iterator[None]:
    """Pass what is written to file descriptor 2 in this block through the filter.

    Everything that is not start-up noise reaches the original descriptor 2,
    in order, by the end of the block; C++ code and child processes are
    filtered as well as Python. Where no filter process can start, the block
    runs unfiltered.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        child = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", _FILTER, _NOISE.pattern],
            stdin=subprocess.PIPE,
            stdout=saved,
        )
    except OSError:  # no interpreter to run it (an embedded Python): noise beats silence
        os.close(saved)
        yield
        return
    pipe = cast("IO[bytes]", child.stdin)  # never None: stdin=PIPE
    try:
        os.dup2(pipe.fileno(), 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        pipe.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(_FILTER_WAIT_S)


def import_tensorflow() -> None:
    """Import TensorFlow and Keras and list the devices, muting start-up noise.

    Listing the physical devices runs the CUDA probe inside the filtered
    block; it does not initialize the runtime, so logical devices can still be
    configured afterwards. Does nothing once TensorFlow is imported.
    """
    # Once started, TensorFlow's own logger shows errors only. TF_ENABLE_ONEDNN_OPTS
    # stays as it is (off, it would change the numbers); the filter drops its notice.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "tensorflow" in sys.modules:
        return
    with filtered_stderr():
        import keras  # noqa: F401
        import tensorflow as tf

        tf.config.list_physical_devices()
