"""Build or preview the book: MkDocs with every example executed, quietly.

``cnn-guide book`` runs ``mkdocs build --strict`` (or ``mkdocs serve``) on a
source checkout, with the notebook cache off so every page shows what the
current code prints, and without the banners MkDocs plugins print about
their own future. The build log then holds one line per executed example,
with its time, and a total (written by the book's ``docs/hooks/progress.py``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from cnn_guide.budget import BUDGET_ENV_VAR, BUDGETS

__all__ = ["build_book", "find_book", "mkdocs_command", "mkdocs_environment"]

# Notices from Material for MkDocs and from mkdocs-gen-files/literate-nav
# (through properdocs) about MkDocs 2.0: nothing a reader of this book can act on.
_QUIET = {"NO_MKDOCS_2_WARNING": "1", "DISABLE_MKDOCS_2_WARNING": "true"}


def find_book(start: Path | None = None) -> Path:
    """The source checkout that holds the book: the first folder with ``mkdocs.yml``.

    Looks in ``start`` (default: the working directory) and its parents, then
    beside the installed package (an editable install of a checkout).

    Raises:
        ValueError: If no folder holds the book's ``mkdocs.yml``.
    """
    start = (start or Path.cwd()).resolve()
    package_checkout = Path(__file__).resolve().parent.parent
    for folder in (start, *start.parents, package_checkout):
        if (folder / "mkdocs.yml").is_file() and (folder / "docs" / "hooks").is_dir():
            return folder
    raise ValueError(
        f"no mkdocs.yml of the book in {start}, its parents or {package_checkout}: the book "
        "is built from a source checkout. Clone the repository, install it with "
        "'pip install -e \".[dev]\"' and run 'cnn-guide book' inside it."
    )


def mkdocs_environment(*, budget: str, execute: bool) -> dict[str, str]:
    """The environment of a quiet build at ``budget``, executing examples or not.

    Raises:
        ValueError: If ``budget`` is not one of ``quick``, ``site`` or ``full``.
    """
    if budget not in BUDGETS:
        raise ValueError(f"budget {budget!r} is not one of {', '.join(BUDGETS)}.")
    env = {**os.environ, **_QUIET}
    env[BUDGET_ENV_VAR] = budget
    env["CNN_GUIDE_EXECUTE"] = "true" if execute else "false"
    env["CNN_GUIDE_NOTEBOOK_CACHE"] = "false"  # the cache would show stale outputs
    env.pop("MPLBACKEND", None)  # Agg would make the pages' inline figures vanish
    return env


def mkdocs_command(
    *, serve: bool, site_dir: Path | None = None, config_file: Path | None = None
) -> list[str]:
    """The ``mkdocs`` command line: a strict build, or the preview server.

    Args:
        serve: The preview server instead of a build.
        site_dir: Where the built site goes (MkDocs' default: ``site/``).
        config_file: The book's ``mkdocs.yml``, for a build started elsewhere.
    """
    command = [sys.executable, "-m", "mkdocs", "serve" if serve else "build", "--strict"]
    if config_file is not None:
        command += ["--config-file", str(config_file)]
    if site_dir is not None:
        command += ["--site-dir", str(site_dir)]
    return command


def build_book(
    *, budget: str = "site", execute: bool = True, serve: bool = False, site_dir: Path | None = None
) -> int:
    """Build (or serve) the book from the checkout around the working directory.

    Args:
        budget: How much each example trains: ``quick``, ``site`` (what the
            published book shows) or ``full``.
        execute: Run every example; ``False`` renders the code alone (seconds).
        serve: Preview at http://127.0.0.1:8000 instead of building ``site/``.
        site_dir: Where the built site goes (default ``site/`` in the checkout).

    Returns:
        MkDocs' exit status.
    """
    root = find_book()
    env = mkdocs_environment(budget=budget, execute=execute)
    command = mkdocs_command(serve=serve, site_dir=site_dir)
    return subprocess.run(command, cwd=root, env=env, check=False).returncode
