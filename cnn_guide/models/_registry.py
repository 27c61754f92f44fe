"""The model registry: every builder of the book, by name, with its facts."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from cnn_guide.data import FASHION_MNIST_SHAPE

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

    @property
    def takes_fashion_mnist(self) -> bool:
        """Whether the model takes Fashion-MNIST images (28x28x1) by default.

        True for every variant and for ``simple_cnn``, the one paper
        configuration built for Fashion-MNIST; these are the models the book
        trains and benchmarks.
        """
        return tuple(self.input_shape) == FASHION_MNIST_SHAPE


_REGISTRY: dict[str, ModelInfo] = {}

BOOK_ORDER: tuple[str, ...] = (
    "simple_cnn",
    "lenet",
    "alexnet",
    "vgg",
    "nin",
    "googlenet",
    "resnet",
    "densenet",
    "resnext",
    "xception",
    "senet",
    "mobilenet_v2",
    "efficientnet",
    "regnet",
    "convnext",
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


@dataclass(frozen=True)
class Family:
    """The facts every registered model of one family shares.

    Attributes:
        name: Architecture family (`ModelInfo.family`).
        paper: Short citation of the paper that introduced it.
        year: Year of that paper.
        url: Where to read the paper.
        chapter: The book chapter that teaches it (a path under ``docs/``).
    """

    name: str
    paper: str
    year: int
    url: str
    chapter: str


def register_family(
    family: Family, facts: Mapping[str, Mapping[str, object]], builders: Sequence[Builder]
) -> None:
    """Register a family's builders in one call, each with its row of ``facts``.

    Args:
        family: What the family's models share.
        facts: Per registry name, in the order `list_models` should keep, the
            other `ModelInfo` fields (``summary``, ``input_shape``,
            ``min_input_size``, ``reference_params``, ...).
        builders: The family's public builders, each named as its row.

    Raises:
        ValueError: If the builders' names and the rows differ.
    """
    by_name = {builder.__name__: builder for builder in builders}
    if set(by_name) != set(facts):
        raise ValueError(
            f"{family.name}: builders {sorted(by_name)} and facts {sorted(facts)} differ."
        )
    shared = {
        "family": family.name,
        "paper": family.paper,
        "year": family.year,
        "url": family.url,
        "chapter": family.chapter,
    }
    for name, row in facts.items():
        register(name, **shared, **row)(by_name[name])


def list_models(
    *,
    variants: bool | None = None,
    family: str | None = None,
    fashion: bool | None = None,
) -> list[str]:
    """Names of the registered models, in the book's order of families.

    Within a family, models keep their registration order (paper
    configurations from small to large, then the Fashion-MNIST variant).

    Args:
        variants: ``True`` for the Fashion-MNIST variants only, ``False`` for
            the paper configurations only, ``None`` for both.
        family: Only this architecture family.
        fashion: ``True`` for the models that take Fashion-MNIST images
            (`ModelInfo.takes_fashion_mnist`: the variants and ``simple_cnn``),
            ``False`` for the others, ``None`` for both.
    """
    return [
        info.name
        for info in sorted(_REGISTRY.values(), key=_book_position)
        if (variants is None or info.is_variant == variants)
        and (family is None or info.family == family)
        and (fashion is None or info.takes_fashion_mnist == fashion)
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


def check_fashion_mnist(name: str) -> ModelInfo:
    """The `ModelInfo` of a model that takes Fashion-MNIST images, or a clear error.

    Raises:
        ValueError: For an unknown name, or a paper configuration (such as
            224x224x3 inputs), naming its Fashion-MNIST variants.
    """
    info = get_info(name)
    if info.takes_fashion_mnist:
        return info
    variants = [other.name for other in _REGISTRY.values() if other.variant_of == name]
    hint = (
        f" Train its Fashion-MNIST variant instead: {', '.join(variants)}."
        if variants
        else f" Choose a Fashion-MNIST model: {', '.join(list_models(fashion=True))}."
    )
    raise ValueError(
        f"{name} is a paper configuration for {'x'.join(map(str, info.input_shape))} inputs, "
        f"not 28x28x1 Fashion-MNIST images.{hint}"
    )


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
