"""MkDocs hooks: a quiet kernel for executed examples, and self-contained pages.

* Examples execute in IPython kernels that inherit this process' environment.
  TensorFlow writes start-up logs straight to file descriptor 2, which
  ipykernel would capture onto the page; a kernel profile with
  ``capture_fd_output = False`` leaves them in the build log instead.
* Notebook pages reference MathJax, RequireJS and Mermaid on public CDNs. The
  site serves its own MathJax, so those tags are dropped: pages make no
  third-party requests and work offline.
* Each example page offers its script (copied by mkdocs-jupyter) and a
  notebook generated from it here, whose first cell installs ``cnn_guide``
  where it is missing (Colab).
* nbconvert inlines about 600 kB of notebook CSS into every example page. The
  large blocks move to one shared, cacheable stylesheet under ``assets/``.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
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
_STYLE_BLOCK = re.compile(r"<style type=\"text/css\">(.*?)</style>", re.DOTALL)
_SHARED_CSS_MIN_BYTES = 2_000  # smaller, page-specific blocks stay inline
_shared_css: dict[str, str] = {}  # site path -> stylesheet
_notebooks: dict[str, str] = {}  # source script -> site directory of its page
_INSTALL_CELL = """\
# Installs cnn_guide where it is missing (for example on Colab).
try:
    import cnn_guide
except ImportError:
    %pip install --quiet "cnn-guide @ git+{repo_url}"
"""
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
    """Drop third-party scripts from notebook pages and share their big CSS."""
    if not page.file.src_uri.endswith((".py", ".ipynb")):
        return output
    page_dir = posixpath.dirname(page.file.dest_uri)
    _notebooks[page.file.abs_src_path] = page_dir

    def share(match: re.Match) -> str:
        css = match.group(1)
        if len(css) < _SHARED_CSS_MIN_BYTES:
            return match.group(0)
        name = f"assets/notebook-{hashlib.sha256(css.encode()).hexdigest()[:12]}.css"
        _shared_css[name] = css
        return f'<link rel="stylesheet" href="{posixpath.relpath(name, page_dir)}">'

    return _STYLE_BLOCK.sub(share, _UNWANTED_SCRIPTS.sub("", output))


def on_post_build(config) -> None:
    """Write the shared notebook stylesheets and each example's notebook."""
    import jupytext
    from nbformat.v4 import new_code_cell

    site = Path(config["site_dir"])
    for name, css in _shared_css.items():
        path = site / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(css, encoding="utf-8")
    for script, page_dir in _notebooks.items():
        notebook = jupytext.read(script)
        setup = _INSTALL_CELL.format(repo_url=config["repo_url"])
        notebook.cells.insert(1, new_code_cell(setup))
        jupytext.write(notebook, site / page_dir / f"{Path(script).stem}.ipynb")
