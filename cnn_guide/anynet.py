"""AnyNet and RegNet as arithmetic: the width rule, its fit, and what a network costs.

Radosavovic, Kosaraju, Girshick, He and Dollár (2020), "Designing Network
Design Spaces", CVPR 2020, https://arxiv.org/abs/2003.13678.
Chapter: ``docs/chapters/regnet.md``.

An *AnyNet* is a stem, a body of stages and a head; stage ``i`` has a depth
``d_i`` (blocks), a width ``w_i`` (output channels), a bottleneck ratio
``b_i`` and a group width ``g_i``, each free. A *RegNet* ties them together:
one bottleneck ratio and one group width for every stage, and the widths
of its blocks on a line, quantized (section 3.3 of the paper):

* ``u_j = w_0 + w_a * j`` for block ``j`` of ``d`` (the *linear* rule);
* ``s_j = round(log(u_j / w_0) / log(w_m))`` and ``w_j = w_0 * w_m ** s_j``
  rounded to a multiple of 8 (the *quantization*): blocks of equal width
  form a stage.

Everything here is plain Python and NumPy, so that the catalogue and the
pages use it without importing TensorFlow; the Keras builders
(`cnn_guide.models.regnet`) take their configurations from it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "AnyNetConfig",
    "WidthRule",
    "block_widths",
    "compatible_width",
    "fit_width_rule",
    "regnet_config",
    "stage_widths",
    "width_rule_error",
]

QUANTUM = 8
"""Widths are multiples of 8 (the paper's ``q``)."""


@dataclass(frozen=True)
class WidthRule:
    """The parameters of RegNet's quantized linear width rule.

    Attributes:
        depth: Blocks in the whole body, ``d``.
        w_0: Width of the first block (and the line's intercept), ``w_0 > 0``.
        w_a: Slope of the line, ``w_a >= 0``.
        w_m: Multiplier between the widths of successive stages, ``w_m > 1``.
    """

    depth: int
    w_0: float
    w_a: float
    w_m: float

    def __post_init__(self) -> None:
        if isinstance(self.depth, bool) or not isinstance(self.depth, int) or self.depth < 1:
            raise ValueError(f"WidthRule: depth must be a positive int, got {self.depth!r}.")
        if not self.w_0 > 0 or not self.w_a >= 0 or not self.w_m > 1:
            raise ValueError(
                "WidthRule: needs w_0 > 0, w_a >= 0 and w_m > 1 (the paper samples "
                f"w_0 and w_a in [8, 256] and w_m in [1.5, 3]); got w_0={self.w_0!r}, "
                f"w_a={self.w_a!r}, w_m={self.w_m!r}."
            )


def block_widths(rule: WidthRule, quantum: int = QUANTUM) -> list[int]:
    """The width of every block under the quantized linear rule (paper, eq. 2-4).

    ``u_j = w_0 + w_a * j`` for ``j = 0 .. d - 1``; each ``u_j`` is snapped to
    the nearest power of ``w_m`` times ``w_0`` (in log scale), then rounded to a
    multiple of ``quantum``, as the reference implementation (pycls) does.

    Example:
        ```python
        block_widths(WidthRule(depth=22, w_0=24, w_a=24.48, w_m=2.54))
        # [24, 56, 56, 152, 152, ...]: RegNetX-400MF, before group rounding
        ```

    Args:
        rule: The rule's parameters.
        quantum: Widths become multiples of this (8 in the paper).

    Returns:
        ``d`` widths, non-decreasing.
    """
    j = np.arange(rule.depth)
    continuous = rule.w_0 + rule.w_a * j
    steps = np.round(np.log(continuous / rule.w_0) / np.log(rule.w_m))
    widths = rule.w_0 * np.power(rule.w_m, steps)
    return [int(w) for w in np.round(widths / quantum).astype(int) * quantum]


def stage_widths(widths: Sequence[int]) -> tuple[list[int], list[int]]:
    """Group per-block widths into stages: runs of equal width.

    Returns:
        ``(depths, widths)``: blocks per stage and each stage's width.
    """
    depths: list[int] = []
    stages: list[int] = []
    for width in widths:
        if stages and stages[-1] == width:
            depths[-1] += 1
        else:
            stages.append(int(width))
            depths.append(1)
    return depths, stages


def compatible_width(width: int, bottleneck_ratio: float, group_width: int) -> tuple[int, int]:
    """A stage width whose bottleneck splits into whole groups, and the group width.

    As the paper's code (pycls, ``adjust_block_compatibility``): the group
    width is at most the inner width ``w / b``, and the inner width is rounded
    to a multiple of the group width; the stage width is the inner width
    times ``b`` again.

    Returns:
        ``(width, group_width)``, adjusted.
    """
    inner = max(1.0, width / bottleneck_ratio)
    group_width = int(min(group_width, inner))
    inner = max(group_width, round(inner / group_width) * group_width)
    return round(inner * bottleneck_ratio), group_width


@dataclass(frozen=True)
class AnyNetConfig:
    """One network of the AnyNet design space: a stem and stages of X or Y blocks.

    Attributes:
        depths: Blocks per stage.
        widths: Output channels per stage.
        bottleneck_ratios: Per stage, the output width over the inner width
            (``b``: the 3x3 works on ``w / b`` channels; the paper samples 1, 2
            or 4, and its RegNets use 1).
        group_widths: Per stage, channels per group of the 3x3 convolution.
        stem_width: Channels of the 3x3 stem convolution.
        se_ratio: Squeeze-and-excitation width over the block's input width
            (0.25 in RegNetY), or ``None`` for X blocks.
    """

    depths: tuple[int, ...]
    widths: tuple[int, ...]
    bottleneck_ratios: tuple[float, ...]
    group_widths: tuple[int, ...]
    stem_width: int = 32
    se_ratio: float | None = None

    def __post_init__(self) -> None:
        n = len(self.depths)
        lengths = [len(self.widths), len(self.bottleneck_ratios), len(self.group_widths)]
        if n == 0 or any(length != n for length in lengths):
            raise ValueError(
                "AnyNetConfig: depths, widths, bottleneck_ratios and group_widths need one "
                f"entry per stage, got {n}, {lengths[0]}, {lengths[1]} and {lengths[2]}."
            )
        for width, ratio, group in zip(
            self.widths, self.bottleneck_ratios, self.group_widths, strict=True
        ):
            inner = round(width / ratio)
            if inner % group:
                raise ValueError(
                    f"AnyNetConfig: a stage of width {width} with bottleneck ratio {ratio} "
                    f"has {inner} inner channels, not a multiple of its group width {group}; "
                    "adjust it with compatible_width()."
                )

    def parameters(
        self, *, input_channels: int = 1, num_classes: int = 10, trainable_only: bool = False
    ) -> int:
        """The parameter count of the Keras network this describes (`cnn_guide.models.regnet`).

        Convolutions have no biases; each batch normalization has 4 weights
        per channel (2 trainable); the SE block's two 1x1 layers and the
        classifier have biases.
        """
        bn = 2 if trainable_only else 4
        total = 9 * input_channels * self.stem_width + bn * self.stem_width
        w_in = self.stem_width
        for depth, width, ratio, group in self._stages():
            inner = round(width / ratio)
            for i in range(depth):
                total += w_in * inner + bn * inner  # 1x1 reduce
                total += 9 * group * inner + bn * inner  # grouped 3x3
                if self.se_ratio is not None:
                    se = int(w_in * self.se_ratio)
                    total += 2 * inner * se + se + inner
                total += inner * width + bn * width  # 1x1 expand
                if i == 0:  # every stage opens with a stride-2 block: a projection
                    total += w_in * width + bn * width
                w_in = width
        return total + w_in * num_classes + num_classes

    def macs(
        self,
        side: int = 28,
        *,
        input_channels: int = 1,
        stem_stride: int = 1,
        num_classes: int = 10,
    ) -> int:
        """Multiply-accumulates per image of the convolutions and the classifier.

        Every stage starts with a stride-2 block ('same' padding: a side ``n``
        becomes ``ceil(n / 2)``).
        """
        side = -(-side // stem_stride)
        total = side * side * 9 * input_channels * self.stem_width
        w_in = self.stem_width
        for depth, width, ratio, group in self._stages():
            inner = round(width / ratio)
            for i in range(depth):
                area_in = side * side
                if i == 0:
                    side = -(-side // 2)
                area = side * side
                total += area_in * w_in * inner + area * 9 * group * inner + area * inner * width
                if self.se_ratio is not None:
                    total += 2 * inner * int(w_in * self.se_ratio)
                if i == 0:
                    total += area * w_in * width
                w_in = width
        return total + w_in * num_classes

    def _stages(self) -> list[tuple[int, int, float, int]]:
        return list(
            zip(self.depths, self.widths, self.bottleneck_ratios, self.group_widths, strict=True)
        )


def regnet_config(
    rule: WidthRule,
    *,
    group_width: int,
    bottleneck_ratio: float = 1.0,
    stem_width: int = 32,
    se_ratio: float | None = None,
) -> AnyNetConfig:
    """A RegNet from its rule: per-block widths, stages, then group compatibility.

    Example:
        ```python
        x400 = regnet_config(WidthRule(22, 24, 24.48, 2.54), group_width=16)
        x400.depths, x400.widths  # (1, 2, 7, 12), (32, 64, 160, 384)
        ```
    """
    depths, widths = stage_widths(block_widths(rule))
    adjusted = [compatible_width(w, bottleneck_ratio, group_width) for w in widths]
    return AnyNetConfig(
        depths=tuple(depths),
        widths=tuple(w for w, _ in adjusted),
        bottleneck_ratios=(bottleneck_ratio,) * len(widths),
        group_widths=tuple(g for _, g in adjusted),
        stem_width=stem_width,
        se_ratio=se_ratio,
    )


def fit_width_rule(
    depths: Sequence[int], widths: Sequence[int], *, w_m_grid: Sequence[float] | None = None
) -> WidthRule:
    """Fit the quantized linear rule to a network's stage depths and widths (paper, section 4).

    The line ``u_j = w_0 + w_a * j`` is fitted to the per-block widths by least
    squares (`numpy.polyfit`); ``w_m`` is then the value of a grid (1.5 to 3
    by default, the paper's range) whose quantized widths are closest to the
    network's in log scale, the paper's ``e_fit``.

    Returns:
        The fitted rule (``w_0`` at least 1, ``w_a`` at least 0).
    """
    per_block = np.repeat(np.asarray(widths, dtype=float), np.asarray(depths, dtype=int))
    if per_block.size == 0:
        raise ValueError("fit_width_rule: needs at least one block, got no depths.")
    j = np.arange(per_block.size)
    if per_block.size > 1:
        w_a, w_0 = np.polyfit(j, per_block, 1)
    else:
        w_a, w_0 = 0.0, per_block[0]
    w_0, w_a = max(float(w_0), 1.0), max(float(w_a), 0.0)
    grid = np.linspace(1.5, 3.0, 61) if w_m_grid is None else np.asarray(w_m_grid, dtype=float)
    depth = int(per_block.size)
    w_m = min(
        grid, key=lambda w_m: width_rule_error(depths, widths, WidthRule(depth, w_0, w_a, w_m))
    )
    return WidthRule(depth, w_0, w_a, float(w_m))


def width_rule_error(depths: Sequence[int], widths: Sequence[int], rule: WidthRule) -> float:
    """How far a rule's quantized widths are from a network's, block by block.

    The paper's ``e_fit`` (section 4): the mean absolute difference of the
    logarithms of the rule's width and the network's width over the blocks
    (0 for a network the rule generates exactly). Blocks beyond the rule's
    depth, or the network's, are not compared.
    """
    per_block = np.repeat(np.asarray(widths, dtype=float), np.asarray(depths, dtype=int))
    fitted = np.maximum(np.asarray(block_widths(rule), dtype=float), 1.0)
    n = min(per_block.size, fitted.size)
    if n == 0:
        raise ValueError("width_rule_error: needs at least one block on each side.")
    return float(np.mean(np.abs(np.log(fitted[:n]) - np.log(per_block[:n]))))
