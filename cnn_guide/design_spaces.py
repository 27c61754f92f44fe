"""The design-space experiments, as data: populations of sampled networks, one run each.

Radosavovic, Kosaraju, Girshick, He and Dollár (2020), "Designing Network
Design Spaces", https://arxiv.org/abs/2003.13678, sections 2-3. Chapter:
``docs/chapters/regnet.md``.

A teaching experiment (`cnn_guide.experiments`) compares a few networks,
each trained with several seeds. A design-space experiment compares two
*populations*: many networks drawn at random from each of two design
spaces, each trained once (seed 42) for a short schedule, judged by the
distribution of their errors (the empirical distribution function, EDF)
rather than by their best member. The draws are made here, with a fixed
seed of their own, so the same populations come out every time; every
sampled network is `cnn_guide.models.regnet_fashion` with options.

```python
from cnn_guide.design_spaces import get_design_space

space = get_design_space("regnet-design-space")
for spec in space.runs()[:2]:
    print(spec.command)
```

``cnn-guide record --plan design-spaces`` records the runs;
`cnn_guide.report.design_spaces` draws the page.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from cnn_guide.anynet import AnyNetConfig, WidthRule, compatible_width, regnet_config
from cnn_guide.results import find_all
from cnn_guide.runs import RunRecord, RunSpec

__all__ = [
    "DesignSpace",
    "Population",
    "design_space_runs",
    "get_design_space",
    "list_design_spaces",
    "sample_anynet",
    "sample_regnet",
]

STEM_WIDTH = 24
"""Every sampled network's stem, as `regnet_fashion`'s (the paper fixes its stem too)."""

MAX_PARAMETERS = 1_000_000
"""Every sampled network has at most this many weights."""

MACS_BAND = (2_000_000, 12_000_000)
"""Multiply-accumulates per 28x28 image every sampled network falls in.

The paper samples its populations in a narrow compute band (360 to 400
million flops at 224x224) so that the spaces compare at equal cost; this band
brackets `regnet_fashion`'s 8.2 million and keeps each run to about a minute
on two CPU cores."""

BOTTLENECK_RATIOS = (1, 2, 4)
"""The paper's bottleneck ratios ``b`` (section 3.1)."""

GROUP_WIDTHS = (4, 8, 16, 32)
"""Group widths ``g`` sampled: the paper's 1 to 32, without 1 and 2.

`GroupedConv2D` runs one small convolution per group on a CPU; at least 4
channels per group keeps a 128-wide stage to 32 convolutions or fewer."""


@dataclass(frozen=True)
class Population:
    """The networks drawn from one design space.

    Attributes:
        label: The design space's name on the page, e.g. ``"AnyNetX"``.
        description: How its networks are drawn, in a sentence.
        configs: The sampled networks.
    """

    label: str
    description: str
    configs: tuple[AnyNetConfig, ...]


def _options(config: AnyNetConfig, shared: bool) -> dict[str, Any]:
    """`regnet_fashion`'s options for ``config`` (one shared ``g`` and ``b`` for a RegNet)."""

    def number(value: float) -> float | int:
        return int(value) if float(value).is_integer() else float(value)

    groups = [int(g) for g in config.group_widths]
    ratios = [number(b) for b in config.bottleneck_ratios]
    return {
        "depths": list(config.depths),
        "widths": list(config.widths),
        "group_width": groups[0] if shared and len(set(groups)) == 1 else groups,
        "bottleneck_ratio": ratios[0] if shared and len(set(ratios)) == 1 else ratios,
        "se": config.se_ratio is not None,
    }


@dataclass(frozen=True)
class DesignSpace:
    """A design-space experiment: two populations, each network trained once.

    Attributes:
        name: Its name, e.g. ``"regnet-design-space"``.
        chapter: The example (and chapter) that shows it.
        question: What it asks, in one sentence.
        source: The paper's experiment it follows.
        populations: The design spaces compared; the first is the baseline.
        model: The registered builder every sampled network is.
        epochs: Epochs every run trains for.
        labels_per_class: Training images per class (a subset, for speed).
        seed: The one seed every run trains with.
        recipe: The recipe every run trains under.
    """

    name: str
    chapter: str
    question: str
    source: str
    populations: tuple[Population, ...]
    model: str = "regnet_fashion"
    epochs: int = 2
    labels_per_class: int = 1000
    seed: int = 42
    recipe: str = "book"

    def run_of(self, population: Population, config: AnyNetConfig) -> RunSpec:
        """The run of one sampled network."""
        return RunSpec.of(
            self.model,
            self.recipe,
            options=_options(config, shared=population is not self.populations[0]),
            task={"labels_per_class": self.labels_per_class},
            epochs=self.epochs,
            seed=self.seed,
        )

    def runs(self) -> list[RunSpec]:
        """Every run, population by population, in sampling order."""
        return [
            self.run_of(population, config)
            for population in self.populations
            for config in population.configs
        ]

    def recorded(
        self, path: str | os.PathLike | None = None
    ) -> dict[str, list[tuple[AnyNetConfig, RunRecord]]]:
        """Each population's recorded runs (current ones only), with their networks."""
        found = iter(find_all(self.runs(), path))
        return {
            population.label: [
                (config, run)
                for config, run in ((config, next(found)) for config in population.configs)
                if run is not None and run.is_current()
            ]
            for population in self.populations
        }


def _draw(
    count: int, seed: int, draw: Callable[[np.random.Generator], AnyNetConfig | None]
) -> tuple[AnyNetConfig, ...]:
    """The first ``count`` accepted draws of one generator: deterministic by ``seed``."""
    rng = np.random.default_rng(seed)
    configs: list[AnyNetConfig] = []
    for _ in range(10_000 * count):
        config = draw(rng)
        if config is not None and _affordable(config):
            configs.append(config)
            if len(configs) == count:
                return tuple(configs)
    raise ValueError(f"could not draw {count} networks in the band; widen the ranges.")


def _affordable(config: AnyNetConfig) -> bool:
    low, high = MACS_BAND
    return config.parameters() <= MAX_PARAMETERS and low <= config.macs() <= high


def sample_anynet(count: int, seed: int) -> tuple[AnyNetConfig, ...]:
    """Networks of AnyNetX for 28x28 images: every stage's parameters free.

    Three stages; for each, independently: depth ``d_i`` in 1..4, width
    ``w_i`` a multiple of 8 up to 128, bottleneck ratio ``b_i`` in
    `BOTTLENECK_RATIOS`, group width ``g_i`` in `GROUP_WIDTHS` (rounded with
    `cnn_guide.anynet.compatible_width`); X blocks. The paper's AnyNetX
    (section 3.1) has four stages, depths up to 16 and widths up to 1024.
    Draws outside `MAX_PARAMETERS` and `MACS_BAND` are rejected.
    """

    def draw(rng: np.random.Generator) -> AnyNetConfig:
        depths = tuple(int(d) for d in rng.integers(1, 5, size=3))
        widths = [8 * int(k) for k in rng.integers(1, 17, size=3)]
        ratios = [int(rng.choice(BOTTLENECK_RATIOS)) for _ in range(3)]
        groups = [int(rng.choice(GROUP_WIDTHS)) for _ in range(3)]
        adjusted = [compatible_width(*args) for args in zip(widths, ratios, groups, strict=True)]
        return AnyNetConfig(
            depths,
            tuple(w for w, _ in adjusted),
            tuple(float(b) for b in ratios),
            tuple(g for _, g in adjusted),
            STEM_WIDTH,
        )

    return _draw(count, seed, draw)


def sample_regnet(count: int, seed: int) -> tuple[AnyNetConfig, ...]:
    """Networks of RegNetX for 28x28 images: the quantized linear rule, shared ``b`` and ``g``.

    Per network: total depth ``d`` in 3..12, ``w_0`` and ``w_a`` uniform in
    [8, 64], ``w_m`` uniform in [1.5, 3], one bottleneck ratio from
    `BOTTLENECK_RATIOS` and one group width from `GROUP_WIDTHS`; the widths
    then follow `cnn_guide.anynet.regnet_config`. Networks whose rule gives
    other than three stages (as every AnyNetX draw has) are rejected, as are
    those outside `MAX_PARAMETERS` and `MACS_BAND`. The paper's RegNet design
    space (section 3.3) samples ``d < 64`` and ``w_0, w_a < 256``.
    """

    def draw(rng: np.random.Generator) -> AnyNetConfig | None:
        rule = WidthRule(
            int(rng.integers(3, 13)),
            float(np.round(rng.uniform(8, 64), 2)),
            float(np.round(rng.uniform(8, 64), 2)),
            float(np.round(rng.uniform(1.5, 3.0), 3)),
        )
        ratio = int(rng.choice(BOTTLENECK_RATIOS))
        group = int(rng.choice(GROUP_WIDTHS))
        config = regnet_config(
            rule, group_width=group, bottleneck_ratio=float(ratio), stem_width=STEM_WIDTH
        )
        return config if len(config.depths) == 3 else None

    return _draw(count, seed, draw)


_SPACES = (
    DesignSpace(
        name="regnet-design-space",
        chapter="regnet",
        question="Is a random network of the RegNet design space better than a random "
        "network of the unconstrained AnyNet space?",
        source="Radosavovic et al. (2020), sections 3.1-3.3: error EDFs of "
        "AnyNetX and RegNetX populations",
        populations=(
            Population(
                "AnyNetX",
                "per stage, free depth, width, bottleneck ratio and group width",
                sample_anynet(32, seed=2020),
            ),
            Population(
                "RegNetX",
                "quantized linear widths, one bottleneck ratio and one group width",
                sample_regnet(32, seed=2021),
            ),
        ),
    ),
)

_BY_NAME = {space.name: space for space in _SPACES}


def list_design_spaces() -> list[str]:
    """Names of the design-space experiments, in the book's order."""
    return list(_BY_NAME)


def get_design_space(name: str) -> DesignSpace:
    """A design-space experiment by name.

    Raises:
        ValueError: For an unknown name, listing the known ones.
    """
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ValueError(
            f"unknown design-space experiment {name!r}; choose one of: {', '.join(_BY_NAME)}."
        ) from None


def design_space_runs(names: list[str] | None = None) -> list[RunSpec]:
    """The runs of the named design-space experiments (default: all), without repeats."""
    chosen = [get_design_space(name) for name in (names or list_design_spaces())]
    return list(dict.fromkeys(spec for space in chosen for spec in space.runs()))
