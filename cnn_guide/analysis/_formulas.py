"""The formulas behind the tables, for the worked examples.

Parameters and multiply-accumulates of a 2-D convolution, the output side of a
convolution or pooling (Dumoulin and Visin 2016, "A guide to convolution
arithmetic for deep learning", https://arxiv.org/abs/1603.07285), and the
receptive field of a chain of layers (Araujo, Norris and Sim 2019, "Computing
Receptive Fields of Convolutional Neural Networks", Distill,
https://distill.pub/2019/computing-receptive-fields/).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def _pair(value: int | Sequence[int], what: str) -> tuple[int, int]:
    if isinstance(value, int):
        pair = (value, value)
    else:
        pair = tuple(int(v) for v in value)
        if len(pair) != 2:
            raise ValueError(f"{what} must be an int or a pair (height, width), got {value!r}.")
    if any(v < 1 for v in pair):
        raise ValueError(f"{what} must be positive, got {value!r}.")
    return pair  # type: ignore[return-value]


def _check_groups(c_in: int, c_out: int, groups: int) -> None:
    if groups < 1 or c_in % groups or c_out % groups:
        raise ValueError(
            f"groups must be a positive divisor of both c_in and c_out, got groups={groups} "
            f"for c_in={c_in}, c_out={c_out}. Use groups=1 for an ordinary convolution or "
            "groups=c_in for a depthwise one."
        )


def conv_params(
    k: int | Sequence[int], c_in: int, c_out: int, bias: bool = True, groups: int = 1
) -> int:
    r"""Parameters of a 2-D convolution.

    A $k \times k$ convolution from $C_{in}$ to $C_{out}$ channels in $g$ groups
    has

    $$P = k^2 \cdot \frac{C_{in}}{g} \cdot C_{out} + C_{out}$$

    parameters, the last term being the biases (dropped with ``bias=False``, as
    before a batch normalization).

    Example:
        Two stacked 3x3 convolutions see a 5x5 window, with fewer parameters
        than one 5x5 convolution:

        ```python
        >>> 2 * conv_params(3, 64, 64, bias=False), conv_params(5, 64, 64, bias=False)
        (73728, 102400)

        ```

    Args:
        k: Kernel side, or ``(height, width)``.
        c_in: Input channels.
        c_out: Output channels (filters).
        bias: Whether the layer has a bias per output channel.
        groups: Number of groups; ``groups=c_in`` with ``c_out=c_in`` is a
            depthwise convolution.

    Returns:
        The number of parameters.

    Raises:
        ValueError: If ``groups`` does not divide both channel counts.
    """
    kh, kw = _pair(k, "k")
    _check_groups(c_in, c_out, groups)
    return kh * kw * (c_in // groups) * c_out + (c_out if bias else 0)


def conv_macs(
    h_out: int,
    w_out: int,
    k: int | Sequence[int],
    c_in: int,
    c_out: int,
    groups: int = 1,
) -> int:
    r"""Multiply-accumulates of a 2-D convolution for one image.

    Each of the $H_{out} \cdot W_{out} \cdot C_{out}$ outputs is a dot product
    of length $k^2 C_{in} / g$:

    $$\mathrm{MACs} = H_{out} \cdot W_{out} \cdot k^2 \cdot \frac{C_{in}}{g} \cdot C_{out}$$

    Example:
        The seed CNN's first layer, 64 filters of 7x7 over a 28x28 grayscale
        image with ``same`` padding:

        ```python
        >>> conv_macs(28, 28, 7, 1, 64)
        2458624

        ```

    Args:
        h_out: Output height.
        w_out: Output width.
        k: Kernel side, or ``(height, width)``.
        c_in: Input channels.
        c_out: Output channels.
        groups: Number of groups.

    Returns:
        The number of multiply-accumulates.

    Raises:
        ValueError: If ``groups`` does not divide both channel counts.
    """
    kh, kw = _pair(k, "k")
    _check_groups(c_in, c_out, groups)
    return h_out * w_out * kh * kw * (c_in // groups) * c_out


def output_size(n: int, k: int, s: int = 1, p: int | str = 0, d: int = 1) -> int:
    r"""Output side of a convolution or pooling along one axis.

    With input side $n$, kernel $k$, stride $s$, padding $p$ on each side and
    dilation $d$ (Dumoulin and Visin 2016, https://arxiv.org/abs/1603.07285):

    $$n_{out} = \left\lfloor \frac{n + 2p - d(k - 1) - 1}{s} \right\rfloor + 1$$

    Keras' ``padding="valid"`` is $p = 0$; ``padding="same"`` pads so that
    $n_{out} = \lceil n / s \rceil$; both strings are accepted for ``p``.

    Example:
        ```python
        >>> output_size(224, 7, s=2, p=3)    # ResNet's stem
        112
        >>> output_size(28, 3, p="valid"), output_size(28, 3, s=2, p="same")
        (26, 14)

        ```

    Args:
        n: Input side.
        k: Kernel side.
        s: Stride.
        p: Padding on each side, or ``"valid"`` / ``"same"``.
        d: Dilation rate.

    Returns:
        The output side.

    Raises:
        ValueError: For non-positive arguments, an unknown padding, or a
            kernel larger than the padded input.
    """
    if min(n, k, s, d) < 1:
        raise ValueError(f"n, k, s and d must be positive, got n={n}, k={k}, s={s}, d={d}.")
    if p == "same":
        return -(-n // s)
    if p == "valid":
        p = 0
    if not isinstance(p, int) or p < 0:
        raise ValueError(f"p must be a non-negative int, 'valid' or 'same', got {p!r}.")
    size = (n + 2 * p - d * (k - 1) - 1) // s + 1
    if size < 1:
        raise ValueError(
            f"input side {n} is too small for kernel {k} (dilation {d}) with padding {p}: "
            f"the output would have {size} positions. Pad more or use a smaller kernel."
        )
    return size


def stack_receptive_field(path: Iterable[tuple[int, int]]) -> tuple[int, int]:
    r"""Receptive field and jump at the end of a chain of (kernel, stride) layers.

    Starting from one pixel ($r_0 = 1$, $j_0 = 1$), each layer with kernel $k$
    and stride $s$ gives

    $$r_{out} = r_{in} + (k - 1)\,j_{in}, \qquad j_{out} = j_{in} \cdot s$$

    where the jump $j$ is the distance, in input pixels, between neighbouring
    outputs. A dilated kernel counts as $d(k - 1) + 1$.

    Example:
        Two stacked 3x3 convolutions see as far as one 5x5; three as one 7x7:

        ```python
        >>> stack_receptive_field([(3, 1), (3, 1)]), stack_receptive_field([(3, 1)] * 3)
        ((5, 1), (7, 1))

        ```

    Args:
        path: ``(kernel, stride)`` pairs, first layer first.

    Returns:
        ``(receptive field, jump)`` in input pixels.
    """
    r, j = 1, 1
    for k, s in path:
        r += (int(k) - 1) * j
        j *= int(s)
    return r, j
