"""MkDocs hook: examples execute in quiet kernels, at the book's short budget.

Examples execute in IPython kernels that inherit this process' environment.
TensorFlow writes start-up logs straight to file descriptor 2, which
ipykernel would capture onto the page; a kernel profile with
``capture_fd_output = False`` leaves them in the build log instead, and its
start-up script imports TensorFlow without the lines that report nothing
wrong (`cnn_guide._quiet`).
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

# Kernels leave TensorFlow's C++ output in the build log instead of on the
# page, and do not warn that they talk to the build over local TCP.
_KERNEL_CONFIG = 'c.IPKernelApp.capture_fd_output = False\nc.IPKernelApp.log_level = "ERROR"\n'
# Run in every kernel before the page's first cell: TensorFlow without its
# start-up noise, the same quiet start as the cnn-guide command.
_KERNEL_STARTUP = "from cnn_guide._quiet import import_tensorflow\n\nimport_tensorflow()\n"
_profile_dir: tempfile.TemporaryDirectory | None = None


def on_startup(command: str, dirty: bool) -> None:
    """Point executed kernels at a profile that does not capture fd output."""
    global _profile_dir
    _profile_dir = tempfile.TemporaryDirectory(prefix="cnn-guide-ipython-")
    profile = Path(_profile_dir.name) / "profile_default"
    profile.mkdir(parents=True)
    (profile / "ipython_kernel_config.py").write_text(_KERNEL_CONFIG)
    (profile / "startup").mkdir()
    (profile / "startup" / "00-quiet-tensorflow.py").write_text(_KERNEL_STARTUP)
    os.environ["IPYTHONDIR"] = _profile_dir.name
    # mkdocs-jupyter logs two lines per notebook ("Converting", "Copied"); the
    # progress hook says the same with times.
    for name in ("mkdocs.plugins.mkdocs_jupyter", "mkdocs.mkdocs-jupyter"):
        logging.getLogger(name).setLevel(logging.WARNING)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # Examples default to their full budget; a site build runs the short one.
    os.environ.setdefault("CNN_GUIDE_BUDGET", "site")
