"""``cnn-guide book``: build (or preview) the book with every example executed."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cnn_guide.budget import BUDGETS


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Add the ``book`` command."""
    parser = commands.add_parser(
        "book",
        help="build the book with every example executed (or preview it)",
        description=(
            "Build the book from this source checkout: 'mkdocs build --strict' with every "
            "example executed at its short 'site' budget and the notebook cache off, "
            "printing one line per example. The site lands in site/."
        ),
    )
    parser.add_argument(
        "--budget",
        choices=BUDGETS,
        default="site",
        help="how much each example trains: quick (a few steps each, a smoke test), "
        "site (what the published book shows; default) or full (hours)",
    )
    parser.add_argument(
        "--no-execute",
        dest="execute",
        action="store_false",
        help="render the examples' code without running it (checks pages and links in seconds)",
    )
    parser.add_argument(
        "--serve", action="store_true", help="preview at http://127.0.0.1:8000 instead"
    )
    parser.add_argument("--site-dir", type=Path, help="where the site goes (default: site/)")
    # MkDocs' own processes load TensorFlow where they need it.
    parser.set_defaults(run=run, needs_tensorflow=False)


def run(args: argparse.Namespace) -> int:
    """Build or serve the book."""
    from cnn_guide.book import build_book

    try:
        return build_book(
            budget=args.budget, execute=args.execute, serve=args.serve, site_dir=args.site_dir
        )
    except ValueError as error:
        print(f"cnn-guide book: error: {error}", file=sys.stderr)
        return 2
