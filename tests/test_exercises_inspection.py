"""The exercises of the inspection chapter: every figure an answer states, recomputed.

The identities of exercises 2 and 3 (Grad-CAM equals CAM after global average
pooling) are checked on the trained networks in ``tests/test_inspection.py``;
the shared-mistakes arithmetic of exercise 4 in ``tests/test_ensemble.py``.
"""

from __future__ import annotations

import numpy as np
from exercise_text import assert_stated

from cnn_guide import models
from cnn_guide.ensemble import majority_vote
from cnn_guide.inspection import feature_maps, stage_outputs

CHAPTER = "inspection"


def test_exercise_1_the_stage_sizes_and_the_block_per_cell():
    model = models.build("resnet_fashion")
    maps = feature_maps(model, np.zeros((28, 28, 1)), stage_outputs(model))
    sizes = [int(np.prod(value.shape)) for value in maps.values()]
    stated = [f"{size:,}".replace(",", "{,}") for size in sizes]
    assert_stated(CHAPTER, *stated)
    assert [size // 784 for size in sizes] == [16, 8, 4]
    side = 28 // next(reversed(maps.values())).shape[0]
    assert_stated(CHAPTER, f"a {side}x{side} block of the 28x28 image")


def test_exercise_4_the_count_under_independent_errors():
    expected = 10_000 * 0.07**12
    mantissa, exponent = f"{expected:.1e}".split("e")
    assert_stated(CHAPTER, f"{mantissa} \\cdot 10^{{{int(exponent)}}}")


def test_exercise_5_the_vote():
    a, b, c = [0, 1, 2], [1, 1, 3], [2, 0, 3]
    vote = majority_vote(np.array([a, b, c]), ranking=[1, 0, 2]).tolist()
    assert_stated(CHAPTER, f"`{vote}`", "majority_vote(np.array([A, B, C]), ranking=[1, 0, 2])")
