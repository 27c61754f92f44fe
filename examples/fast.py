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
# # Example: the fast recipe, trained against the clock
#
# The executed example of the chapter
# [Training fast on a CPU](../../chapters/fast/): the `fast` recipe (a small
# residual network, batch normalization, a one-cycle learning rate spread
# over a time budget, label smoothing, AdamW) trained for a fixed number of
# minutes, then the recorded comparison with the seed notebook's recipe on
# the same machine, and the recorded ablation of each technique.
#
# **Run it yourself.** Download this script and run `python fast.py`: it
# trains for 3 minutes (plus about half a minute of evaluations), the budget
# of the book's benchmark. The site shows a 1-minute run
# (`CNN_GUIDE_BUDGET=site`). The first cell prints the recipe and the same run
# as a command line.

# %%
import cnn_guide

cnn_guide.import_tensorflow()  # first, so that TensorFlow starts without its start-up log lines

from cnn_guide import models
from cnn_guide.analysis import layer_table
from cnn_guide.budget import choose_budget
from cnn_guide.data import load_fashion_mnist
from cnn_guide.plotting import book_style, show
from cnn_guide.recipes import get_recipe
from cnn_guide.runs import RunSpec
from cnn_guide.training import fit

budget = choose_budget(site_epochs=1, full_epochs=1)  # the data; the clock ends training
# The full budget is the recipe's own 3 minutes (the benchmark's); shorter at build time.
minutes = {"quick": 0.05, "site": 1.0, "full": get_recipe("fast").minutes}[budget.name]
# Six test checkpoints, evenly spaced (every 30 s in the full run, as in the benchmark).
spec = RunSpec.of(
    "fast_resnet_fashion",
    "fast",
    minutes=minutes,
    eval_every=minutes * 10,
    quick=budget.name == "quick",
)
recipe = spec.resolve()
print(budget.describe())
print(f"Training time: {minutes:g} minute(s), whatever the number of epochs that allows.")
print(f"Recipe {recipe.describe()}")
print(f"The same run from the command line: `{spec.command.removesuffix(' --record')}`.")
data = budget.apply(load_fashion_mnist())

# %% [markdown]
# ## The network
#
# `fast_resnet_fashion` is built for speed on a CPU: one convolution at
# full 28x28 resolution, then each stage pools *before* its residual pair,
# so most of the arithmetic happens on 7x7 and 3x3 maps.

# %%
print(layer_table(models.build(spec.model)))

# %% [markdown]
# ## The schedule follows the clock
#
# The learning rate is a function of the fraction of the time budget used:
# it rises for the first quarter, then falls along a half cosine to zero
# exactly when the time is up, whatever the machine's speed. The idea of
# annealing to zero: the last, smallest steps settle the weights into the
# bottom of the valley they are in. The recorded ablation below compares it
# with a constant rate.

# %%
import matplotlib.pyplot as plt
import numpy as np

progress = np.linspace(0, 1, 200)
with book_style():
    fig, ax = plt.subplots(figsize=(6.5, 2.8))
    ax.plot(progress * minutes, [recipe.learning_rate_schedule(p) for p in progress])
    ax.set_xlabel("minutes of training")
    ax.set_ylabel("learning rate")
    ax.set_title(f"One cycle over a {minutes:g}-minute budget")
    fig.tight_layout()
show(fig, "fast_schedule")

# %% [markdown]
# ## Training against the clock
#
# `fit` stops when the training time (test evaluations excluded) reaches the
# recipe's `minutes`, and evaluates the test images every `eval_every`
# seconds of training: six evenly spaced checkpoints on the way.

# %%
run = fit(spec.model, data, recipe, verbose=0)
print(
    f"After {run.train_seconds:.0f} s of training ({run.epochs:.1f} epochs at "
    f"{run.train_images_per_second:,.0f} images/s): validation accuracy "
    f"{run.valid_accuracy:.4f}, test accuracy {run.test_accuracy:.4f} on "
    f"{run.test_size:,} test images."
)
for target, seconds in run.reached.items():
    print(f"  {target}: " + ("not reached" if seconds is None else f"after {seconds:.0f} s"))

# %% [markdown]
# ## The recorded comparison: fast against seed, in fractions of T
#
# Machines differ several-fold in speed, so the chapter's goals are set
# against the seed notebook's recipe (the simple CNN of chapter 2, Nadam,
# batch 32) on the same machine. T is the time that recipe needs for its 10
# epochs there, from its steady speed over 400 timed steps; the fast recipe
# then trains for T/20, T/10, T/3 and T, each run with its schedule spread
# over its own budget. `cnn-guide bench --recipe fast --against seed` does
# all of it (about one and a half T); the book's recorded comparisons, read
# from the store of runs, with each machine named:

# %%
from cnn_guide.report.comparison import render_comparisons, render_goals

print(render_goals())
print(render_comparisons())

# %% [markdown]
# ## What each technique bought
#
# The ablation: the fast recipe for 1.5 minutes with one technique removed
# or added at a time, three seeds each, on one quiet machine. Each change is
# judged on the *validation* images; the test accuracy is shown beside it,
# never used to choose. Each difference comes with its 95% interval over the
# seeds: a finding only where the interval excludes zero; otherwise the book
# cannot tell at this number of seeds.

# %%
from cnn_guide.experiments import get_experiment
from cnn_guide.report.experiments import plot_experiment, summary

ablation = get_experiment("fast-ablation")
print(summary(ablation))
if any(ablation.recorded().values()):
    show(plot_experiment(ablation), "fast_ablation")

# %% [markdown]
# ## Your run against the book's
#
# At its full budget (`python fast.py`) this example is the fast recipe for
# 3 minutes, a run the book recorded with the same command; the cell below
# sets the two side by side. Machines differ in speed, so compare the epochs
# each got as well as the accuracy. To check the goals on your own machine,
# measure your T: `cnn-guide bench --recipe fast --against seed` prints the
# tables above for it (with `--record`, into your copy of the store of runs).

# %%
from cnn_guide.results import find

book = find(RunSpec.of(spec.model, "fast"))
print(
    f"This run ({budget.name} budget): {run.train_seconds:.0f} s of training, {run.epochs:.1f} "
    f"epochs, test accuracy {run.test_accuracy:.4f}, precision {run.precision}."
)
if book is None:
    print(
        "The book has no recorded 3-minute run: `cnn-guide train fast_resnet_fashion "
        "--recipe fast --record` records one."
    )
else:
    print(
        f"The book's run: {book.train_seconds:.0f} s of training, {book.epochs:.1f} epochs, "
        f"test accuracy {book.test_accuracy:.4f}, precision {book.precision}, on "
        f"{book.describe_machine()} (`{book.command}`)."
    )
    if budget.name != "full":
        print(f"This page's run had {minutes:g} minute(s), not the book run's 3: not comparable.")
