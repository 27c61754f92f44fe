"""TensorFlow's start-up, without the log lines that report nothing wrong.

While it loads and probes for devices, TensorFlow writes a few lines straight
to file descriptor 2, before any logging setting applies (absl logs everything
"before InitializeLog", whatever ``TF_CPP_MIN_LOG_LEVEL`` says): the oneDNN
notice, "Could not find cuda drivers", the CPU instructions it was not built
for and, on a machine without a GPU, "failed call to cuInit". None is an
error, and a reader cannot tell that. `import_tensorflow` imports TensorFlow
and Keras with descriptor 2 pointed at a temporary file, then writes back every
line that is not one of those, so a real problem still shows.

This module imports nothing heavy itself: ``cnn-guide --help`` stays fast.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile

__all__ = ["import_tensorflow", "is_start_up_noise"]

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


def is_start_up_noise(line: str) -> bool:
    """Whether ``line`` is one of TensorFlow's harmless start-up messages."""
    return bool(_NOISE.search(line))


def import_tensorflow() -> None:
    """Import TensorFlow and Keras and list the devices, muting start-up noise.

    Listing the physical devices runs the CUDA probe inside the muted window;
    it does not initialize the runtime, so logical devices can still be
    configured afterwards. Lines that are not start-up noise are written back
    to standard error. Does nothing once TensorFlow is imported.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        try:
            os.dup2(captured.fileno(), 2)
            import keras  # noqa: F401
            import tensorflow as tf

            tf.config.list_physical_devices()
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            text = captured.read().decode(errors="replace")
            kept = [line for line in text.splitlines() if not is_start_up_noise(line)]
            if kept:
                print("\n".join(kept), file=sys.stderr, flush=True)
