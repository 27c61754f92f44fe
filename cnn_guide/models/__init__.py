"""Model builders, one module per architecture family, and the registry.

Build any model of the book by name:

```python
from cnn_guide import models

models.list_models()             # every registered name, in book order
model = models.build("resnet18")
models.get_info("resnet18")      # paper, year, reference parameter count, ...
```

Each builder is also importable directly (``models.resnet18(...)``) and takes
the same keyword arguments: ``input_shape``, ``num_classes`` and ``name``, with
the paper's values as defaults, and the `HeadOptions` ``include_top``,
``pooling`` and ``classifier_activation``. Every family also registers a
variant for 28x28x1 Fashion-MNIST images (``list_models(variants=True)``); its
docstring says what it changes.
``list_models(fashion=True)`` lists every model that takes Fashion-MNIST
images: the variants and ``simple_cnn``.
"""

# Importing a family module registers its builders (listed in book order, see
# _registry.BOOK_ORDER, whatever the import order).
from cnn_guide.models._common import HeadOptions
from cnn_guide.models._registry import (
    ModelInfo,
    build,
    check_fashion_mnist,
    get_info,
    list_models,
    register,
)
from cnn_guide.models.alexnet import *  # noqa: F403
from cnn_guide.models.convnext import *  # noqa: F403
from cnn_guide.models.densenet import *  # noqa: F403
from cnn_guide.models.efficientnet import *  # noqa: F403
from cnn_guide.models.fast import *  # noqa: F403
from cnn_guide.models.googlenet import *  # noqa: F403
from cnn_guide.models.lenet import *  # noqa: F403
from cnn_guide.models.mobilenet import *  # noqa: F403
from cnn_guide.models.nin import *  # noqa: F403
from cnn_guide.models.regnet import *  # noqa: F403
from cnn_guide.models.resnet import *  # noqa: F403
from cnn_guide.models.resnext import *  # noqa: F403
from cnn_guide.models.senet import *  # noqa: F403
from cnn_guide.models.simple_cnn import *  # noqa: F403
from cnn_guide.models.vgg import *  # noqa: F403
from cnn_guide.models.xception import *  # noqa: F403

__all__ = [
    "HeadOptions",
    "ModelInfo",
    "build",
    "check_fashion_mnist",
    "get_info",
    "list_models",
    "register",
]
