"""Training on several devices or machines with TensorFlow's ``tf.distribute``.

Nothing here re-implements distribution: every strategy is TensorFlow's own.
This package only chooses one by name, checks its configuration up front (so a
typo in ``TF_CONFIG`` fails at once with a clear message instead of hanging
for minutes on a network timeout), and holds the small rules that
`cnn_guide.training.fit` applies on top:

* `make_strategy`: ``"default"`` (one device), ``"mirrored"`` (all local GPUs,
  or the devices given), ``"multiworker"`` (several machines, configured by
  ``TF_CONFIG``) and ``"tpu"``;
* `choose_precision`: ``"auto"`` picks ``mixed_float16`` on NVIDIA GPUs,
  ``mixed_bfloat16`` on TPUs, and on CPUs with native bfloat16 instructions
  whichever of bfloat16 and float32 trains the network faster there
  (`measure_training_speeds`), else ``float32``;
* `per_replica_batch_size` and `linear_scaling`: how the global batch is split
  and how the learning rate follows it;
* `sharding_options`: how the input pipeline is split across workers.

```python
from cnn_guide.data import load_fashion_mnist
from cnn_guide.distribute import make_strategy
from cnn_guide.recipes import get_recipe
from cnn_guide.training import fit

strategy = make_strategy("mirrored")  # all local GPUs
recipe = get_recipe("book", batch_size=128)  # per replica
result = fit("simple_cnn", load_fashion_mnist(), recipe, strategy=strategy)
```

Chapter: ``docs/chapters/distributed.md``.
"""

# Everything public is documented here, under cnn_guide.distribute; the private
# modules split the work: _strategy (make_strategy), _tf_config (the cluster
# description), _precision (choose_precision) and _replicas (the rules that
# apply once several replicas train together).
from cnn_guide.distribute._precision import (
    BFLOAT16_MIN_GAIN,
    choose_precision,
    cpu_supports_bfloat16,
    measure_training_speeds,
    precision_policy,
)
from cnn_guide.distribute._replicas import (
    apply_keras_workarounds,
    is_chief,
    linear_scaling,
    per_replica_batch_size,
    sharding_options,
    task_backup_dir,
)
from cnn_guide.distribute._strategy import STRATEGIES, make_strategy
from cnn_guide.distribute._tf_config import TF_CONFIG_EXAMPLE, read_tf_config

# In reading order, which the API page follows.
__all__ = [  # noqa: RUF022
    "make_strategy",
    "STRATEGIES",
    "read_tf_config",
    "TF_CONFIG_EXAMPLE",
    "choose_precision",
    "BFLOAT16_MIN_GAIN",
    "measure_training_speeds",
    "precision_policy",
    "cpu_supports_bfloat16",
    "per_replica_batch_size",
    "linear_scaling",
    "sharding_options",
    "is_chief",
    "task_backup_dir",
    "apply_keras_workarounds",
]
