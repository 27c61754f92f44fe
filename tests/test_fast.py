"""The fast recipe's network, fast_resnet_fashion: what its docstring and chapter say of it."""

from __future__ import annotations

import numpy as np
import pytest

from cnn_guide import models
from cnn_guide.analysis import layer_table


def test_fast_resnet_matches_its_docstring():
    model = models.build("fast_resnet_fashion")
    trainable = sum(int(np.prod(weight.shape)) for weight in model.trainable_weights)
    assert model.count_params() == 117_210 and trainable == 116_602
    assert "117,210 parameters (116,602 trainable)" in models.get_info(
        "fast_resnet_fashion"
    ).builder.__doc__.replace("\n    ", " ")
    assert 3_400_000 < layer_table(model).macs < 3_600_000
    with pytest.raises(ValueError, match="width must be a positive integer"):
        models.build("fast_resnet_fashion", width=0)
