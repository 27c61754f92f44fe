"""The exercises of the RegNet chapter: every figure an answer states, recomputed.

Each figure is computed here with the package (building the block or the
model and counting, or with `cnn_guide.anynet` and `cnn_guide.statistics`)
and must appear, as printed here, in the chapter's section "Exercises".
"""

from __future__ import annotations

import math

import keras
import numpy as np
from exercise_text import assert_four_to_six_with_answers, assert_stated

from cnn_guide import models
from cnn_guide.analysis import conv_params, layer_table
from cnn_guide.anynet import WidthRule, block_widths, compatible_width, regnet_config
from cnn_guide.layers import RegNetXBlock, RegNetYBlock
from cnn_guide.models.regnet import PAPER_RULES
from cnn_guide.statistics import edf, ks_two_sample

CHAPTER = "regnet"


def test_four_to_six_exercises_each_with_an_answer():
    assert_four_to_six_with_answers(CHAPTER)


def test_a_second_stage_y_block():
    block = RegNetYBlock(72, group_width=8)
    block.build((None, 7, 7, 72))
    assert block.count_params() == 19_098
    assert not block.projection
    convs = 72 * 72 + 9 * 8 * 72 + 72 * 72
    se = 2 * 18 * 72 + 18 + 72
    assert (convs, se, 3 * 72 * 4) == (15_552, 2_682, 864)
    table = layer_table(models.regnet_fashion())
    assert table["s2_b2"].params == 19_098
    assert table["s2_b2"].macs == 49 * convs + 2 * 18 * 72 == 764_640
    assert_stated(CHAPTER, "15{,}552", "2{,}682", "864", "**19,098**", "`s2_b2`", "**764,640**")
    keras.backend.clear_session()


def test_the_width_rule_by_hand():
    rule = WidthRule(8, 32, 24, 2.2)
    u = [32 + 24 * j for j in range(8)]
    steps = [math.log(w / 32) / math.log(2.2) for w in u]
    assert [f"{s:.2f}" for s in steps] == [
        "0.00", "0.71", "1.16", "1.49", "1.76", "1.98", "2.16", "2.32"
    ]  # fmt: skip
    assert [round(s) for s in steps] == [0, 1, 1, 1, 2, 2, 2, 2]
    assert block_widths(rule) == [32, 72, 72, 72, 152, 152, 152, 152]
    config = regnet_config(rule, group_width=8)
    assert (config.depths, config.widths) == ((1, 3, 4), (32, 72, 152))
    assert_stated(
        CHAPTER,
        "32, 56, 80, 104, 128, 152, 176, 200",
        "0, 0.71, 1.16, 1.49, 1.76, 1.98, 2.16, 2.32",
        "70.4 and 154.88",
        "**depths 1, 3, 4 and widths 32, 72, 152**",
    )


def test_groups_of_the_last_x400_stage():
    block = RegNetXBlock(384, group_width=16)
    assert block.groups == 24
    grouped = conv_params(3, 384, 384, bias=False, groups=24)
    ordinary = conv_params(3, 384, 384, bias=False)
    assert (grouped, ordinary) == (55_296, 1_327_104)
    assert ordinary / grouped == 24
    assert_stated(CHAPTER, "**24 groups**", "55{,}296", "1{,}327{,}104", "**1/24**")


def test_rounding_x400_to_whole_groups():
    row = PAPER_RULES["regnetx_400mf"]
    assert sorted(set(block_widths(row["rule"]))) == [24, 64, 152, 392]
    assert [compatible_width(w, 1.0, 16)[0] for w in (24, 64, 152, 392)] == [32, 64, 160, 384]
    assert round(1.5) == 2 and round(9.5) == 10 and round(24.5) == 24  # halves to even
    assert_stated(CHAPTER, "24, 64, 152 and 392", "**32**", "**160**", "**384**", "`round`")


def test_edf_and_a_complete_separation():
    errors = np.array([0.10, 0.12, 0.14, 0.16, 0.18, 0.20])
    x, fraction = edf(errors)
    assert fraction[x <= 0.14][-1] == 0.5  # F(e) = 0.5 at the median
    apart = ks_two_sample(np.linspace(0.10, 0.15, 32), np.linspace(0.16, 0.20, 32))
    assert apart.statistic == 1.0 and apart.p_value < 1e-10
    assert_stated(CHAPTER, "$D = 1$", "**every**", "`ks_two_sample`")
