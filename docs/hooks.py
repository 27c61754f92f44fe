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
# Script tags loading from another host (or from an empty URL, which nbconvert
# leaves when no MathJax URL is configured), and nbconvert's MathJax 2 config.
_UNWANTED_SCRIPTS = re.compile(
    r"<script\b[^>]*\bsrc=\"(?:https?://[^\"]*)?\"[^>]*>\s*</script>\s*"
    r"|<script type=\"text/x-mathjax-config\">.*?</script>\s*",
    re.IGNORECASE | re.DOTALL,
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
    # Examples default to their full budget; a site build runs the short one.
    os.environ.setdefault("CNN_GUIDE_BUDGET", "site")


def on_post_page(output: str, page, config) -> str:
    """Drop scripts that notebook pages would fetch from other hosts."""
    if not page.file.src_uri.endswith((".py", ".ipynb")):
        return output
    return _UNWANTED_SCRIPTS.sub("", output)
