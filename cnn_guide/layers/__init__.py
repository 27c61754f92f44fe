"""Reusable, serializable blocks the architectures are built from.

Every block is a ``keras.layers.Layer`` registered with
``keras.saving.register_keras_serializable(package="cnn_guide")``, so a model
that uses it saves to ``.keras`` and loads back with the default
``safe_mode=True``. Each block builds its sublayers in ``build()`` and returns
every constructor argument from ``get_config()``.
"""

from cnn_guide.layers.airbench import *  # noqa: F403
from cnn_guide.layers.convnext import *  # noqa: F403
from cnn_guide.layers.dense_block import *  # noqa: F403
from cnn_guide.layers.grouped import *  # noqa: F403
from cnn_guide.layers.inception import *  # noqa: F403
from cnn_guide.layers.lenet import *  # noqa: F403
from cnn_guide.layers.mbconv import *  # noqa: F403
from cnn_guide.layers.mobile import *  # noqa: F403
from cnn_guide.layers.normalization import *  # noqa: F403
from cnn_guide.layers.regnet import *  # noqa: F403
from cnn_guide.layers.residual import *  # noqa: F403
from cnn_guide.layers.separable import *  # noqa: F403
from cnn_guide.layers.squeeze_excitation import *  # noqa: F403
from cnn_guide.layers.whitening import *  # noqa: F403
