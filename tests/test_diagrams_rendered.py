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
