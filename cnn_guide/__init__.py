"""cnn-guide: an executable textbook on convolutional neural network architectures.

The package behind the book's examples:

* `cnn_guide.data`: the real Fashion-MNIST, verified, and ``tf.data`` pipelines;
* `cnn_guide.models`: every architecture of the book, by name;
* `cnn_guide.layers`: the blocks they are built from;
* `cnn_guide.recipes`: how a network is trained, by name;
* `cnn_guide.training`: the one way to train (`fit`) and to evaluate;
* `cnn_guide.runs`: a run's spec, key, command and record; `cnn_guide.results`: the
  store of recorded runs, one file each;
* `cnn_guide.evidence` and `cnn_guide.experiments`: the catalogue of what the book
  records; `cnn_guide.report`: what its pages show from the store;
* `cnn_guide.statistics`: how the book judges a difference between runs;
* `cnn_guide.plotting`: the book's figures;
* `cnn_guide.budget`: how much work an example does;
* `cnn_guide.cli`: the ``cnn-guide`` command.

Submodules are imported on demand: ``import cnn_guide`` alone does not load
TensorFlow. An example starts with `import_tensorflow`, which loads it
without its start-up log lines, before ``import keras`` would load it with
them.
"""

from cnn_guide._quiet import import_tensorflow

__all__ = ["import_tensorflow"]
__version__ = "0.1.0"
