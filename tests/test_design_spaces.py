"""Design-space experiments: deterministic populations, their runs, and the page's renderer."""

from __future__ import annotations

import inspect

import keras
import numpy as np
import pytest
from conftest import as_record

from cnn_guide import evidence, models, results
from cnn_guide.anynet import AnyNetConfig, WidthRule, regnet_config, width_rule_error
from cnn_guide.cli import main
from cnn_guide.design_spaces import (
    MACS_BAND,
    MAX_PARAMETERS,
    design_space_runs,
    get_design_space,
    list_design_spaces,
    sample_anynet,
    sample_regnet,
)
from cnn_guide.report import design_spaces as report
from cnn_guide.report.markers import render_marker
from cnn_guide.statistics import edf, ks_two_sample

SPACE = get_design_space("regnet-design-space")
ANYNET, REGNET = SPACE.populations


def test_the_populations_are_drawn_the_same_every_time():
    assert sample_anynet(32, seed=2020) == ANYNET.configs
    assert sample_regnet(32, seed=2021) == REGNET.configs
    # Pinned: a change of sampler (or of NumPy's generator) would silently
    # make every recorded run of the experiment a run of another network.
    assert ANYNET.configs[0] == AnyNetConfig(
        (1, 2, 3), (72, 96, 128), (1.0, 4.0, 2.0), (8, 8, 32), 24
    )
    assert REGNET.configs[0] == AnyNetConfig((1, 1, 2), (32, 80, 216), (2.0,) * 3, (4,) * 3, 24)
    assert sample_anynet(4, seed=1) != sample_anynet(4, seed=2)


def test_32_models_each_within_the_budget_and_three_stages():
    for population in SPACE.populations:
        assert len(population.configs) == len(set(population.configs)) == 32
        for config in population.configs:
            assert config.parameters() <= MAX_PARAMETERS
            assert MACS_BAND[0] <= config.macs() <= MACS_BAND[1]
            assert len(config.depths) == 3 and config.se_ratio is None


def test_regnet_models_obey_the_constraints_and_anynet_models_need_not():
    for config in REGNET.configs:
        assert len(set(config.bottleneck_ratios)) == 1
        assert list(config.widths) == sorted(config.widths)
    free = ANYNET.configs
    assert any(len(set(c.bottleneck_ratios)) > 1 for c in free)
    assert any(list(c.widths) != sorted(c.widths) for c in free)


def test_runs_are_regnet_fashion_with_options_on_a_subset():
    runs = SPACE.runs()
    assert len(runs) == len(set(runs)) == 64
    builder = inspect.signature(models.regnet_fashion).parameters
    for spec in runs:
        assert spec.model == "regnet_fashion" and spec.recipe == "book"
        assert set(dict(spec.options)) <= set(builder)
        assert dict(spec.task) == {"labels_per_class": 1000}
        recipe = spec.resolve()
        assert (recipe.epochs, recipe.seed) == (2, 42)
    # A RegNet shares its bottleneck ratio: one number, not a list.
    assert dict(runs[-1].options)["bottleneck_ratio"] in (1, 2, 4)


@pytest.mark.parametrize("index", [0, 32])
def test_a_sampled_run_builds_the_sampled_network(index):
    spec = SPACE.runs()[index]
    config = (ANYNET.configs + REGNET.configs)[index]
    model = spec.build_model()()
    assert model.count_params() == config.parameters()
    keras.backend.clear_session()


def test_design_spaces_are_a_plan_of_the_recorder(capsys):
    assert evidence.plan("design-spaces") == design_space_runs() == SPACE.runs()
    assert list_design_spaces() == ["regnet-design-space"]
    argv = ["record", "--plan", "design-spaces", "--only", "regnet-design-space", "--list"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.count("cnn-guide train regnet_fashion --recipe book --epochs 2") == 64
    assert "--labels-per-class 1000" in out
    with pytest.raises(ValueError, match="unknown design-space experiment 'regnet'"):
        get_design_space("regnet")


def test_width_rule_error_is_zero_for_a_generated_network():
    rule = WidthRule(8, 32, 24, 2.2)
    config = regnet_config(rule, group_width=8)
    assert width_rule_error(config.depths, config.widths, rule) == 0
    assert width_rule_error((2,), (64,), rule) > 0


def test_edf_and_ks_from_scipy():
    x, fraction = edf([0.3, 0.1, 0.2, 0.2])
    assert x.tolist() == [0.1, 0.2, 0.3] and fraction.tolist() == [0.25, 0.75, 1.0]
    apart = ks_two_sample([0.1, 0.11, 0.12, 0.13], [0.2, 0.21, 0.22, 0.23])
    assert apart.statistic == 1.0 and apart.p_value < 0.05 and apart.sizes == (4, 4)
    same = ks_two_sample([0.1, 0.2, 0.3], [0.1, 0.2, 0.3])
    assert same.statistic == 0.0 and same.p_value == 1.0
    with pytest.raises(ValueError, match="at least one value"):
        edf([])
    with pytest.raises(ValueError, match="both populations"):
        ks_two_sample([], [0.1])


# --- the page -------------------------------------------------------------------------


def _record(tiny_run, path, errors_by_label, count=None):
    """Fake runs of the experiment: each population's test errors, in sampling order."""
    for population in SPACE.populations:
        errors = errors_by_label[population.label]
        for config, error in list(zip(population.configs, errors, strict=False))[:count]:
            spec = SPACE.run_of(population, config)
            results.record(as_record(tiny_run, spec, test_accuracy=1 - error), path)


def test_the_page_names_the_command_before_any_run(tmp_path):
    text = render_marker("design-space: regnet-design-space", path=tmp_path / "none")
    assert "Not recorded yet" in text
    assert "`cnn-guide record --plan design-spaces --only regnet-design-space`" in text
    assert "64 runs" in text and "<img" not in text


def test_the_page_shows_the_edfs_the_ks_test_and_the_fitted_rule(tiny_run, tmp_path):
    rng = np.random.default_rng(0)
    errors = {"AnyNetX": 0.2 + 0.05 * rng.random(32), "RegNetX": 0.1 + 0.05 * rng.random(32)}
    _record(tiny_run, tmp_path, errors)
    text = report.render_design_space("regnet-design-space", tmp_path)
    assert "| AnyNetX |" in text and "32 of 32" in text
    assert "Kolmogorov-Smirnov two-sample test (AnyNetX: 32 models, RegNetX: 32)" in text
    assert "D = 1.000" in text and "differ at the 5% level" in text
    assert text.count("<img") == 1
    # The rule is fitted to the best quarter of AnyNetX: 8 rows, best first.
    best = report.fitted_rules(SPACE.recorded(tmp_path)["AnyNetX"])
    assert len(best) == 8 and [e for _, e, _, _ in best] == sorted(e for _, e, _, _ in best)
    assert f"{best[0][1]:.2%}" in text and "e_fit" in text
    assert "The other 24 models' mean e_fit" in text


def test_the_page_reads_equal_populations_as_cannot_tell(tiny_run, tmp_path):
    same = np.linspace(0.1, 0.2, 6)
    _record(tiny_run, tmp_path, {"AnyNetX": same, "RegNetX": same}, count=6)
    text = report.summary(SPACE, tmp_path)
    assert "6 of 32" in text and "52 runs are missing" in text
    assert "cannot tell the two error distributions apart" in text
    fig = report.plot_edfs(SPACE, tmp_path)
    assert len(fig.axes[0].lines) == 2


def test_the_edf_plot_needs_runs(tmp_path):
    with pytest.raises(ValueError, match="no run of the design space"):
        report.plot_edfs(SPACE, tmp_path)
