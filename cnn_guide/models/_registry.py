"""The model registry: every builder of the book, by name, with its facts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import keras

Builder = Callable[..., "keras.Model"]


@dataclass(frozen=True)
class ModelInfo:
    """What the book knows about one registered model.

    Attributes:
        name: Registry name, as passed to `build`.
        builder: The function that builds it.
        family: Architecture family (``"resnet"``, ``"vgg"``, ...).
        paper: Short citation of the paper that introduced the architecture.
        year: Year of that paper.
        url: Where to read the paper.
        input_shape: Default input shape ``(height, width, channels)``.
        min_input_size: Smallest input side the architecture's downsampling
            allows.
        reference_params: The parameter count the builder must reproduce at
            its default configuration, or ``None`` for book variants.
        reference_kind: Whether ``reference_params`` counts all weights
            (``"total"``, as Keras reports) or ``"trainable"`` ones (as papers
            and PyTorch report).
        reference_source: Where ``reference_params`` comes from.
        variant_of: For a Fashion-MNIST variant, the paper configuration it
            adapts.
        chapter: The book chapter that teaches it (a path under ``docs/``).
        summary: One line on what the model is.
    """

    name: str
    builder: Builder
    family: str
    paper: str
    year: int
    url: str
    input_shape: tuple[int, int, int]
    min_input_size: int
    summary: str
    reference_params: int | None = None
    reference_kind: Literal["total", "trainable"] = "total"
    reference_source: str = ""
    variant_of: str | None = None
    chapter: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def is_variant(self) -> bool:
        """Whether this is a Fashion-MNIST variant rather than a paper configuration."""
        return self.variant_of is not None


_REGISTRY: dict[str, ModelInfo] = {}

BOOK_ORDER: tuple[str, ...] = (
    "simple_cnn",
    "lenet",
    "alexnet",
    "vgg",
    "nin",
    "googlenet",
    "resnet",
    "xception",
    "senet",
    "densenet",
    "mobilenet_v2",
    "resnext",
    "fast",
)
"""Families in the order the book's chapters teach them; `list_models` follows it."""


def _book_position(info: ModelInfo) -> int:
    try:
        return BOOK_ORDER.index(info.family)
    except ValueError:
        return len(BOOK_ORDER)  # a family without a chapter yet comes last


def register(name: str, **facts) -> Callable[[Builder], Builder]:
    """Register a builder under ``name`` with its `ModelInfo` facts.

    Args:
        name: Registry name; must be unique.
        **facts: The remaining `ModelInfo` fields except ``name`` and ``builder``.

    Returns:
        A decorator that registers the builder and returns it unchanged.
    """

    def decorator(builder: Builder) -> Builder:
        if name in _REGISTRY:
            raise ValueError(f"model name {name!r} is registered twice.")
        _REGISTRY[name] = ModelInfo(name=name, builder=builder, **facts)
        return builder

    return decorator


def list_models(*, variants: bool | None = None, family: str | None = None) -> list[str]:
    """Names of the registered models, in the book's order of families.

    Within a family, models keep their registration order (paper
    configurations from small to large, then the Fashion-MNIST variant).

    Args:
        variants: ``True`` for the Fashion-MNIST variants only, ``False`` for
            the paper configurations only, ``None`` for both.
        family: Only this architecture family.
    """
    return [
        info.name
        for info in sorted(_REGISTRY.values(), key=_book_position)
        if (variants is None or info.is_variant == variants)
        and (family is None or info.family == family)
    ]


def get_info(name: str) -> ModelInfo:
    """The `ModelInfo` of a registered model.

    Raises:
        ValueError: If ``name`` is not registered; the message lists valid names.
    """
    try:
        return _REGISTRY[name]
    except KeyError:
        import difflib

        close = difflib.get_close_matches(str(name), _REGISTRY, n=3)
        hint = f" Did you mean {' or '.join(map(repr, close))}?" if close else ""
        raise ValueError(
            f"Unknown model name {name!r}.{hint} Valid names: {', '.join(_REGISTRY)}."
        ) from None


def build(name: str, /, **kwargs) -> keras.Model:
    """Build a registered model by name.

    Example:
        ```python
        from cnn_guide import models

        model = models.build("simple_cnn", num_classes=10)
        ```

    Args:
        name: A name from `list_models`.
        **kwargs: Keyword arguments of that model's builder (``input_shape``,
            ``num_classes``, ``include_top``, ``pooling``, ``name``, ...).

    Returns:
        The model, uncompiled.

    Raises:
        ValueError: For an unknown name or an invalid argument.
    """
    return get_info(name).builder(**kwargs)
