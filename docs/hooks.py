"""MkDocs hooks: a quiet kernel for executed examples, and self-contained pages.

* Examples execute in IPython kernels that inherit this process' environment.
  TensorFlow writes start-up logs straight to file descriptor 2, which
  ipykernel would capture onto the page; a kernel profile with
  ``capture_fd_output = False`` leaves them in the build log instead.
* Notebook pages reference MathJax, RequireJS and Mermaid on public CDNs. The
  site serves its own MathJax, so those tags are dropped: pages make no
  third-party requests and work offline.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

_KERNEL_CONFIG = "c.IPKernelApp.capture_fd_output = False\n"
_THIRD_PARTY_SCRIPT = re.compile(
    r"<script\b[^>]*\bsrc=\"https?://[^\"]+\"[^>]*>\s*</script>\s*", re.IGNORECASE
)
_profile_dir: tempfile.TemporaryDirectory | None = None


def on_startup(command: str, dirty: bool) -> None:
    """Point executed kernels at a profile that does not capture fd output."""
    global _profile_dir
    _profile_dir = tempfile.TemporaryDirectory(prefix="cnn-guide-ipython-")
    profile = Path(_profile_dir.name) / "profile_default"
    profile.mkdir(parents=True)
    (profile / "ipython_kernel_config.py").write_text(_KERNEL_CONFIG)
    os.environ["IPYTHONDIR"] = _profile_dir.name
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def on_post_page(output: str, page, config) -> str:
    """Drop scripts that notebook pages would fetch from other hosts."""
    if not page.file.src_uri.endswith((".py", ".ipynb")):
        return output
    return _THIRD_PARTY_SCRIPT.sub("", output)
