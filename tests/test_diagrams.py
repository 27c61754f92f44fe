"""cnn_guide.diagrams: block diagrams drawn from the model's own graph."""

from __future__ import annotations

import keras
import matplotlib.pyplot as plt
import pytest
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from cnn_guide import models
from cnn_guide.diagrams import draw_model


def _residual_unit() -> keras.Model:
    inputs = keras.Input((8, 8, 4), name="input")
    x = keras.layers.Conv2D(4, 3, padding="same", name="conv_a")(inputs)
    x = keras.layers.Conv2D(4, 3, padding="same", name="conv_b")(x)
    return keras.Model(inputs, keras.layers.Add(name="add")([inputs, x]))


def _drawn(fig: plt.Figure) -> tuple[list[str], list[FancyArrowPatch]]:
    ax = fig.axes[0]
    texts = [text.get_text() for text in ax.texts]
    arrows = [patch for patch in ax.patches if isinstance(patch, FancyArrowPatch)]
    return texts, arrows


def test_one_box_per_layer_and_one_arrow_per_connection():
    fig = draw_model(_residual_unit(), title="A residual unit")
    texts, arrows = _drawn(fig)
    boxes = [patch for patch in fig.axes[0].patches if isinstance(patch, FancyBboxPatch)]
    assert len(boxes) == 4 and {"input", "conv_a", "conv_b", "add"} <= set(texts)
    assert "8×8×4" in texts and fig.axes[0].get_title() == "A residual unit"
    assert len(arrows) == 4  # input->conv_a->conv_b->add, and the skip input->add
    bent = [arrow for arrow in arrows if arrow.get_connectionstyle().rad != 0]
    assert len(bent) == 1, "the skip connection, alone, is an arc beside the main path"
    plt.close("all")


def test_branches_sit_side_by_side_in_the_order_the_merge_reads_them():
    inputs = keras.Input((8, 8, 4), name="input")
    branches = [keras.layers.Conv2D(2, 1, name=f"branch_{i}")(inputs) for i in range(3)]
    model = keras.Model(inputs, keras.layers.Concatenate(name="concat")(branches))
    ax = draw_model(model).axes[0]
    x = {text.get_text(): text.get_position()[0] for text in ax.texts}
    y = {text.get_text(): text.get_position()[1] for text in ax.texts}
    assert x["branch_0"] < x["branch_1"] < x["branch_2"]
    assert y["branch_0"] == y["branch_1"] == y["branch_2"] < y["input"]
    assert y["concat"] < y["branch_0"]
    plt.close("all")


def test_a_whole_network_of_the_book_can_be_drawn():
    texts, arrows = _drawn(draw_model(models.build("lenet5_fashion"), shapes=False))
    assert "c1" in texts and "predictions" in texts and len(arrows) >= len(texts) - 1
    plt.close("all")


def test_a_model_without_a_graph_is_refused_with_what_to_do():
    class Subclassed(keras.Model):
        def call(self, x):
            return x

    with pytest.raises(ValueError, match="build the block with the functional API"):
        draw_model(Subclassed())
