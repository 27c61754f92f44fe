"""MkDocs hook: each example page offers a notebook made from its script.

mkdocs-jupyter copies the script itself; the notebook is generated here, with
a first cell that installs ``cnn_guide`` where it is missing (Colab).

Examples fence the code a chapter includes with pymdownx.snippets section
markers (``# --8<-- [start:block]``, see ``tools/render_diagrams.py``); the
marker lines are left out of the example page and of its notebook, where they
would mean nothing to a reader. The downloadable script keeps them.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path

import jupytext
from nbformat.v4 import new_code_cell

_INSTALL_CELL = """\
# Installs cnn_guide where it is missing (for example on Colab).
try:
    import cnn_guide
except ImportError:
    %pip install --quiet "cnn-guide @ git+{repo_url}"
"""
_notebooks: dict[str, str] = {}  # source script -> site directory of its page
# A section marker line as written in a script, and on a page (highlighted or not).
_MARKER = r"# -+8<-+ *\[ *(?:start|end) *: *[a-z][-_0-9a-z]* *\]"
_MARKER_LINE = re.compile(rf"^[ \t]*{_MARKER}[ \t]*\n?", re.MULTILINE)
_ON_PAGE = (
    rf'(?:<span class="c1">{_MARKER.replace("<", "&lt;")}</span>|{_MARKER.replace("<", "&lt;")})'
)
_FIRST_ON_PAGE = re.compile(
    rf'(<pre><span></span>|<div class="clipboard-copy-txt" id="[^"]*">){_ON_PAGE}\n'
)
_LATER_ON_PAGE = re.compile(rf"(?:\n[ \t]*)*\n{_ON_PAGE}(?=\n|</div>)")


def on_page_content(html: str, page, config, files) -> str:
    """Leave the snippet section markers (and blank lines before them) out of code cells."""
    if page.file.src_uri.endswith((".py", ".ipynb")):
        return _LATER_ON_PAGE.sub("", _FIRST_ON_PAGE.sub(r"\1", html))
    return html


def on_post_page(output: str, page, config) -> str:
    """Note each notebook page's script and where its page lands."""
    if page.file.src_uri.endswith((".py", ".ipynb")):
        _notebooks[page.file.abs_src_path] = posixpath.dirname(page.file.dest_uri)
    return output


def on_post_build(config) -> None:
    """Write each example's notebook beside its page."""
    site = Path(config["site_dir"])
    for script, page_dir in _notebooks.items():
        notebook = jupytext.read(script)
        for cell in notebook.cells:
            cell.source = _MARKER_LINE.sub("", cell.source)
        notebook.cells.insert(1, new_code_cell(_INSTALL_CELL.format(repo_url=config["repo_url"])))
        jupytext.write(notebook, site / page_dir / f"{Path(script).stem}.ipynb")
