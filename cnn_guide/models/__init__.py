"""Model builders, one module per architecture family, and the registry.

Build any model of the book by name:

```python
from cnn_guide import models

models.list_models()             # every registered name, in book order
model = models.build("simple_cnn")
models.get_info("simple_cnn")    # paper, year, reference parameter count, ...
```

Each builder is also importable directly (``models.simple_cnn(...)``) and takes
the same keyword arguments: ``input_shape``, ``num_classes``, ``include_top``,
``pooling``, ``classifier_activation`` and ``name``.
"""

from cnn_guide.models._registry import ModelInfo, build, get_info, list_models, register
from cnn_guide.models.simple_cnn import simple_cnn

__all__ = [
    "ModelInfo",
    "build",
    "get_info",
    "list_models",
    "register",
    "simple_cnn",
]
