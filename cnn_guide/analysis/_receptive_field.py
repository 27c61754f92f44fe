"""Receptive fields and jumps, propagated over a model's layer graph.

Each layer with kernel $k$ and stride $s$ maps the field $r$ and jump $j$ of
its input to $r + (k - 1) j$ and $j s$; merges take the largest field of their
inputs (Araujo, Norris and Sim 2019, "Computing Receptive Fields of
Convolutional Neural Networks", Distill,
https://distill.pub/2019/computing-receptive-fields/).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cnn_guide import _compat
from cnn_guide.analysis._graph import _Call, _functional_of, _ordered_nodes
from cnn_guide.analysis._graph_ops import _spatial_ops


@dataclass(frozen=True)
class _Field:
    """Receptive field and jump per spatial axis of one tensor.

    For a ``"global"`` tensor, ``r`` and ``j`` carry those of the last feature
    map before the global step (what the table reports as the final field).
    """

    kind: str
    r: tuple[int, ...] | None
    j: tuple[int, ...] | None


def _layer_classes() -> dict[str, tuple[type, ...]]:
    from keras import layers as L  # lazy: keeps TensorFlow out of import time

    return {
        "conv": (
            L.Conv1D,
            L.Conv2D,
            L.Conv3D,
            L.DepthwiseConv1D,
            L.DepthwiseConv2D,
            L.SeparableConv1D,
            L.SeparableConv2D,
        ),
        "transposed": (
            L.Conv1DTranspose,
            L.Conv2DTranspose,
            L.Conv3DTranspose,
            L.UpSampling1D,
            L.UpSampling2D,
            L.UpSampling3D,
        ),
        "pool": (
            L.MaxPooling1D,
            L.MaxPooling2D,
            L.MaxPooling3D,
            L.AveragePooling1D,
            L.AveragePooling2D,
            L.AveragePooling3D,
        ),
        "global": (
            L.GlobalAveragePooling1D,
            L.GlobalAveragePooling2D,
            L.GlobalAveragePooling3D,
            L.GlobalMaxPooling1D,
            L.GlobalMaxPooling2D,
            L.GlobalMaxPooling3D,
            L.Flatten,
            L.MultiHeadAttention,
        ),
        # Layers that move or crop pixels without mixing them: field and jump unchanged.
        "pointwise": (
            L.InputLayer,
            L.Activation,
            L.ReLU,
            L.LeakyReLU,
            L.PReLU,
            L.ELU,
            L.Softmax,
            L.BatchNormalization,
            L.LayerNormalization,
            L.GroupNormalization,
            L.UnitNormalization,
            L.Dropout,
            L.SpatialDropout1D,
            L.SpatialDropout2D,
            L.SpatialDropout3D,
            L.GaussianDropout,
            L.GaussianNoise,
            L.AlphaDropout,
            L.Rescaling,
            L.Normalization,
            L.Identity,
            L.Dense,
            L.ActivityRegularization,
            L.Add,
            L.Subtract,
            L.Multiply,
            L.Average,
            L.Maximum,
            L.Minimum,
            L.Concatenate,
            L.ZeroPadding1D,
            L.ZeroPadding2D,
            L.ZeroPadding3D,
            L.Cropping1D,
            L.Cropping2D,
            L.Cropping3D,
        ),
    }


def _per_axis(value: Any, n: int, what: str, layer_name: str) -> tuple[int, ...]:
    values = (int(value),) * n if isinstance(value, int) else tuple(int(v) for v in value)
    if len(values) == 1 and n > 1:
        values = values * n
    if len(values) != n:
        raise ValueError(
            f"layer {layer_name!r}: {what} {value!r} does not match the {n} spatial axes "
            "of its input."
        )
    return values


def _apply(
    r: tuple[int, ...],
    j: tuple[int, ...],
    kernel: tuple[int, ...],
    stride: tuple[int, ...],
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    r = tuple(ri + (k - 1) * ji for ri, k, ji in zip(r, kernel, j, strict=True))
    j = tuple(ji * s for ji, s in zip(j, stride, strict=True))
    return r, j


def _spatial(shape: tuple, data_format: str) -> tuple:
    return tuple(shape[2:]) if data_format == "channels_first" else tuple(shape[1:-1])


def _sublayer_evidence(layer: Any, classes: dict[str, tuple[type, ...]]) -> str | None:
    """A sublayer or weight that shows a layer mixes neighbouring positions."""
    spatial = classes["conv"] + classes["transposed"] + classes["pool"] + classes["global"]
    for sub in _compat.flatten_layers(layer, include_self=False):
        if isinstance(sub, spatial):
            return f"its sublayer {sub.name!r} ({type(sub).__name__})"
    for weight in layer.weights:
        if len(weight.shape) >= 3:
            return f"its weight {weight.path!r} of shape {tuple(weight.shape)}"
    return None


class _FieldWalker:
    """Propagates receptive fields through a functional graph (and nested models)."""

    def __init__(self, strict: bool) -> None:
        self.strict = strict
        self.classes = _layer_classes()

    def unsupported(self, layer: Any, reason: str) -> _Field:
        if self.strict:
            raise ValueError(
                f"cannot compute the receptive field at layer {layer.name!r} "
                f"({type(layer).__name__}): {reason}. Give the layer a "
                "receptive_field_path() method returning the (kernel, stride) pairs of its "
                "longest spatial path, e.g. [(3, 2), (3, 1)], or pass strict=False to mark "
                "the field unknown."
            )
        return _Field("unknown", None, None)

    def walk(
        self,
        graph: Any,
        inputs: list[_Field],
        calls: dict[int, _Call] | None = None,
    ) -> tuple[dict[int, _Field], list[_Field]]:
        """Fields of every node's output (by node id) and of the graph's outputs."""
        fields = {id(x): f for x, f in zip(graph.inputs, inputs, strict=True)}
        by_node: dict[int, _Field] = {}
        for node in _ordered_nodes(graph):
            if node.is_input or node.operation is None:
                field = fields[id(node.outputs[0])]
            else:
                call = calls.get(id(node)) if calls else None
                field = self.layer_field(node, [fields[id(x)] for x in node.input_tensors], call)
            by_node[id(node)] = field
            for x in node.outputs:
                fields[id(x)] = field
        return by_node, [fields[id(x)] for x in graph.outputs]

    def layer_field(self, node: Any, inputs: list[_Field], call: _Call | None) -> _Field:
        layer = node.operation
        if any(f.kind == "unknown" for f in inputs):
            return _Field("unknown", None, None)
        if call is not None:
            in_shapes, out_shapes = call.in_shapes, call.out_shapes
        else:  # a layer inside a nested model: its symbolic shapes
            in_shapes = [tuple(x.shape) for x in node.input_tensors]
            out_shapes = [tuple(x.shape) for x in node.outputs]
        if any(f.kind == "local" for f in inputs):
            # A gate without spatial extent (squeeze-and-excitation's channel
            # weights) rescales channels: global context, but no positions.
            inputs = [
                f
                for f, shape in zip(inputs, in_shapes, strict=True)
                if f.kind == "local" or not _no_extent(shape, len(f.r or ()))
            ]
        r = _max_field(inputs)
        if not inputs or any(f.kind == "global" for f in inputs):
            return _Field("global", r, _first_jump(inputs))
        jumps = {f.j for f in inputs}
        if len(jumps) > 1:
            return self.unsupported(
                layer, f"its inputs have different jumps {sorted(jumps)} (resolutions)"
            )
        j = inputs[0].j
        if r is None or j is None:  # pragma: no cover - local fields carry both
            raise RuntimeError(f"layer {layer.name!r}: local field without r or j")
        n = len(r)
        classes = self.classes

        path = getattr(layer, "receptive_field_path", None)
        if callable(path):
            for kernel, stride in path():
                r, j = _apply(
                    r,
                    j,
                    _per_axis(kernel, n, "kernel", layer.name),
                    _per_axis(stride, n, "stride", layer.name),
                )
            return _Field("local", r, j)
        if _compat.has_layer_graph(layer):
            _, outs = self.walk(_functional_of(layer), inputs)
            return self.merge(layer, outs)
        if isinstance(layer, classes["transposed"]):
            return self.unsupported(layer, "upsampling has no field formula here")
        if isinstance(layer, classes["conv"]):
            dilation = _per_axis(layer.dilation_rate, n, "dilation_rate", layer.name)
            kernel = _per_axis(layer.kernel_size, n, "kernel_size", layer.name)
            effective = tuple(d * (k - 1) + 1 for d, k in zip(dilation, kernel, strict=True))
            stride = _per_axis(layer.strides, n, "strides", layer.name)
            r, j = _apply(r, j, effective, stride)
            return _Field("local", r, j)
        if isinstance(layer, classes["pool"]):
            kernel = _per_axis(layer.pool_size, n, "pool_size", layer.name)
            stride = _per_axis(layer.strides or layer.pool_size, n, "strides", layer.name)
            r, j = _apply(r, j, kernel, stride)
            return _Field("local", r, j)
        if isinstance(layer, classes["global"]) or all(len(s) <= 2 for s in out_shapes):
            return _Field("global", r, j)
        if isinstance(layer, classes["pointwise"]):
            return _Field("local", r, j)

        # Any other layer: pointwise only if it keeps the spatial size and nothing
        # in it (graph ops, sublayers, weights) mixes neighbouring positions.
        import keras  # lazy: keeps TensorFlow out of import time

        data_format = getattr(layer, "data_format", None) or keras.config.image_data_format()
        sides = {_spatial(s, data_format) for s in [*in_shapes, *out_shapes]}
        if len(sides) != 1:
            sides_in = sorted({_spatial(s, data_format) for s in in_shapes}, key=str)
            sides_out = sorted({_spatial(s, data_format) for s in out_shapes}, key=str)
            return self.unsupported(
                layer, f"it changes the spatial size from {sides_in} to {sides_out}"
            )
        if any(d is None for d in next(iter(sides))):
            return self.unsupported(layer, "its spatial size is not known")
        found = _spatial_ops(call.ops or []) if call is not None else None
        evidence = f"its graph has a {found} op" if found else None
        evidence = evidence or _sublayer_evidence(layer, classes)
        if evidence:
            return self.unsupported(layer, f"it mixes neighbouring positions ({evidence})")
        return _Field("local", r, j)

    def merge(self, layer: Any, fields: list[_Field]) -> _Field:
        """The field of several outputs together: the largest."""
        if any(f.kind == "unknown" for f in fields):
            return _Field("unknown", None, None)
        kind = "global" if any(f.kind == "global" for f in fields) else "local"
        jumps = {f.j for f in fields if f.r is not None}
        if kind == "local" and len(jumps) > 1:
            return self.unsupported(layer, f"its outputs have different jumps {sorted(jumps)}")
        return _Field(kind, _max_field(fields), _first_jump(fields))


def _max_field(fields: list[_Field]) -> tuple[int, ...] | None:
    """The largest field per axis of those carried."""
    carried = [f.r for f in fields if f.r is not None]
    return tuple(map(max, zip(*carried, strict=True))) if carried else None


def _first_jump(fields: list[_Field]) -> tuple[int, ...] | None:
    return next((f.j for f in fields if f.j is not None), None)


def _no_extent(shape: tuple, n: int) -> bool:
    """Whether a tensor has no spatial extent: no spatial axes, or all of size 1."""
    import keras  # lazy: keeps TensorFlow out of import time

    if len(shape) < n + 2:
        return True
    return all(d == 1 for d in _spatial(shape, keras.config.image_data_format()))
