"""MkDocs hooks: a quiet kernel for executed examples, and self-contained pages.

* Examples execute in IPython kernels that inherit this process' environment.
  TensorFlow writes start-up logs straight to file descriptor 2, which
  ipykernel would capture onto the page; a kernel profile with
  ``capture_fd_output = False`` leaves them in the build log instead, and its
  start-up script imports TensorFlow without the lines that report nothing
  wrong (`cnn_guide._quiet`).
* The build log gets one line per executed example, with its time, and a total.
* Notebook pages reference MathJax, RequireJS and Mermaid on public CDNs. The
  site serves its own MathJax, so those tags are dropped: pages make no
  third-party requests and work offline.
* Each example page offers its script (copied by mkdocs-jupyter) and a
  notebook generated from it here, whose first cell installs ``cnn_guide``
  where it is missing (Colab).
* nbconvert inlines about 600 kB of notebook CSS into every example page. The
  large blocks move to one shared, cacheable stylesheet under ``assets/``.
* A chapter line such as ``<!-- benchmark: MODEL -->`` or ``<!-- fast-goals -->``
  becomes what `cnn_guide.results.render_marker` reads
  from the results file at build time.
"""

from __future__ import annotations

import hashlib
import logging
import os
import posixpath
import re
import tempfile
import time
from pathlib import Path

# Kernels leave TensorFlow's C++ output in the build log instead of on the
# page, and do not warn that they talk to the build over local TCP.
_KERNEL_CONFIG = 'c.IPKernelApp.capture_fd_output = False\nc.IPKernelApp.log_level = "ERROR"\n'
# Run in every kernel before the page's first cell: TensorFlow without its
# start-up noise, the same quiet start as the cnn-guide command.
_KERNEL_STARTUP = "from cnn_guide._quiet import import_tensorflow\n\nimport_tensorflow()\n"
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
    (profile / "startup").mkdir()
    (profile / "startup" / "00-quiet-tensorflow.py").write_text(_KERNEL_STARTUP)
    os.environ["IPYTHONDIR"] = _profile_dir.name
    # mkdocs-jupyter logs two lines per notebook ("Converting", "Copied"); the
    # progress lines below say the same with times.
    for name in ("mkdocs.plugins.mkdocs_jupyter", "mkdocs.mkdocs-jupyter"):
        logging.getLogger(name).setLevel(logging.WARNING)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # Examples default to their full budget; a site build runs the short one.
    os.environ.setdefault("CNN_GUIDE_BUDGET", "site")


# --- Progress: one line per executed example, and a total ------------------------------

log = logging.getLogger("mkdocs.hooks.cnn_guide")


class _Progress:
    """Times each example page's execution (its render) and the whole build."""

    def __init__(self) -> None:
        self.build_started = 0.0
        self.examples: list[str] = []  # source paths of the example pages, in build order
        self.started: dict[str, float] = {}
        self.seconds: list[float] = []

    def begin(self, files) -> None:
        self.build_started = time.perf_counter()
        self.examples = sorted(f.src_uri for f in files if _is_example(f.src_uri))
        self.started.clear()
        self.seconds.clear()

    def page_starts(self, page) -> None:
        if page is not None and _is_example(page.file.src_uri):
            self.started[page.file.src_uri] = time.perf_counter()

    def page_done(self, page) -> None:
        source = page.file.src_uri
        if source not in self.started:
            return
        seconds = time.perf_counter() - self.started.pop(source)
        self.seconds.append(seconds)
        log.info(
            "Example %2d/%d  %-14s %s in %5.1f s",
            len(self.seconds),
            len(self.examples),
            Path(source).stem,
            _what_happens(),
            seconds,
        )

    def finish(self) -> None:
        if not self.seconds:
            return
        total = time.perf_counter() - self.build_started
        log.info(
            "%d examples %s in %.0f s (budget %r); the whole build took %.0f s",
            len(self.seconds),
            _what_happens(),
            sum(self.seconds),
            os.environ.get("CNN_GUIDE_BUDGET", "site"),
            total,
        )


def _is_example(src_uri: str) -> bool:
    return src_uri.startswith("examples/") and src_uri.endswith(".py")


def _what_happens() -> str:
    """What the build does to an example page: runs it, or only renders its code."""
    executes = os.environ.get("CNN_GUIDE_EXECUTE", "true").strip().lower()
    return "rendered" if executes in ("false", "0", "no") else "executed"


_progress = _Progress()


def on_files(files, config):
    """Note the example pages, for the progress lines."""
    _progress.begin(files)
    return files


def on_page_content(html: str, page, config, files) -> str:
    """An example page has just been executed (rendered): say so, with its time."""
    _progress.page_done(page)
    return html


# --- Results markers --------------------------------------------------------------------

# A chapter line such as <!-- benchmark: vgg_fashion --> or <!-- benchmark-table -->.
_RESULTS_MARKER = re.compile(
    r"^<!-- (benchmark(?:: \w+|-table)|full-run: \w+|full-runs-table"
    r"|experiment: [\w-]+|paper-findings|fast-goals|fast-against-seed) -->$",
    re.MULTILINE,
)


def on_page_markdown(markdown: str, page, config, files) -> str:
    """Replace each results marker with what it stands for; start an example's clock."""
    from cnn_guide.results import render_marker

    _progress.page_starts(page)
    chapters = _chapters_by_marker()
    return _RESULTS_MARKER.sub(
        lambda match: render_marker(match.group(1), chapters=chapters), markdown
    )


def _chapters_by_marker() -> dict[str, str]:
    """Each model's and each experiment's chapter, from the markers the chapters hold."""
    chapters = Path(__file__).parent / "chapters"
    return {
        match.group(1).partition(":")[2].strip(): path.name
        for path in sorted(chapters.glob("*.md"))
        for match in _RESULTS_MARKER.finditer(path.read_text(encoding="utf-8"))
        if match.group(1).startswith(("benchmark:", "experiment:"))
    }


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
    """Write the shared notebook stylesheets and each example's notebook; report the total."""
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
    _progress.finish()
