"""What the TensorFlow graph ops of a traced layer call compute.

Multiply-accumulates are counted from the ops themselves (convolutions of
every kind, matrix products and einsums, inside called functions and
conditional branches too), so the count is right for any block however it is
built. The same ops tell whether a layer mixes neighbouring positions, which
the receptive-field walk needs for layers it does not know.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from cnn_guide import _compat

_CONV_OPS = {"Conv2D", "Conv3D", "Conv"}
_DEPTHWISE_OPS = {"DepthwiseConv2dNative"}
_TRANSPOSED_OPS = {
    "Conv2DBackpropInput",
    "Conv2DBackpropInputV2",
    "Conv3DBackpropInputV2",
}
_MATMUL_OPS = {"MatMul", "BatchMatMul", "BatchMatMulV2", "BatchMatMulV3"}
_CALL_OPS = {"PartitionedCall", "StatefulPartitionedCall"}
_BRANCH_OPS = {"If", "StatelessIf", "Case", "StatelessCase"}
_POOL_OPS = {
    "MaxPool",
    "MaxPoolV2",
    "AvgPool",
    "MaxPool3D",
    "AvgPool3D",
    "MaxPoolWithArgmax",
}


def _dims(tensor: Any) -> list[int] | None:
    shape = tensor.shape
    if shape.rank is None:
        return None
    dims = shape.as_list()
    return None if any(d is None for d in dims) else dims


def _function_graphs(op: Any) -> list[Any] | None:
    """Graphs of the functions a call or branch op runs (``None`` if unavailable)."""
    if op.type in _CALL_OPS:
        names = [op.get_attr("f").name]
    elif op.type in {"If", "StatelessIf"}:
        names = [op.get_attr("then_branch").name, op.get_attr("else_branch").name]
    else:
        names = [f.name for f in op.get_attr("branches")]
    graphs = []
    for name in names:
        function = _compat.graph_function(op.graph, name)
        graph = getattr(function, "graph", None)
        if graph is None:
            return None
        graphs.append(graph)
    return graphs


def _einsum_macs(op: Any) -> int | None:
    equation = op.get_attr("equation")
    equation = equation.decode() if isinstance(equation, bytes) else equation
    lhs, arrow, rhs = equation.replace(" ", "").partition("->")
    terms = lhs.split(",")
    sizes: dict[str, int] = {}
    for term, tensor in zip(terms, op.inputs, strict=False):
        dims = _dims(tensor)
        if dims is None:
            return None
        before, dots, after = term.partition("...")
        labels = list(before) + ["."] * (len(dims) - len(before) - len(after)) + list(after)
        if not dots:
            labels = list(term)
        for label, size in zip(labels, dims, strict=False):
            if label != ".":
                sizes[label] = max(sizes.get(label, 1), size)
    if not arrow:  # implicit output: the labels that appear once, sorted
        rhs = "".join(sorted(c for c in sizes if lhs.count(c) == 1))
    out = _dims(op.outputs[0])
    if out is None:
        return None
    return math.prod(out) * math.prod(s for label, s in sizes.items() if label not in rhs)


def _conv_output(op: Any) -> Any:
    """The output of a convolution op, as the layer sees it.

    TensorFlow runs a dilated convolution on a space-to-batch rearranged input,
    padded to a multiple of the dilation; the positions that padding adds are
    cropped again by the following ``BatchToSpaceND``, whose output is the
    layer's true output.
    """
    consumers = op.outputs[0].consumers()
    if len(consumers) == 1 and consumers[0].type == "BatchToSpaceND":
        return consumers[0].outputs[0]
    return op.outputs[0]


def _op_macs(op: Any, cache: dict[str, int | None]) -> int | None:
    """Multiply-accumulates of one op: convolutions and matrix products only."""
    kind = op.type
    if kind in _CONV_OPS or kind in _DEPTHWISE_OPS or kind in _TRANSPOSED_OPS:
        filt = _dims(op.inputs[1])
        # A transposed convolution scatters each input value through the kernel.
        data = _dims(op.inputs[2] if kind in _TRANSPOSED_OPS else _conv_output(op))
        if filt is None or data is None:
            return None
        if kind in _DEPTHWISE_OPS:  # filter (kh, kw, c_in, multiplier): one tap per output
            return math.prod(data) * math.prod(filt[:-2])
        # filter (*spatial, c_in / groups, c_out): each output is a dot product over all
        # but the last axis (for a transposed conv the roles of c_in and c_out swap).
        return math.prod(data) * math.prod(filt[:-1])
    if kind in _MATMUL_OPS:
        a, out = _dims(op.inputs[0]), _dims(op.outputs[0])
        if a is None or out is None:
            return None
        transposed = False
        for attr in ("transpose_a", "adj_x"):
            try:
                transposed = bool(op.get_attr(attr))
                break
            except ValueError:
                continue
        depth = a[-2] if transposed else a[-1]
        return math.prod(out) * depth
    if kind == "Einsum":
        return _einsum_macs(op)
    if kind in _CALL_OPS or kind in _BRANCH_OPS:
        key = f"{kind}:{op.name}:{id(op.graph)}"
        if key not in cache:
            graphs = _function_graphs(op)
            if graphs is None:
                cache[key] = None
            else:
                counts = [_ops_macs(g.get_operations(), cache) for g in graphs]
                # A conditional runs one branch: count the costlier one.
                known = [c for c in counts if c is not None]
                cache[key] = max(known, default=0) if len(known) == len(counts) else None
        return cache[key]
    return 0


def _ops_macs(ops: Iterable[Any], cache: dict[str, int | None] | None = None) -> int | None:
    cache = {} if cache is None else cache
    total = 0
    for op in ops:
        macs = _op_macs(op, cache)
        if macs is None:
            return None
        total += macs
    return total


def _spatial_ops(ops: Iterable[Any]) -> str | None:
    """The first op that mixes neighbouring positions (a kernel or stride above 1)."""
    for op in ops:
        kind = op.type
        if kind in _POOL_OPS or kind in _TRANSPOSED_OPS:
            return kind
        if kind in _CONV_OPS or kind in _DEPTHWISE_OPS:
            filt = _dims(op.inputs[1])
            strides = list(op.get_attr("strides")) if "strides" in op.node_def.attr else []
            if filt is None or any(k > 1 for k in filt[:-2]) or any(s > 1 for s in strides):
                return kind
        if kind in _CALL_OPS or kind in _BRANCH_OPS:
            graphs = _function_graphs(op)
            if graphs is None:
                return kind
            for graph in graphs:
                found = _spatial_ops(graph.get_operations())
                if found:
                    return found
    return None
