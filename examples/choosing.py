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
# # Example: the measurements, compared
#
# The executed example of the chapter
# [Choosing an architecture](../../chapters/choosing/): every Fashion-MNIST
# variant of the book side by side, in parameters, multiply-accumulates (MACs)
# and measured speed, then in accuracy. The counts are computed here from the
# models themselves; the speeds, the full runs and the 3-minute benchmark are
# read from the package's store of runs, each with the command and machine
# that produced it. This page trains nothing.
#
# **Run it yourself.** Download this script (the button at the top of the
# page) and run `python choosing.py`; it takes about a minute, most of it
# building the twelve models. To measure the speeds on your own machine first:
# `cnn-guide bench --throughput --record` (add `--models resnet_fashion,...` for a
# subset).

# %%
import cnn_guide

cnn_guide.import_tensorflow()  # first, so that TensorFlow starts without its start-up log lines

import dataclasses

from cnn_guide import models
from cnn_guide.analysis import compare
from cnn_guide.budget import choose_budget
from cnn_guide.plotting import book_style, show
from cnn_guide.recipes import get_recipe
from cnn_guide.results import load_results

# The budget only matters to pages that train; this one is the same at all three.
print(choose_budget(site_epochs=1, full_epochs=1).describe())

# %% [markdown]
# ## What each network costs
#
# `compare` builds each variant and totals its per-layer table. All take the
# same 28x28x1 image and end in the same 10-way softmax, so the differences
# are the architectures' own. The rows are in book order.

# %%
# The seed network of chapter 2, then each architecture's Fashion-MNIST variant.
variants = ["simple_cnn", *models.list_models(variants=True)]
table = compare(variants)
print(table)

# %% [markdown]
# ## How fast each network trains and predicts
#
# Parameters and MACs are properties of the network; speed also depends on how
# well the hardware and TensorFlow's kernels suit its operations. These speeds
# were measured by `cnn-guide bench --throughput` (the recipe 'throughput',
# printed below: the book's batch 128, float32, a few timed steps) and stored
# in the store of runs with the machine they ran on.

# %%
throughput = get_recipe("throughput")
print(f"Recipe {throughput.describe()}\n")
records = load_results()
speeds = {  # the newest measurement of each model
    run.model: run
    for run in sorted(records.values(), key=lambda run: run.date)
    if run.spec.recipe == throughput.name
    and not run.spec.quick
    and run.settings["batch_size"] == throughput.batch_size
}
rows = [row for row in table.rows if row.name in speeds]
print(f"{'model':<22} {'params':>10} {'MACs':>8} {'train img/s':>12} {'infer img/s':>12}")
for row in rows:
    speed = speeds[row.name]
    print(
        f"{row.name:<22} {row.params:>10,} {row.macs / 1e6:>7.1f}M "
        f"{speed.train_images_per_second:>12,.0f} {speed.inference_images_per_second:>12,.0f}"
    )
if speeds:  # none in a fresh store
    machines = {run.hardware for run in speeds.values()}
    commands = {dataclasses.replace(run.spec, model="MODEL").command for run in speeds.values()}
    print(f"\nMeasured on: {'; '.join(sorted(machines))}.")
    print(f"Measured by: `{'`, `'.join(sorted(commands))}`, one run per model.")
missing = sorted(set(variants) - set(speeds))
if missing:
    print(f"No speed recorded yet for: {', '.join(missing)}.")

# %% [markdown]
# ## Does compute predict speed?
#
# If every multiply-accumulate cost the same, training speed would be
# inversely proportional to MACs and the points on the right would lie on
# one line (dashed, drawn through the simple CNN). A point below the line
# trains slower than its MACs suggest. Layers that do little arithmetic per
# byte they move (depthwise and grouped convolutions, concatenations, batch
# normalization, many small layers) are the usual reason on a CPU; a tiny
# network can fall below it too, because the fixed cost of each training
# step outweighs its arithmetic.

# %%
import matplotlib.pyplot as plt
import numpy as np


def label_points(ax, rows, xs, ys):
    """Name each point, alternating the label's side so that neighbours stay legible."""
    for index, (row, x, y) in enumerate(zip(rows, xs, ys, strict=True)):
        offset = (4, 3) if index % 2 == 0 else (-4, -10)
        ax.annotate(
            row.name.removesuffix("_fashion"),
            (x, y),
            fontsize=8,
            xytext=offset,
            textcoords="offset points",
            ha="left" if index % 2 == 0 else "right",
        )


with book_style():
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    params = np.array([row.params for row in table.rows])
    macs = np.array([row.macs for row in table.rows]) / 1e6
    left.scatter(params, macs)
    label_points(left, table.rows, params, macs)
    left.set_xscale("log")
    left.set_yscale("log")
    left.set_xlabel("parameters")
    left.set_ylabel("MACs per image (millions)")
    left.set_title("Size against compute")

    if rows:
        macs = np.array([row.macs for row in rows]) / 1e6
        train_speed = np.array([speeds[row.name].train_images_per_second for row in rows])
        right.scatter(macs, train_speed)
        label_points(right, rows, macs, train_speed)
        # Equal cost per MAC: speed x MACs constant, through the simple CNN's point.
        anchor = next((i for i, row in enumerate(rows) if row.name == "simple_cnn"), 0)
        line = np.geomspace(macs.min() / 1.5, macs.max() * 1.5, 50)
        right.plot(
            line,
            train_speed[anchor] * macs[anchor] / line,
            "--",
            alpha=0.6,
            label="same cost per MAC as simple_cnn",
        )
        right.set_xscale("log")
        right.set_yscale("log")
        right.set_xlabel("MACs per image (millions)")
        right.set_ylabel("training images / s")
        right.set_title("Compute against measured speed")
        right.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
show(fig, "cost_and_speed")

# %% [markdown]
# The same comparison as numbers: how many times more time per MAC each
# network takes to train than the simple CNN, the reference line (plain 3x3
# convolutions, the kind of layer CPU kernels are most tuned for).

# %%
if rows:
    reference = next(row for row in rows if row.name == "simple_cnn")  # recorded above
    reference_cost = 1 / (speeds["simple_cnn"].train_images_per_second * reference.macs)
    for row in sorted(rows, key=lambda r: r.macs * speeds[r.name].train_images_per_second):
        cost = 1 / (speeds[row.name].train_images_per_second * row.macs)
        print(f"{row.name:<22} {cost / reference_cost:5.1f}x the simple CNN's time per MAC")

# %% [markdown]
# ## Accuracy, trained in full
#
# Accuracy needs full training runs: each example's run under the book
# recipe (the simple CNN keeps its seed notebook's recipe), for the epochs
# the example states, on all 55,000 training images. `plan("full")` reads
# them from the examples themselves; `find` returns a run's recorded result,
# or `None` where none is recorded yet (or only under an older definition of
# its recipe). Best test accuracy first; each run is one seed. The chapter's
# table gives each accuracy with its 95% interval over the test images.

# %%
from cnn_guide.evidence import plan
from cnn_guide.results import benchmark_rows, find

full_specs = plan("full")  # the book's catalogue of full runs
recorded = {spec: find(spec) for spec in full_specs}
for run in sorted((run for run in recorded.values() if run), key=lambda run: -run.test_accuracy):
    print(
        f"{run.model:<22} test accuracy {run.test_accuracy:.4f} after {run.epochs:g} epochs, "
        f"{run.seconds_per_epoch:,.0f} s/epoch on {run.describe_machine()}  (`{run.command}`)"
    )
for spec, run in recorded.items():
    if run is None:
        print(f"{spec.model:<22} not recorded yet: `{spec.command}` records it")

# %% [markdown]
# ## Accuracy in 3 minutes: the benchmark
#
# A different question. The book's benchmark gives every network the same 3
# minutes of training under the book recipe (the `benchmark` recipe), so a
# network that is slow per image gets fewer epochs. These rows are not full
# runs: they say what each network reaches in a fixed time, on the machine
# that measured them.

# %%
benchmark = sorted(benchmark_rows("benchmark"), key=lambda run: -run.test_accuracy)
for run in benchmark:
    print(
        f"{run.model:<22} test accuracy {run.test_accuracy:.4f} after {run.epochs:.1f} epochs "
        f"in {run.settings['minutes']:g} min on {run.describe_machine()}"
    )
if not benchmark:
    print("No benchmark recorded yet: `cnn-guide bench --record` measures every variant.")

# %% [markdown]
# Read the lists together with the speeds above. A network near the top of
# the full runs that is also fast per image is a candidate; one that ranks
# differently in the two lists is one whose accuracy depends on how long it
# trains. Each row is one seed, and a gap between two rows may be smaller
# than the difference two seeds make: the chapters' recorded experiments,
# with several seeds per network, show how large that difference is, and
# say which of their differences the seeds can tell.
