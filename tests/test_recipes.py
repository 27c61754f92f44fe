"""cnn_guide.recipes: the registered recipes, their fields and their pipelines."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from cnn_guide.recipes import STOP_FIELDS, Recipe, get_recipe, list_recipes, one_cycle


def test_one_cycle_rises_to_its_peak_then_anneals_to_the_end():
    schedule = one_cycle(0.01, warmup=0.25, final=0.0)
    assert schedule(0.0) == pytest.approx(0.001)
    assert schedule(0.25) == pytest.approx(0.01)
    assert schedule(0.625) == pytest.approx(0.005)
    assert schedule(1.0) == pytest.approx(0.0)
    rising = [schedule(p) for p in np.linspace(0, 0.25, 6)]
    falling = [schedule(p) for p in np.linspace(0.25, 1, 6)]
    assert rising == sorted(rising) and falling == sorted(falling, reverse=True)


@pytest.mark.parametrize(("kwargs", "message"), [({"peak": 0}, "peak"), ({"warmup": 1}, "warmup")])
def test_one_cycle_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        one_cycle(**{"peak": 0.01, **kwargs})


def test_recipes_are_registered_and_unknown_names_list_them():
    assert {"book", "protocol", "seed", "benchmark", "throughput", "fast"} <= set(list_recipes())
    with pytest.raises(ValueError, match="choose one of: book, protocol"):
        get_recipe("fastest")
    with pytest.raises(ValueError, match="resnet_fashion"):
        get_recipe("protocol", model="resnet_fashon")
    with pytest.raises(ValueError, match="Recipe has no field 'epoch'"):
        get_recipe("protocol", epoch=3)


def test_every_recipe_says_when_it_stops():
    for name in list_recipes():
        get_recipe(name).check_stop_rule()


def test_the_protocol_and_the_recipes_made_from_it():
    protocol = get_recipe("protocol")
    assert (protocol.optimizer, protocol.learning_rate, protocol.batch_size) == ("adam", 1e-3, 128)
    assert (protocol.seed, protocol.epochs, protocol.stop_rule) == (42, 10, "10 epoch(s)")
    benchmark, throughput = get_recipe("benchmark"), get_recipe("throughput")
    assert (benchmark.minutes, benchmark.epochs, benchmark.eval_every) == (3, None, 30)
    assert (throughput.steps, throughput.epochs) == (23, None)
    # Apart from the stop rule and its checkpoints, the benchmark trains as the
    # book recipe does (so no row sits at chance for want of settled batch-norm
    # statistics) and the speed measurement as the protocol does.
    ignored = {"name", "summary", *STOP_FIELDS, "eval_every"}
    for derived, base in ((benchmark, get_recipe("book")), (throughput, protocol)):
        changed = {
            f.name
            for f in dataclasses.fields(Recipe)
            if getattr(derived, f.name) != getattr(base, f.name)
        }
        assert changed <= ignored, changed


def test_the_seed_recipe_is_the_seed_notebooks():
    seed = get_recipe("seed")
    assert (seed.model, seed.optimizer, seed.batch_size, seed.epochs) == (
        "simple_cnn",
        "nadam",
        32,
        10,
    )
    assert seed.schedule == "constant" and not (seed.flip or seed.shift or seed.label_smoothing)


def test_each_ablation_changes_one_technique_of_the_fast_recipe():
    from cnn_guide.experiments import get_experiment

    ablation = get_experiment("fast-ablation")
    assert ablation.recipe == "fast" and len(ablation.seeds) == 3
    fast, *changed = ablation.arms
    assert not fast.changes
    techniques = {
        "flip",
        "shift",
        "flip_at_test",
        "schedule",
        "learning_rate",
        "label_smoothing",
        "weight_decay",
    }
    for arm in changed:
        assert arm.changes and set(arm.changes) <= techniques, arm
        assert arm.model == fast.model and not arm.options
        get_recipe("fast", **arm.changes)  # a valid recipe


def test_any_stop_field_replaces_the_whole_stop_rule():
    fast = get_recipe("fast")
    assert fast.minutes == 3 and fast.epochs is None
    assert fast.replace(epochs=5).minutes is None
    both = fast.replace(epochs=5, minutes=2)
    assert both.stop_rule == "5 epoch(s) or 2 min"
    assert fast.replace(label_smoothing=0.2).minutes == 3  # other fields keep the rule
    assert get_recipe("protocol").changes_from(get_recipe("protocol")) == {}
    assert fast.replace(epochs=5).changes_from(fast) == {"epochs": 5, "minutes": None}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"epochs": 0}, "epochs must be a positive number"),
        ({"batch_size": -1}, "batch_size must be a positive integer"),
        ({"precision": "float16"}, "precision must be one of"),
        ({"learning_rate": -0.1}, "learning_rate must be a positive number"),
        ({"schedule": "cosine"}, "schedule must be one of"),
        ({"label_smoothing": 1.0}, "label_smoothing is a share below 1"),
        ({"shift": -1}, "shift must not be negative"),
    ],
)
def test_bad_settings_are_refused_with_what_to_do(changes, message):
    with pytest.raises(ValueError, match=message):
        get_recipe("protocol", **changes)


def test_describe_names_every_technique():
    text = get_recipe("fast", flip=True, shift=2, flip_at_test=True).describe()
    for words in (
        "one-cycle",
        "label smoothing 0.1",
        "flips",
        "shifts of up to 2 px",
        "mirror",
        "stops after 3 min",
    ):
        assert words in text


def test_the_optimizer_is_made_from_the_settings():
    sgd = get_recipe("protocol", optimizer="sgd", momentum=0.9, learning_rate=0.05).make_optimizer()
    assert float(sgd.learning_rate) == pytest.approx(0.05) and sgd.momentum == pytest.approx(0.9)
    scaled = get_recipe("protocol", scale_learning_rate=True).make_optimizer(replicas=4)
    assert float(scaled.learning_rate) == pytest.approx(0.004)
    adamw = get_recipe("fast").make_optimizer()
    assert adamw.weight_decay == pytest.approx(5e-4)


def test_augmented_pipeline_flips_shifts_and_one_hot_encodes(fashion):
    images, labels = fashion.x_train[:64], fashion.y_train[:64]
    plain = get_recipe("fast", seed=1)
    batch, targets = next(iter(plain.dataset(images, labels)))
    assert batch.shape == (128, 28, 28, 1) and targets.shape == (128, 10)
    assert np.allclose(np.sum(targets, axis=1), 1)
    augment = get_recipe("fast", seed=1, flip=True, shift=2)
    augmented, _ = next(iter(augment.dataset(images, labels)))
    # Same pixels overall (flips and 2-pixel shifts of mostly dark borders) but moved.
    assert not np.allclose(np.sort(augmented.numpy(), axis=0), np.sort(batch.numpy(), axis=0))


def test_the_stop_rule_in_steps():
    # 55,000 images at batch 128: 430 steps an epoch, the last batch completed
    # from the next pass; whichever of epochs and steps comes first.
    assert get_recipe("protocol", epochs=2).max_steps(55_000, 128) == 860
    assert get_recipe("protocol", epochs=2, steps=100).max_steps(55_000, 128) == 100
    assert get_recipe("protocol", epochs=0.001).max_steps(55_000, 128) == 1
    assert get_recipe("benchmark").max_steps(55_000, 128) is None  # minutes alone
