"""MkDocs hook: each example page offers a notebook made from its script.

mkdocs-jupyter copies the script itself; the notebook is generated here, with
a first cell that installs ``cnn_guide`` where it is missing (Colab).
"""

from __future__ import annotations

import posixpath
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
        notebook.cells.insert(1, new_code_cell(_INSTALL_CELL.format(repo_url=config["repo_url"])))
        jupytext.write(notebook, site / page_dir / f"{Path(script).stem}.ipynb")
