"""The built site in a real browser: headless Chromium driven by Playwright.

The site is served the way GitHub Pages serves it: under the path of
``site_url`` (``/cnn-guide/``), with ``404.html`` as the body of every missing
page. Every page must load with nothing failing and nothing fetched from
another host; then math, images, layout (phone and desktop widths), text
contrast in both colour schemes, search, the palette toggle, the example
downloads and the page weight are checked one by one.

Screenshots land in ``$CNN_GUIDE_ARTIFACTS`` (default: a pytest temporary
directory); their paths are printed (``pytest -s`` shows them).
"""

from __future__ import annotations

import functools
import gzip
import json
import os
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
HOST = "127.0.0.1"
MAX_HTML_BYTES = 1_500_000
MAX_EXAMPLE_FIRST_LOAD_BYTES = 1_500_000
MIN_SCREENSHOT_BYTES = 10_000

pytestmark = [
    pytest.mark.slow,
    pytest.mark.xdist_group("site"),  # the worker that builds the site (pytest-xdist)
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}"),
]


def _base_path() -> str:
    """The path part of ``site_url`` in mkdocs.yml, e.g. ``/cnn-guide/``."""
    match = re.search(r"^site_url:\s*(\S+)", (ROOT / "mkdocs.yml").read_text(), re.MULTILINE)
    path = urlsplit(match.group(1)).path if match else "/"
    return path if path.endswith("/") else path + "/"


BASE = _base_path()


# --- Serving ------------------------------------------------------------------------------


class _SiteHandler(SimpleHTTPRequestHandler):
    """Serves the site under BASE only, with 404.html for anything missing."""

    def translate_path(self, path: str) -> str:
        plain = urlsplit(path).path
        if not plain.startswith(BASE):
            return str(Path(self.directory) / "\0outside-base")  # never exists
        return super().translate_path("/" + path[len(BASE) :])

    def send_error(self, code: int, message: str | None = None, explain: str | None = None):
        page = Path(self.directory) / "404.html"
        if code != 404 or not page.is_file():
            super().send_error(code, message, explain)
            return
        body = page.read_bytes()
        self.send_response(404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:  # quiet test output
        pass


@pytest.fixture(scope="module")
def site_url(built_site: Path) -> Iterator[str]:
    """The built site served on 127.0.0.1, a free port, in a background thread."""
    handler = functools.partial(_SiteHandler, directory=str(built_site))
    server = ThreadingHTTPServer((HOST, 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{HOST}:{server.server_address[1]}{BASE}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser():
    """One headless system Chromium for the module."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def context(browser):
    """A fresh browser profile (empty cache and storage), light colour scheme."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme="light")
    ctx.set_default_timeout(30_000)
    try:
        yield ctx
    finally:
        ctx.close()


def _url_of(site_url: str, built_site: Path, html: Path) -> str:
    """The served URL of a built HTML file (directory URLs for index.html)."""
    rel = html.relative_to(built_site).as_posix()
    return site_url + (rel[: -len("index.html")] if rel.endswith("index.html") else rel)


def _pages(built_site: Path, pattern: str) -> list[Path]:
    return sorted(built_site.glob(pattern))


# --- Every page loads cleanly ------------------------------------------------------------


class _PageLog:
    """What went wrong while one page loaded, recorded from browser events."""

    def __init__(self) -> None:
        self.urls: list[str] = []
        self.problems: list[str] = []

    def attach(self, page) -> None:
        page.on("request", lambda r: self.urls.append(r.url))
        page.on("requestfailed", lambda r: self.problems.append(f"failed {r.url}: {r.failure}"))
        page.on(
            "response",
            lambda r: r.status >= 400 and self.problems.append(f"HTTP {r.status} {r.url}"),
        )
        page.on(
            "console",
            lambda m: (
                m.type == "error"
                and self.problems.append(f"console: {m.text} ({m.location.get('url')})")
            ),
        )
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))

    def foreign(self) -> list[str]:
        """Requests to anything other than this server (data: and blob: are local)."""
        return sorted(
            {
                url
                for url in self.urls
                if not url.startswith(("data:", "blob:")) and urlsplit(url).hostname != HOST
            }
        )


@dataclass
class _Visit:
    """One page load in one view: what went wrong, and what the page checks found.

    The content checks (images, layout, contrast) run on the home, chapter and
    example pages only; elsewhere they are ``None``.
    """

    problems: list[str]
    requested: list[str]
    scheme: str | None = None
    broken_images: list[str] | None = None
    layout: list[str] | None = None
    low_contrast: list | None = None


def _content_pages(built_site: Path) -> list[Path]:
    return [
        built_site / "index.html",
        *_pages(built_site, "chapters/*/index.html"),
        *_pages(built_site, "examples/*/index.html"),
    ]


def _visit_all(context, site_url: str, built_site: Path, pages: list[Path]) -> dict[str, _Visit]:
    """Load every page once, a few at a time, and run the content checks on it."""
    content = set(_content_pages(built_site))
    visits: dict[str, _Visit] = {}
    batch_size = 4  # a few pages at once: about a third faster than one by one
    for first in range(0, len(pages), batch_size):
        batch = []
        for html in pages[first : first + batch_size]:
            log = _PageLog()
            page = context.new_page()
            log.attach(page)
            url = _url_of(site_url, built_site, html)
            batch.append((html, url, log, page, page.goto(url, wait_until="commit")))
        for html, url, log, page, response in batch:
            try:
                page.wait_for_load_state("load")
                # The search worker fetches its index after "load": let it finish, so
                # an error there is caught here and closing the page aborts nothing.
                page.wait_for_load_state("networkidle")
                visit = _Visit(problems=log.problems, requested=log.urls)
                if html in content:
                    _typeset(page)
                    visit.scheme = _scheme(page)
                    visit.broken_images = _broken_images(page)
                    visit.layout = page.evaluate(_LAYOUT_PROBLEMS)
                    visit.low_contrast = page.evaluate(_LOW_CONTRAST, MIN_CONTRAST)
            finally:
                page.close()
            visit.problems += [f"request to another host: {u}" for u in log.foreign()]
            if response is None or response.status != 200:
                visit.problems.append(f"status {response and response.status}")
            visits[url] = visit
    return visits


@pytest.fixture(scope="module")
def desktop_light(built_site, site_url, browser) -> dict[str, _Visit]:
    """Every page of the site, loaded once at 1280 px in the light scheme."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme="light")
    context.set_default_timeout(60_000)  # pages load in batches on a busy machine
    try:
        started = time.perf_counter()
        pages = _pages(built_site, "**/*.html")
        visits = _visit_all(context, site_url, built_site, pages)
        print(f"\n{len(pages)} pages loaded in Chromium in {time.perf_counter() - started:.1f} s")
    finally:
        context.close()
    return visits


@pytest.fixture(scope="module")
def phone_dark(built_site, site_url, browser) -> dict[str, _Visit]:
    """The home, chapter and example pages, loaded once at 390 px in the dark scheme."""
    context = browser.new_context(viewport={"width": 390, "height": 900}, color_scheme="dark")
    context.set_default_timeout(60_000)
    try:
        visits = _visit_all(context, site_url, built_site, _content_pages(built_site))
    finally:
        context.close()
    return visits


def _report(found: dict[str, list]) -> str:
    return json.dumps({url: items for url, items in found.items() if items}, indent=1)


def _checked(visits: dict[str, _Visit], check: str) -> dict[str, list]:
    """One content check's findings per page, for the pages it ran on (at least 3)."""
    found = {url: getattr(v, check) for url, v in visits.items() if getattr(v, check) is not None}
    assert len(found) >= 3, f"{check} ran on {len(found)} pages only: {list(found)}"
    return found


def test_every_page_loads_cleanly_and_only_from_this_server(desktop_light):
    assert len(desktop_light) >= 5, list(desktop_light)
    # The listeners see the search worker's requests too (else "no foreign
    # request" would prove less than it says).
    requested = {url for visit in desktop_light.values() for url in visit.requested}
    assert any(u.endswith("search/search_index.json") for u in requested), sorted(requested)
    failures = {url: visit.problems for url, visit in desktop_light.items()}
    assert not any(failures.values()), _report(failures)


def test_every_image_on_home_chapter_and_example_pages_loads(desktop_light, phone_dark):
    for visits in (desktop_light, phone_dark):
        broken = _checked(visits, "broken_images")
        assert not any(broken.values()), _report(broken)


@pytest.mark.parametrize("view", ["phone_dark", "desktop_light"])
def test_content_fits_the_window(request, view):
    layout = _checked(request.getfixturevalue(view), "layout")
    assert not any(layout.values()), _report(layout)


@pytest.mark.parametrize("view", ["phone_dark", "desktop_light"])
def test_text_is_readable_in_both_schemes(request, view):
    visits = request.getfixturevalue(view)
    expected = {"phone_dark": "slate", "desktop_light": "default"}[view]
    schemes = {v.scheme for v in visits.values() if v.scheme is not None}
    assert schemes == {expected}, f"the palette did not follow the browser's scheme: {schemes}"
    low = {url: found[:20] for url, found in _checked(visits, "low_contrast").items()}
    assert not any(low.values()), f"text below {MIN_CONTRAST}:1 contrast ({view}):\n" + _report(low)


def test_missing_page_serves_the_styled_404(site_url, context):
    log = _PageLog()
    page = context.new_page()
    log.attach(page)
    response = page.goto(site_url + "no-such-page/", wait_until="load")
    page.wait_for_load_state("networkidle")
    assert response is not None and response.status == 404
    # The 404 page links its assets by absolute path under site_url: they all load.
    others = [p for p in log.problems if "no-such-page" not in p]
    assert not others and not log.foreign(), others + log.foreign()
    color = page.evaluate("getComputedStyle(document.querySelector('.md-header')).backgroundColor")
    assert color not in ("", "rgba(0, 0, 0, 0)"), "404 page is unstyled"


# --- Math ---------------------------------------------------------------------------------

_RAW_MATH = re.compile(r"\$\$|\$[^$\s][^$\n]*\$|\\\(|\\\)|\\\[|\\\]")


def _typeset(page) -> None:
    page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise")
    page.evaluate("async () => { await MathJax.startup.promise; return true; }")


@pytest.mark.parametrize("path", ["chapters/simple-cnn/", "examples/simple_cnn/"])
def test_math_is_typeset(site_url, context, path):
    page = context.new_page()
    page.goto(site_url + path, wait_until="load")
    _typeset(page)
    containers = page.locator("article mjx-container").count()
    assert containers >= 1, f"{path}: no mjx-container in the article"
    # Visible prose only: code, outputs and the typeset math itself removed.
    text = page.evaluate(
        """() => {
            const article = document.querySelector("article").cloneNode(true);
            article.querySelectorAll("pre, code, script, style, mjx-container, "
                + ".jp-InputArea, .jp-OutputArea").forEach((e) => e.remove());
            return article.textContent;
        }"""
    )
    raw = sorted({m.group(0)[:60] for m in _RAW_MATH.finditer(text)})
    assert not raw, f"{path}: untypeset math left in the text: {raw}"
    errors = page.locator("article mjx-merror").count()
    assert errors == 0, f"{path}: {errors} TeX errors rendered"


# --- Images -------------------------------------------------------------------------------


_IMAGES = """() => [...document.images].map((i) => [i.currentSrc || i.src, i.naturalWidth])"""


def _broken_images(page) -> list[str]:
    """Images on the page that did not load (all of them loaded eagerly first)."""
    # Images marked loading="lazy" load only near the viewport.
    page.evaluate("document.querySelectorAll('img').forEach((i) => i.loading = 'eager')")
    page.wait_for_function("() => [...document.images].every((i) => i.complete)", timeout=15_000)
    images = page.evaluate(_IMAGES)
    if not images:
        return ["no images at all (not even the logo)"]
    return [src[:100] for src, width in images if width <= 0]


def test_executed_examples_show_their_figures(site_url, context):
    page = context.new_page()
    page.goto(site_url + "examples/simple_cnn/", wait_until="load")
    # Learning curves, confusion matrix, samples.
    assert page.locator("article .jp-RenderedImage img").count() >= 3
    page.close()


# --- Layout -------------------------------------------------------------------------------

# What does not fit: the page wider than the window, content cut off by a box
# with hidden overflow, or content sticking out of the article; and printed
# text whose lines wrap (a text table such as layer_table's turns into an
# unreadable zigzag on a phone when its lines are broken).
#
# "Content" is what the reader sees: text and childless boxes (images, MathJax
# glyphs), measured where they are drawn. Padding, margins and a box's own
# scrollWidth are not: browsers have counted them differently from version to
# version, so a check on them fails on one machine and passes on the next.
_LAYOUT_PROBLEMS = r"""() => {
    const problems = [];
    const root = document.documentElement;
    if (root.scrollWidth > root.clientWidth) {
        problems.push(`page ${root.scrollWidth}px wide in a ${root.clientWidth}px window`);
    }
    const article = document.querySelector("article");
    // On a phone Material lets code blocks and tabs bleed into the article's
    // margin, on purpose: content may reach the edge of the article's parent.
    const right = article.parentElement.getBoundingClientRect().right;
    const name = (e) => e.tagName.toLowerCase() + "." + [...e.classList].join(".");
    const scrollsX = (n) => ["auto", "scroll"].includes(getComputedStyle(n).overflowX);
    const clips = (n) => ["hidden", "clip"].includes(getComputedStyle(n).overflowX);
    const ignored = (n) => n.closest("mjx-assistive-mml, mjx-ext");
    // The right edge of what e shows: its text and its childless boxes (images,
    // MathJax glyphs), leaving out what a box inside e scrolls or clips itself.
    // Padding and margins are not content: a browser that counts them into
    // scrollWidth, or a font a pixel wider, does not make a page fail.
    const inkRight = (e) => {
        let edge = -Infinity;
        const shown = NodeFilter.SHOW_ELEMENT | NodeFilter.SHOW_TEXT;
        const walker = document.createTreeWalker(e, shown, {
            acceptNode: (n) => {
                if (n.nodeType === Node.ELEMENT_NODE && n !== e) {
                    if (ignored(n)) return NodeFilter.FILTER_REJECT;
                    if (scrollsX(n) || clips(n)) {  // its own content is its own business
                        edge = Math.max(edge, n.getBoundingClientRect().right);
                        return NodeFilter.FILTER_REJECT;
                    }
                }
                return NodeFilter.FILTER_ACCEPT;
            },
        });
        for (let n = walker.nextNode(); n; n = walker.nextNode()) {
            if (n.nodeType === Node.TEXT_NODE) {
                if (!n.textContent.trim()) continue;
                const range = document.createRange();
                range.selectNodeContents(n);
                for (const r of range.getClientRects()) {
                    if (r.width > 0) edge = Math.max(edge, r.right);
                }
            } else if (!n.firstElementChild && !n.textContent.trim()) {
                const r = n.getBoundingClientRect();
                if (r.width > 0 && r.height > 0) edge = Math.max(edge, r.right);
            }
        }
        return edge;
    };
    const inside = (e) => {  // inside a box the reader can scroll sideways
        for (let n = e.parentElement; n && n !== article; n = n.parentElement) {
            if (scrollsX(n)) return true;
        }
        return false;
    };
    for (const e of article.querySelectorAll("*")) {
        if (e.clientWidth === 0 || e.scrollWidth <= e.clientWidth + 1 || ignored(e)) continue;
        const box = e.getBoundingClientRect();
        if (clips(e)) {
            const limit = box.left + e.clientLeft + e.clientWidth;
            const cut = Math.round(inkRight(e) - limit);
            if (cut > 1) problems.push(`${name(e)} cuts off ${cut}px`);
        } else if (!scrollsX(e) && !inside(e)) {
            const out = Math.round(inkRight(e) - right);
            if (out > 1) problems.push(`${name(e)} sticks out of the article by ${out}px`);
        }
    }
    for (const pre of article.querySelectorAll(".jp-OutputArea-output pre")) {
        const range = document.createRange();
        range.selectNodeContents(pre);
        const shown = new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size;
        const lines = pre.textContent.replace(/\n$/, "").split("\n").length;
        if (shown > lines) {
            problems.push(`output of ${lines} lines wrapped onto ${shown}: `
                + pre.textContent.slice(0, 40));
        }
    }
    return problems;
}"""

# Pages a layout check must fail, and pages it must pass: the check itself is tested.
_CUT_OFF_TABLE = '<div style="overflow:hidden"><table><tr><td>{}</td></tr></table></div>'
_CUT_OFF_CODE = '<div style="overflow:hidden"><pre>{}</pre></div>'
_STICKING_OUT = "<div><table><tr><td>{}</td></tr></table></div>"
_SCROLLS = '<div style="overflow-x:auto"><pre>{}</pre></div>'
_PADDED = '<div style="overflow:hidden"><p style="margin-right:80px;width:100%">fits</p></div>'
_WRAPPED = '<div class="jp-OutputArea-output"><pre style="white-space:pre-wrap">{}</pre></div>'
_WIDE = "W" * 80


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (_CUT_OFF_TABLE.format(_WIDE), "cuts off"),
        (_CUT_OFF_CODE.format(_WIDE), "cuts off"),
        (_STICKING_OUT.format(_WIDE), "sticks out of the article"),
        (_WRAPPED.format("word " * 40), "wrapped onto"),
        (_SCROLLS.format(_WIDE), None),
        (_PADDED, None),
    ],
    ids=["cut-off-table", "cut-off-code", "sticking-out", "wrapped-output", "scrolls", "padded"],
)
def test_layout_check_catches_what_does_not_fit(browser, body, expected):
    page = browser.new_page(viewport={"width": 390, "height": 600})
    try:
        page.set_content(
            '<body style="margin:0;overflow-x:hidden"><main style="width:300px">'
            f"<article>{body}</article></main></body>"
        )
        found = page.evaluate(_LAYOUT_PROBLEMS)
    finally:
        page.close()
    if expected is None:
        assert found == [], found
    else:
        assert any(expected in problem for problem in found), found


# --- Contrast -----------------------------------------------------------------------------

# The contrast ratio (WCAG 2) of every piece of text in the article against the
# background it sits on: backgrounds composited up the tree, alpha blended,
# brightness() filters applied. Returns [ratio, element, text] below `floor`.
_LOW_CONTRAST = """(floor) => {
    const parse = (c) => {
        const m = c.match(/rgba?\\(([^)]+)\\)/);
        if (!m) return null;
        const v = m[1].split(/[ ,\\/]+/).filter(Boolean).map(Number);
        return [v[0], v[1], v[2], v.length > 3 ? v[3] : 1];
    };
    const blend = (top, under) =>
        [0, 1, 2].map((i) => top[i] * top[3] + under[i] * (1 - top[3])).concat([1]);
    const luminance = (c) => {
        const f = (x) => (x /= 255) <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4;
        return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]);
    };
    const backgroundOf = (e) => {
        const layers = [];
        for (let n = e; n; n = n.parentElement) {
            const c = parse(getComputedStyle(n).backgroundColor);
            if (c && c[3] > 0) {
                layers.push(c);
                if (c[3] >= 1) break;
            }
        }
        return layers.reverse().reduce((under, top) => blend(top, under), [255, 255, 255, 1]);
    };
    const brightnessOf = (e) => {
        let factor = 1;
        for (let n = e; n; n = n.parentElement) {
            for (const m of getComputedStyle(n).filter.matchAll(/brightness\\(([\\d.]+)\\)/g)) {
                factor *= Number(m[1]);
            }
        }
        return factor;
    };
    const hidden = (e) => {  // transparent until hovered, like Material's headerlink
        for (let n = e; n; n = n.parentElement) {
            if (Number(getComputedStyle(n).opacity) === 0) return true;
        }
        return false;
    };
    const low = [];
    const seen = new Set();
    const article = document.querySelector("article");
    const walker = document.createTreeWalker(article, NodeFilter.SHOW_TEXT);
    for (let t = walker.nextNode(); t; t = walker.nextNode()) {
        const e = t.parentElement;
        if (!t.textContent.trim() || seen.has(e)) continue;
        seen.add(e);
        const style = getComputedStyle(e);
        if (!e.getClientRects().length || style.visibility !== "visible"
            || e.closest("mjx-assistive-mml, script, style") || hidden(e)) continue;
        const k = brightnessOf(e);
        const color = parse(style.color);
        const fg = blend([color[0] * k, color[1] * k, color[2] * k, color[3]], backgroundOf(e));
        const [a, b] = [luminance(fg) + 0.05, luminance(backgroundOf(e)) + 0.05];
        const ratio = Math.max(a, b) / Math.min(a, b);
        if (ratio < floor) {
            low.push([Math.round(ratio * 100) / 100,
                e.tagName.toLowerCase() + "." + [...e.classList].join("."),
                t.textContent.trim().slice(0, 40)]);
        }
    }
    return low;
}"""
MIN_CONTRAST = 3.0  # WCAG's floor for large text; below it, text is hard to read for anyone


# --- Search -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("stacked", "chapters/simple-cnn/"),
        ("dropout", "chapters/simple-cnn/"),
        ("Nadam", "examples/simple_cnn/"),
        ("checksum", ""),  # "checksummed" on the home page; getting-started says "SHA-256"
        ("truncated", "getting-started/"),
        ("residual", "chapters/resnet/"),
        ("inception", "chapters/googlenet/"),
        ("squeeze", "chapters/senet/"),
    ],
)
def test_search_finds_the_page(built_site, site_url, context, query, expected):
    assert (built_site / expected / "index.html").is_file(), f"{expected} was not built"
    page = context.new_page()
    page.goto(site_url, wait_until="load")
    page.wait_for_load_state("networkidle")  # the worker has its index
    page.locator(".md-search__input").click()
    page.keyboard.type(query, delay=20)
    page.locator(".md-search-result__item").first.wait_for(state="attached")
    target = urlsplit(site_url + expected).path
    found = (
        "(target) => [...document.querySelectorAll('.md-search-result__link')]"
        ".some((a) => new URL(a.href).pathname === target)"
    )
    try:
        page.wait_for_function(found, arg=target, timeout=10_000)
    except Exception:
        hrefs = page.eval_on_selector_all(
            ".md-search-result__link", "(links) => links.map((a) => a.href)"
        )
        pytest.fail(f"search for {query!r}: no result on {target}; got {hrefs}")


# --- Palette ------------------------------------------------------------------------------


def _scheme(page) -> str:
    return page.evaluate("document.body.getAttribute('data-md-color-scheme')")


def _toggle(page) -> None:
    page.locator("form[data-md-component='palette'] label:not([hidden])").click()


def test_palette_toggle_switches_and_persists(site_url, context):
    page = context.new_page()
    page.goto(site_url + "chapters/simple-cnn/", wait_until="load")
    assert _scheme(page) == "default"
    _toggle(page)
    page.wait_for_function("document.body.dataset.mdColorScheme === 'slate'")
    page.reload(wait_until="load")
    assert _scheme(page) == "slate", "dark mode did not persist after a reload"
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background != "rgb(255, 255, 255)", "slate scheme but a white page"
    _toggle(page)
    page.wait_for_function("document.body.dataset.mdColorScheme === 'default'")
    page.goto(site_url, wait_until="load")  # persists across pages too
    assert _scheme(page) == "default"


# --- Example downloads --------------------------------------------------------------------


def test_example_pages_offer_script_notebook_and_colab(built_site, site_url, context):
    examples = _pages(built_site, "examples/*/index.html")
    assert examples
    page = context.new_page()
    for html in examples:
        url = _url_of(site_url, built_site, html)
        page.goto(url, wait_until="load")
        links = page.locator(".cnn-example-links a")

        def href(selector: str, url=url) -> str:
            found = page.locator(f".cnn-example-links a{selector}")
            assert found.count() == 1, f"{url}: {found.count()} links matching {selector}"
            return found.get_attribute("href") or ""

        script = urljoin(url, href('[href$=".py"]'))
        response = page.request.get(script)
        assert response.status == 200, f"{script}: HTTP {response.status}"
        assert "# %%" in response.text(), f"{script} is not a percent-format script"

        notebook = urljoin(url, href('[href$=".ipynb"]:not([href^="http"])'))
        response = page.request.get(notebook)
        assert response.status == 200, f"{notebook}: HTTP {response.status}"
        cells = json.loads(response.body())["cells"]
        assert len(cells) >= 2, f"{notebook}: {len(cells)} cells"

        colab = href('[href*="colab.research.google.com"]')
        assert colab.startswith("https://colab.research.google.com/github/"), colab
        assert colab.endswith(".ipynb"), colab
        # Colab opens the very notebook served here, from the published branch.
        served = urlsplit(notebook).path[len(BASE) :]
        assert colab.endswith("/" + served), f"{colab} does not open {served}"
        assert links.count() == 3, f"{url}: {links.count()} example links"
    page.close()


# --- Screenshots --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory) -> Path:
    configured = os.environ.get("CNN_GUIDE_ARTIFACTS")
    path = Path(configured) if configured else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.mark.parametrize(
    ("name", "path", "scheme"),
    [
        ("home-light", "", "light"),
        ("chapter-simple-cnn-dark", "chapters/simple-cnn/", "dark"),
        ("example-simple-cnn-light", "examples/simple_cnn/", "light"),
        ("example-simple-cnn-dark", "examples/simple_cnn/", "dark"),
    ],
)
def test_full_page_screenshot(browser, site_url, artifacts, name, path, scheme):
    # The palette follows prefers-color-scheme on a first visit.
    context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme=scheme)
    try:
        page = context.new_page()
        page.goto(site_url + path, wait_until="load")
        assert _scheme(page) == {"light": "default", "dark": "slate"}[scheme]
        _typeset(page)
        page.wait_for_load_state("networkidle")
        target = artifacts / f"{name}.png"
        page.screenshot(path=target, full_page=True, animations="disabled")
    finally:
        context.close()
    size = target.stat().st_size
    print(f"\nscreenshot: {target} ({size / 1000:.0f} kB)")
    assert size > MIN_SCREENSHOT_BYTES, f"{target}: only {size} bytes"


# --- Page weight --------------------------------------------------------------------------
#
# Two measures: bytes on disk, and bytes transferred. GitHub Pages serves text
# (HTML, CSS, JS, JSON, SVG) gzip-compressed, so "transfer" is each text file
# gzipped at level 6 and every other file (fonts, images) as it is. The local
# test server compresses nothing, hence the model.

_TEXT_SUFFIXES = (".html", ".css", ".js", ".json", ".svg", ".xml", ".py", ".ipynb")


@functools.cache
def _transfer_bytes(path: Path) -> int:
    data = path.read_bytes()
    if path.name.endswith(_TEXT_SUFFIXES):
        return len(gzip.compress(data, compresslevel=6, mtime=0))
    return len(data)


class _Assets(HTMLParser):
    """The stylesheets and scripts an HTML page links."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "script" and values.get("src"):
            self.urls.append(values["src"])
        elif tag == "link" and "stylesheet" in (values.get("rel") or "").split():
            self.urls.append(values.get("href") or "")


def _linked_assets(built_site: Path, html: Path) -> tuple[set[Path], list[str]]:
    """The same-origin CSS/JS files one page links (each once), and links to nothing."""
    page_url = BASE + html.relative_to(built_site).as_posix()
    parser = _Assets()
    parser.feed(html.read_text(encoding="utf-8"))
    files: set[Path] = set()
    missing = []
    for link in parser.urls:
        parts = urlsplit(link)
        if parts.scheme or parts.netloc:
            continue  # another origin: test_every_page_loads... fails on those
        path = unquote(urljoin(page_url, parts.path))
        asset = built_site / path[len(BASE) :] if path.startswith(BASE) else None
        if asset is not None and asset.is_file():
            files.add(asset)
        else:
            missing.append(link)
    return files, missing


def test_page_weight_budget(built_site):
    rows = []
    missing = {}
    for html in _pages(built_site, "**/*.html"):
        assets, absent = _linked_assets(built_site, html)
        if absent:
            missing[html.relative_to(built_site).as_posix()] = absent
        files = [html, *assets]
        rows.append(
            (
                sum(f.stat().st_size for f in files),
                html.stat().st_size,
                sum(_transfer_bytes(f) for f in files),
                html.relative_to(built_site).as_posix(),
            )
        )
    rows.sort(reverse=True)
    lines = [f"{'bytes kB':>9} {'html kB':>8} {'transfer kB':>12}  page"]
    lines += [f"{t / 1e3:9.0f} {h / 1e3:8.0f} {x / 1e3:12.0f}  {p}" for t, h, x, p in rows]
    print(
        f"\nPage weight of {len(rows)} pages: the HTML plus the same-origin CSS/JS it links"
        " (bytes on disk; transfer gzipped):\n" + "\n".join(lines)
    )
    assert not missing, f"linked CSS/JS missing from the site: {missing}"
    too_big = [(p, h) for _, h, _, p in rows if h > MAX_HTML_BYTES]
    assert not too_big, f"HTML files over {MAX_HTML_BYTES} bytes: {too_big}"
    heavy = [
        (p, x)
        for _, _, x, p in rows
        if p.startswith("examples/") and x > MAX_EXAMPLE_FIRST_LOAD_BYTES
    ]
    assert not heavy, f"example pages over {MAX_EXAMPLE_FIRST_LOAD_BYTES} bytes: {heavy}"


def test_example_first_load_transfer_budget(built_site, site_url, context):
    """Everything an example page fetches on a first visit, fonts and search index too."""
    over = []
    for html in _pages(built_site, "examples/*/index.html"):
        url = _url_of(site_url, built_site, html)
        page = context.new_page()
        fetched: list[str] = []
        page.on("requestfinished", lambda r, fetched=fetched: fetched.append(r.url))
        page.goto(url, wait_until="load")
        _typeset(page)  # MathJax fetches its fonts while typesetting
        page.wait_for_load_state("networkidle")
        page.close()
        files = {}
        for fetched_url in fetched:
            path = urlsplit(fetched_url).path
            if not fetched_url.startswith(site_url) or not path.startswith(BASE):
                continue  # data: URLs (inline figures) are part of the HTML
            local = built_site / unquote(path[len(BASE) :])
            files[path] = local / "index.html" if local.is_dir() else local
        raw = sum(f.stat().st_size for f in files.values())
        transfer = sum(_transfer_bytes(f) for f in files.values())
        print(
            f"\nFirst load of {url}: {len(files)} files, {raw / 1e3:.0f} kB on disk, "
            f"{transfer / 1e3:.0f} kB transferred (gzip)"
        )
        for path, local in sorted(files.items(), key=lambda kv: -kv[1].stat().st_size)[:8]:
            size, sent = local.stat().st_size, _transfer_bytes(local)
            print(f"{size / 1e3:9.0f} kB {sent / 1e3:7.0f} kB gz  {path}")
        assert any(p.endswith("search_index.json") for p in files), sorted(files)
        if transfer > MAX_EXAMPLE_FIRST_LOAD_BYTES:
            over.append((url, transfer))
    assert not over, f"example pages over {MAX_EXAMPLE_FIRST_LOAD_BYTES} bytes transferred: {over}"
