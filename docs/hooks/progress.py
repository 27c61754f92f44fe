"""MkDocs hook: one line in the build log per executed example, with its time, and a total."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

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


def on_page_markdown(markdown: str, page, config, files) -> str:
    """An example page is about to be executed (rendered): start its clock."""
    _progress.page_starts(page)
    return markdown


def on_page_content(html: str, page, config, files) -> str:
    """An example page has just been executed (rendered): say so, with its time."""
    _progress.page_done(page)
    return html


def on_post_build(config) -> None:
    """The total."""
    _progress.finish()
