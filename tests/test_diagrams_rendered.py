"""The pre-rendered block diagrams (tools/render_diagrams.py) match the code they show."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import keras
import pytest

from cnn_guide.diagrams import fingerprint

ROOT = Path(__file__).resolve().parent.parent


def _load_tool():
    spec = importlib.util.spec_from_file_location(
        "render_diagrams", ROOT / "tools/render_diagrams.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look the module up by name
    spec.loader.exec_module(module)
    return module


tool = _load_tool()
EXAMPLES = tool.examples_with_diagrams()

_TOY = """\
import keras

from cnn_guide.diagrams import draw_model
from cnn_guide.plotting import show

# %%
# --8<-- [start:block]
def toy_block(x, filters):
    y = keras.layers.Conv2D(filters, 3, padding="same", name="conv")(x)
    return keras.layers.Add(name="add")([x, y])
# --8<-- [end:block]

# %%
# --8<-- [start:diagram]
inputs = keras.Input((8, 8, 4), name="input")
show(draw_model(keras.Model(inputs, toy_block(inputs, 4)), title="toy_block(x, 4)"), "toy")
# --8<-- [end:diagram]
"""


def test_examples_with_a_diagram_are_found():
    assert {"resnet", "mobilenet_v2"} <= set(EXAMPLES)


@pytest.mark.parametrize("example", EXAMPLES)
def test_each_committed_diagram_matches_its_example(example):
    problem = tool.stale(ROOT / "examples" / f"{example}.py")
    assert problem is None, f"{problem}; re-render: python tools/render_diagrams.py {example}"


def test_no_diagram_without_an_example():
    svgs = {path.stem for path in (ROOT / "docs/assets/diagrams").glob("*.svg")}
    assert svgs == set(EXAMPLES)


@pytest.mark.parametrize("example", EXAMPLES)
def test_each_diagram_is_shown_by_a_chapter_with_its_code(example):
    chapters = [path.read_text() for path in (ROOT / "docs/chapters").glob("*.md")]
    showing = [
        text
        for text in chapters
        if f"../assets/diagrams/{example}.svg" in text
        and f'--8<-- "examples/{example}.py:block"' in text
    ]
    assert len(showing) == 1, f"one chapter includes the block and diagram of {example}"


def test_a_changed_block_makes_its_diagram_stale(tmp_path):
    script = tmp_path / "toy.py"
    script.write_text(_TOY)
    svg = tool.render(script, tmp_path)
    assert "2 add [merge] 8×8×4 <- 0,1" in tool.stored_fingerprint(svg)
    assert tool.stale(script, tmp_path) is None
    script.write_text(_TOY.replace('name="conv")(x)', 'name="conv")(keras.layers.ReLU()(x))'))
    assert "no longer matches" in tool.stale(script, tmp_path)
    script.write_text(_TOY.replace('title="toy_block(x, 4)"', 'title="toy_block(x, 5)"'))
    assert "no longer matches" in tool.stale(script, tmp_path), "the title counts too"
    script.write_text(_TOY)
    assert tool.stale(script, tmp_path) is None


def test_rendering_is_deterministic_and_transparent(tmp_path):
    script = tmp_path / "toy.py"
    script.write_text(_TOY)
    first = tool.render(script, tmp_path).read_bytes()
    assert tool.render(script, tmp_path).read_bytes() == first
    text = first.decode()
    assert "<dc:date>" not in text
    background = re.search(r'<g id="patch_1">\s*<path d="[^"]*"\s*style="([^"]*)"', text)
    assert background and "fill: none" in background.group(1)


def test_the_fingerprint_tells_shapes_and_edges_apart():
    def model(filters, skip):
        inputs = keras.Input((8, 8, 4), name="input")
        y = keras.layers.Conv2D(filters, 1, name="conv")(inputs)
        return keras.Model(inputs, keras.layers.Add(name="add")([inputs, y]) if skip else y)

    assert fingerprint(model(4, True)) == fingerprint(model(4, True))
    assert fingerprint(model(4, True)) != fingerprint(model(4, False))  # an edge less
    assert fingerprint(model(4, False)) != fingerprint(model(8, False))  # a shape changed


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (_TOY.replace("# --8<-- [end:block]\n", ""), r"exactly one '# --8<-- \[start:block\]'"),
        (_TOY.replace("show(", "draw_model(keras.Model(inputs, inputs))\nshow("), "exactly once"),
    ],
    ids=["unclosed section", "two drawings"],
)
def test_badly_marked_examples_are_refused_with_what_to_do(tmp_path, source, message):
    script = tmp_path / "toy.py"
    script.write_text(source)
    with pytest.raises(ValueError, match=message):
        tool.draw(script)


def _notebooks_hook():
    spec = importlib.util.spec_from_file_location(
        "notebooks_hook", ROOT / "docs/hooks/notebooks.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _Page:
    def __init__(self, src_uri):
        self.file = type("File", (), {"src_uri": src_uri})()


def test_example_pages_hide_the_section_markers():
    hook = _notebooks_hook()
    marker = '<span class="c1"># --8&lt;-- [{}:block]</span>'
    cell = (
        f'<pre><span></span>{marker.format("start")}\n<span class="k">def</span> f\n'
        f'    <span class="k">return</span> x\n\n\n{marker.format("end")}\n</pre>'
        '<div class="clipboard-copy-txt" id="cell-3"># --8&lt;-- [start:block]\n'
        "def f\n    return x\n\n\n# --8&lt;-- [end:block]</div>"
    )
    shown = hook.on_page_content(cell, _Page("examples/toy.py"), None, None)
    assert "8&lt;" not in shown
    assert '<pre><span></span><span class="k">def</span> f\n' in shown
    assert '<span class="k">return</span> x\n</pre>' in shown, "no blank lines left at the end"
    assert 'id="cell-3">def f\n    return x</div>' in shown
    chapter = "<code># --8&lt;-- [start:block]</code>"
    assert hook.on_page_content(chapter, _Page("chapters/toy.md"), None, None) == chapter


def test_the_downloadable_notebook_hides_the_section_markers(tmp_path):
    hook = _notebooks_hook()
    script = tmp_path / "toy.py"
    script.write_text(_TOY)
    site = tmp_path / "site"
    (site / "examples/toy").mkdir(parents=True)
    hook._notebooks = {str(script): "examples/toy"}
    hook.on_post_build({"site_dir": str(site), "repo_url": "https://example.org/repo"})
    notebook = (site / "examples/toy/toy.ipynb").read_text()
    assert "8<-" not in notebook and "def toy_block" in notebook
    assert "--8<-- [start:block]" in script.read_text(), "the script keeps its markers"
