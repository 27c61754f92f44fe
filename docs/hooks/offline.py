"""MkDocs hook: notebook pages load nothing from other hosts, and share their big CSS.

* Notebook pages reference MathJax, RequireJS and Mermaid on public CDNs. The
  site serves its own MathJax, so those tags are dropped: pages make no
  third-party requests and work offline.
* nbconvert inlines about 600 kB of notebook CSS into every example page. The
  large blocks move to one shared, cacheable stylesheet under ``assets/``.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
from pathlib import Path

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


def on_post_page(output: str, page, config) -> str:
    """Drop third-party scripts from notebook pages and share their big CSS."""
    if not page.file.src_uri.endswith((".py", ".ipynb")):
        return output
    page_dir = posixpath.dirname(page.file.dest_uri)

    def share(match: re.Match) -> str:
        css = match.group(1)
        if len(css) < _SHARED_CSS_MIN_BYTES:
            return match.group(0)
        name = f"assets/notebook-{hashlib.sha256(css.encode()).hexdigest()[:12]}.css"
        _shared_css[name] = css
        return f'<link rel="stylesheet" href="{posixpath.relpath(name, page_dir)}">'

    return _STYLE_BLOCK.sub(share, _UNWANTED_SCRIPTS.sub("", output))


def on_post_build(config) -> None:
    """Write the shared notebook stylesheets."""
    site = Path(config["site_dir"])
    for name, css in _shared_css.items():
        path = site / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(css, encoding="utf-8")
