# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Example: the benchmark, tabulated and plotted
#
# The executed example of the chapter
# [Measured results](../../chapters/results/): every Fashion-MNIST variant
# of the book trained for the same 3 minutes on the same machine, read from
# the package's store of runs and drawn here. Every figure and table names the
# machine and the command that measured it. This page trains nothing.
#
# The benchmark trains under the book recipe of the chapters' full runs (the
# recipe printed below), for 3 minutes of training instead of 10 epochs. It
# asks how far each network gets in a fixed time; how accurate each gets when
# trained to the end is the chapter's table of full runs.
#
# **Run it yourself.** `cnn-guide bench --record` re-measures every variant
# on your machine (3 minutes of training plus the evaluations per model;
# `--models resnet_fashion,vgg_fashion`
# measures a subset and replaces only those rows). Then run this script,
# `python benchmark.py`, to redraw the figures from your results.

# %%
import cnn_guide

cnn_guide.import_tensorflow()  # first, so that TensorFlow starts without its start-up log lines

from cnn_guide import models
from cnn_guide.budget import choose_budget
from cnn_guide.plotting import plot_accuracy_over_time, plot_benchmark, show
from cnn_guide.recipes import get_recipe
from cnn_guide.report.runs import CHANCE_LINE
from cnn_guide.report.tables import format_table
from cnn_guide.results import benchmark_rows

# The budget only matters to pages that train; this one is the same at all three.
print(choose_budget(site_epochs=1, full_epochs=1).describe())

recipe = get_recipe("benchmark")  # what `cnn-guide bench` trains every model under
print(f"Recipe {recipe.describe()}")
rows = benchmark_rows(recipe.name)  # the recorded runs at the recipe's own 3 minutes


if rows:
    machine = "; ".join(sorted({row.describe_machine() for row in rows}))
    dates = sorted(row.date[:10] for row in rows)
    source = f"{machine}; `cnn-guide bench --record`, {dates[0]} to {dates[-1]}"
    print(f"{len(rows)} models measured on {source}.")
else:
    source = "no benchmark recorded"
    print("No benchmark recorded yet: `cnn-guide bench --record` measures every variant.")

# %% [markdown]
# ## The table
#
# One row per architecture, in book order. *to 90%* is the training time
# until a checkpoint (every 30 s of training) first measured 90% test
# accuracy; the crossing happened at most 30 s earlier. "-" means not reached
# within the 3 minutes. *epochs* is how many passes over the 55,000 training
# images fit in the budget: the fixed time is shared out by speed.

# %%
if rows:
    print(format_table(rows))
    for row in rows:
        print(f"{row.model}: {row.command}")

# %% [markdown]
# ## Accuracy over time
#
# The checkpoints of every run (below 70% they sit on the bottom edge). A
# fast network climbs early and may stop improving; a slow one starts late
# but can overtake it. Where two lines cross is where the better choice
# changes with your patience.

# %%
if rows:
    show(
        plot_accuracy_over_time(
            rows,
            floor=0.7,
            title=f"Same {recipe.minutes:g} minutes for every network\n{source}",
        ),
        "benchmark_accuracy_over_time",
    )

# %% [markdown]
# ## Accuracy against parameters, arithmetic and speed
#
# The same final accuracies against three costs. Parameters are memory;
# multiply-accumulates (MACs) per image are arithmetic; seconds per epoch are
# what the machine made of that arithmetic. The x axes are logarithmic.

# %%
if rows:
    for cost in ("parameters", "macs", "seconds_per_epoch"):
        show(
            plot_benchmark(rows, x=cost, floor=0.75, title=source),
            f"benchmark_accuracy_vs_{cost}",
        )

# %% [markdown]
# ## Batch-norm statistics, and rows at chance
#
# A network that is slow per image gets few optimizer steps in 3 minutes.
# If it uses batch normalization with Keras' default momentum of 0.99, the
# moving averages it normalizes with at test time forget their starting
# values (mean 0, variance 1) at a rate of 1% a step; after a few hundred
# steps they still partly describe a network that no longer exists, and the
# predictions can be no better than chance (10%) although training went
# well. The benchmark therefore recomputes the statistics before every
# checkpoint, as the full runs do (the recipe setting `settle_batch_norm`,
# [`PreciseBatchNorm`](../../reference/cnn_guide/training/#cnn_guide.training.PreciseBatchNorm)).
# The cell below prints, for each network, its optimizer steps in the 3
# minutes and the weight the untrained network's statistics would still
# have without that step ($0.99^{steps}$), then how many rows still ended
# below the line the book draws at chance.

# %%
for row in sorted(rows, key=lambda row: row.images):
    steps = row.images / row.global_batch_size
    print(
        f"{row.model:22} {steps:6,.0f} steps, initial statistics would still weigh "
        f"{0.99**steps:6.1%}; test accuracy {row.test_accuracy:.4f}"
    )
at_chance = [row.model for row in rows if row.test_accuracy < CHANCE_LINE]
print(
    f"\n{len(at_chance)} of {len(rows)} rows below {CHANCE_LINE:.0%} test accuracy"
    + (f": {', '.join(at_chance)}" if at_chance else "")
)

# %% [markdown]
# ## The papers' figures next to ours
#
# What each architecture's paper configuration achieved on ImageNet (the
# papers' numbers, cited in each chapter), its parameter count (checked by
# the test suite), and what its Fashion-MNIST variant reached here in 3
# minutes. The two columns answer different questions: ImageNet rewards
# capacity trained for days on a million large colour images; a 3-minute
# budget on 28x28 grey images rewards a network that is cheap per image and
# quick to optimize.

# %%
# The network each paper published, where the book's variant adapts a sibling of it:
# AlexNet's paper trained the grouped two-GPU network, not the one-tower one.
PUBLISHED = {"alexnet": "alexnet_grouped"}
IMAGENET = {  # as reported by each paper (see the chapters for the sources)
    "alexnet_grouped": "15.3% top-5 test error, ensemble (ILSVRC-2012)",
    "vgg11": "VGG ensemble: 7.3% top-5 test error (ILSVRC-2014)",
    "googlenet": "6.67% top-5 test error, ensemble (ILSVRC-2014)",
    "resnet18": "ResNet ensemble: 3.57% top-5 test error (ILSVRC-2015)",
    "xception": "5.5% top-5 validation error, single model",
    "se_resnet50": "SENet ensemble: 2.251% top-5 test error (ILSVRC-2017)",
    "densenet121": "25.02% top-1 validation error, single crop",
    "mobilenet_v2": "72.0% top-1 at 300M multiply-adds",
    "resnext50_32x4d": "22.2% top-1 validation error",
}
if rows:
    print(f"{'variant':<22} {'paper network':<16} {'paper params':>13} {'3-min acc':>10}  ImageNet")
for row in rows:
    info = models.get_info(row.model)
    if info.family == "fast":  # the book's own network: no paper configuration to compare
        continue
    paper = models.get_info(PUBLISHED.get(info.variant_of, info.variant_of or info.name))
    params = f"{paper.reference_params:,}" if paper.reference_params else "-"
    result = IMAGENET.get(paper.name, "-")
    print(f"{row.model:<22} {paper.name:<16} {params:>13} {row.test_accuracy:>10.4f}  {result}")
