"""The exercises of the inspection chapter: every figure an answer states, recomputed.

The identities of exercises 2 and 3 (Grad-CAM equals CAM after global average
pooling) are checked on the trained networks in ``tests/test_inspection.py``;
the shared-mistakes arithmetic of exercise 4 in ``tests/test_ensemble.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cnn_guide import models
from cnn_guide.ensemble import majority_vote
from cnn_guide.inspection import feature_maps, stage_outputs

ROOT = Path(__file__).resolve().parent.parent


def exercises() -> str:
    """The chapter's section "Exercises", up to the footnotes, with line breaks as spaces."""
    text = (ROOT / "docs" / "chapters" / "inspection.md").read_text(encoding="utf-8")
    start = text.index("\n## Exercises\n")
    return " ".join(text[start : text.index("\n[^", start)].split())


def test_exercise_1_the_stage_sizes_and_the_block_per_cell():
    model = models.build("resnet_fashion")
    maps = feature_maps(model, np.zeros((28, 28, 1)), stage_outputs(model))
    sizes = [int(np.prod(value.shape)) for value in maps.values()]
    stated = [f"{size:,}".replace(",", "{,}") for size in sizes]
    assert all(figure in exercises() for figure in stated), stated
    assert [size // 784 for size in sizes] == [16, 8, 4]
    side = 28 // next(reversed(maps.values())).shape[0]
    assert f"a {side}x{side} block of the 28x28 image" in exercises()


def test_exercise_4_the_count_under_independent_errors():
    expected = 10_000 * 0.07**12
    mantissa, exponent = f"{expected:.1e}".split("e")
    assert f"{mantissa} \\cdot 10^{{{int(exponent)}}}" in exercises()


def test_exercise_5_the_vote():
    a, b, c = [0, 1, 2], [1, 1, 3], [2, 0, 3]
    vote = majority_vote(np.array([a, b, c]), ranking=[1, 0, 2]).tolist()
    assert f"`{vote}`" in exercises()
    assert "majority_vote(np.array([A, B, C]), ranking=[1, 0, 2])" in exercises()
