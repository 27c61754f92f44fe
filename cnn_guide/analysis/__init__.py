"""Per-layer tables of shapes, parameters, multiply-accumulates and receptive fields.

Every number the chapters print about a model's size comes from this package:

* `layer_table`: one row per top-level layer of a functional model (output
  shape, parameters, multiply-accumulates per image, receptive field and jump);
* `compare`: one row per model (parameters, multiply-accumulates, depth,
  receptive field), for models or registry names;
* `conv_params`, `conv_macs`, `output_size` and `stack_receptive_field`: the
  formulas behind those numbers, for the worked examples.

Multiply-accumulates are counted from the TensorFlow graph of one forward pass
on a batch of one image, so they are right for any block, however it is built.
Receptive fields are computed analytically over the model's layer graph,
following Araujo, Norris and Sim (2019), "Computing Receptive Fields of
Convolutional Neural Networks", Distill, https://distill.pub/2019/computing-receptive-fields/.
The output-size formula is the one of Dumoulin and Visin (2016), "A guide to
convolution arithmetic for deep learning", https://arxiv.org/abs/1603.07285.

``LayerTable.to_dataframe()`` needs pandas: ``pip install "cnn-guide[analysis]"``.

Chapter: ``docs/chapters/simple-cnn.md`` (and every chapter's size tables).
"""

# Everything public is documented here, under cnn_guide.analysis; the private
# modules split the work: _formulas, _tables (the returned tables), _graph (the
# traced forward pass), _graph_ops (MACs from its ops), _receptive_field, and
# _measure (layer_table and compare, which put them together).
from cnn_guide.analysis._formulas import (
    conv_macs,
    conv_params,
    output_size,
    stack_receptive_field,
)
from cnn_guide.analysis._measure import compare, layer_table
from cnn_guide.analysis._tables import ComparisonRow, ComparisonTable, LayerRow, LayerTable

# In reading order, which the API page follows: the two entry points, the
# tables they return, then the formulas.
__all__ = [  # noqa: RUF022
    "layer_table",
    "compare",
    "LayerTable",
    "LayerRow",
    "ComparisonTable",
    "ComparisonRow",
    "conv_params",
    "conv_macs",
    "output_size",
    "stack_receptive_field",
]
