"""Fashion-MNIST: find, verify and load the real data, and feed it to Keras.

Fashion-MNIST (Xiao, Rasul and Vollgraf, 2017, arXiv:1708.07747) holds 70,000
28x28 grayscale images of Zalando articles in ten classes. This module reads
the four original IDX files and never substitutes anything for them: a file
that is missing, truncated or altered raises an error that names it.

The files are looked for, in order, in:

1. the ``data_dir`` argument;
2. the directory named by the ``CNN_GUIDE_DATA`` environment variable;
3. Keras' cache, ``~/.keras/datasets/fashion-mnist``;
4. Debian's ``dataset-fashion-mnist`` package, ``/usr/share/datasets/fashion-mnist``;
5. a download into Keras' cache with ``keras.utils.get_file``.

Every file is checked against the SHA-256 of its *decompressed* contents, so
that a re-compressed copy (Debian's package re-gzips the originals) verifies
exactly like the original download, while any change to an image or a label
fails.
"""

from __future__ import annotations

import hashlib
import os
import zlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import tensorflow as tf

__all__ = [
    "CLASS_NAMES",
    "DATA_ENV_VAR",
    "FASHION_MNIST_SHAPE",
    "DataError",
    "FashionMNIST",
    "candidate_dirs",
    "find_data_dir",
    "load_fashion_mnist",
    "load_test_labels",
    "make_dataset",
    "without_autotune",
]

CLASS_NAMES: tuple[str, ...] = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
"""The ten Fashion-MNIST classes, indexed by label."""

FASHION_MNIST_SHAPE: tuple[int, int, int] = (28, 28, 1)
"""The shape of one image as the models take it: height, width, channels."""

DATA_ENV_VAR = "CNN_GUIDE_DATA"
"""Environment variable naming a directory that holds the four ``.gz`` files."""

VALIDATION_SIZE = 5_000
"""Images held out from the 60,000 training images (the first ones)."""

DOWNLOAD_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
KERAS_CACHE_SUBDIR = "fashion-mnist"
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")


@dataclass(frozen=True)
class _IdxFile:
    name: str
    # SHA-256 of the decompressed IDX bytes: the same for Zalando's published
    # archives (gzip MD5s in Zalando's README) and Debian's re-gzipped copies.
    sha256: str
    shape: tuple[int, ...]


_GZIP_WBITS = 16 + zlib.MAX_WBITS  # accept the gzip container only
_IMAGES_HEADER = 16  # magic, count, rows, columns: four big-endian int32
_LABELS_HEADER = 8  # magic, count
_FILES: dict[str, _IdxFile] = {
    "train_images": _IdxFile(
        "train-images-idx3-ubyte.gz",
        "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        (60_000, 28, 28),
    ),
    "train_labels": _IdxFile(
        "train-labels-idx1-ubyte.gz",
        "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        (60_000,),
    ),
    "test_images": _IdxFile(
        "t10k-images-idx3-ubyte.gz",
        "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        (10_000, 28, 28),
    ),
    "test_labels": _IdxFile(
        "t10k-labels-idx1-ubyte.gz",
        "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        (10_000,),
    ),
}
FILE_NAMES: tuple[str, ...] = tuple(f.name for f in _FILES.values())
"""The four original file names, as published by Zalando Research."""

_HOW_TO_FIX = (
    "To fix it, do one of:\n"
    "  - on Debian or Ubuntu: sudo apt-get install dataset-fashion-mnist\n"
    f"  - put the four files ({', '.join(FILE_NAMES)}) in a directory and pass\n"
    f"    it as data_dir=... or set {DATA_ENV_VAR}=/that/directory\n"
    "  - connect to the internet once: Keras downloads them into "
    "~/.keras/datasets/fashion-mnist"
)


class DataError(RuntimeError):
    """The Fashion-MNIST files are missing, unreadable or not the real ones."""


@dataclass(frozen=True)
class FashionMNIST:
    """The real Fashion-MNIST, split as the book uses it.

    Images are float32 in [0, 1] with shape ``(n, 28, 28, 1)``; labels are
    uint8 class indices into `class_names`.

    Attributes:
        x_train: 55,000 training images (training images 5,000 to 59,999).
        y_train: Their labels.
        x_valid: 5,000 validation images (the first 5,000 training images).
        y_valid: Their labels.
        x_test: The 10,000 test images.
        y_test: Their labels.
        class_names: The ten class names.
        source: The directory the files were read from.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_valid: np.ndarray
    y_valid: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple[str, ...]
    source: Path

    def __iter__(self):
        """Unpack as ``(train, valid, test, class_names)``, pairs of ``(x, y)``."""
        yield (self.x_train, self.y_train)
        yield (self.x_valid, self.y_valid)
        yield (self.x_test, self.y_test)
        yield self.class_names

    def subset(
        self, train: int | None = None, valid: int | None = None, test: int | None = None
    ) -> FashionMNIST:
        """Return the first ``train``/``valid``/``test`` images of each split.

        Used for quick runs (tests, smoke checks). ``None`` keeps a split whole.

        Raises:
            ValueError: If a size is not a positive integer.
        """
        sizes = {"train": train, "valid": valid, "test": test}
        for split, size in sizes.items():
            if size is not None and (not isinstance(size, int) or size < 1):
                raise ValueError(
                    f"subset size for {split!r} must be a positive integer or None, got {size!r}."
                )

        def head(a: np.ndarray, n: int | None) -> np.ndarray:
            return a if n is None else a[:n]

        return FashionMNIST(
            head(self.x_train, train),
            head(self.y_train, train),
            head(self.x_valid, valid),
            head(self.y_valid, valid),
            head(self.x_test, test),
            head(self.y_test, test),
            self.class_names,
            self.source,
        )

    def restrict(
        self,
        classes: Sequence[int] | None = None,
        labels_per_class: int | None = None,
        *,
        seed: int = 0,
    ) -> FashionMNIST:
        """Some classes only, and few labelled training images: the transfer-learning setting.

        Args:
            classes: The classes to keep, in the order their new labels
                ``0, 1, ...`` follow (``None``: all ten).
            labels_per_class: Training images kept per class, drawn at
                random by ``seed`` (``None``: all of them). Validation and
                test images are all kept, so that results stay comparable.
            seed: Chooses which training images are kept.

        Raises:
            ValueError: For an unknown or repeated class, or a count that is
                not a positive integer or is more than a class has.
        """
        names = self.class_names
        chosen = tuple(range(len(names))) if classes is None else tuple(classes)
        if len(set(chosen)) != len(chosen) or not set(chosen) <= set(range(len(names))):
            raise ValueError(
                f"classes must be distinct indexes from 0 to {len(names) - 1}, got {chosen!r}."
            )
        relabel = np.full(len(names), -1, dtype=np.int64)
        relabel[list(chosen)] = np.arange(len(chosen))

        def keep(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            mask = relabel[y] >= 0
            return x[mask], relabel[y[mask]].astype(y.dtype)

        x_train, y_train = keep(self.x_train, self.y_train)
        if labels_per_class is not None:
            available = int(np.bincount(y_train, minlength=len(chosen)).min())
            if not isinstance(labels_per_class, int) or not 1 <= labels_per_class <= available:
                raise ValueError(
                    f"labels_per_class must be an integer from 1 to {available} (the fewest "
                    f"training images of one class here), got {labels_per_class!r}."
                )
            rng = np.random.default_rng(seed)
            picked = np.sort(
                np.concatenate(
                    [
                        rng.choice(
                            np.flatnonzero(y_train == label), labels_per_class, replace=False
                        )
                        for label in range(len(chosen))
                    ]
                )
            )
            x_train, y_train = x_train[picked], y_train[picked]
        return FashionMNIST(
            x_train,
            y_train,
            *keep(self.x_valid, self.y_valid),
            *keep(self.x_test, self.y_test),
            tuple(names[index] for index in chosen),
            self.source,
        )


def candidate_dirs(data_dir: str | os.PathLike | None = None) -> list[tuple[str, Path]]:
    """Where the files are looked for, in order, as ``(description, path)`` pairs.

    Args:
        data_dir: An explicit directory, tried first when given.
    """
    candidates: list[tuple[str, Path]] = []
    if data_dir is not None:
        candidates.append(("data_dir argument", Path(data_dir).expanduser()))
    if os.environ.get(DATA_ENV_VAR):
        candidates.append((f"${DATA_ENV_VAR}", Path(os.environ[DATA_ENV_VAR]).expanduser()))
    candidates.append(("Keras cache", _keras_cache_dir()))
    candidates.append(("Debian package dataset-fashion-mnist", DEBIAN_DIR))
    return candidates


def find_data_dir(data_dir: str | os.PathLike | None = None, *, download: bool = True) -> Path:
    """Return the first directory that holds all four Fashion-MNIST files.

    An explicit ``data_dir`` or ``$CNN_GUIDE_DATA`` must hold all four files:
    pointing at a directory and silently reading another would hide a mistake.

    Args:
        data_dir: An explicit directory to use.
        download: Whether to download into Keras' cache when no directory has
            the files.

    Returns:
        The directory.

    Raises:
        DataError: If an explicitly named directory lacks files, or no
            location has them and the download is off or fails.
    """
    looked: list[str] = []
    for description, directory in candidate_dirs(data_dir):
        missing = [name for name in FILE_NAMES if not (directory / name).is_file()]
        if not missing:
            return directory
        looked.append(f"  - {description}: {directory} (missing {', '.join(missing)})")
        explicit = description == "data_dir argument" or description.startswith("$")
        if explicit:
            raise DataError(
                f"Fashion-MNIST files not found in {directory} ({description}).\n"
                f"Missing: {', '.join(missing)}.\n"
                f"Expected all four of: {', '.join(FILE_NAMES)}.\n{_HOW_TO_FIX}"
            )
    if download:
        try:
            return _download()
        except Exception as error:  # network errors come in many types
            looked.append(f"  - download from {DOWNLOAD_URL}: failed ({error})")
    else:
        looked.append("  - download: not attempted (download=False)")
    raise DataError(
        "Fashion-MNIST files not found. Looked in:\n" + "\n".join(looked) + f"\n{_HOW_TO_FIX}"
    )


def load_fashion_mnist(
    data_dir: str | os.PathLike | None = None, *, download: bool = True
) -> FashionMNIST:
    """Load the real Fashion-MNIST, verified, scaled and split.

    The first 5,000 training images become the validation split, as in the
    seed notebook (Géron, *Hands-On Machine Learning*, chapter 14).

    Example:
        ```python
        from cnn_guide.data import load_fashion_mnist

        (x_train, y_train), (x_valid, y_valid), (x_test, y_test), names = (
            load_fashion_mnist()
        )
        ```

    Args:
        data_dir: A directory holding the four original ``.gz`` files. When
            ``None``, the locations listed in the module docstring are tried.
        download: Whether a download may be attempted as the last resort.

    Returns:
        The splits, which also unpack as ``train, valid, test, class_names``.

    Raises:
        DataError: If the files cannot be found, or a file is truncated,
            corrupt or not the original.
    """
    directory = find_data_dir(data_dir, download=download)
    # zlib and hashlib release the GIL: the four files decompress in parallel.
    with ThreadPoolExecutor(max_workers=len(_FILES)) as pool:
        futures = {
            key: pool.submit(_read_idx, directory / spec.name, spec) for key, spec in _FILES.items()
        }
        arrays = {key: future.result() for key, future in futures.items()}
    images = arrays["train_images"]
    labels = arrays["train_labels"]
    n = VALIDATION_SIZE
    return FashionMNIST(
        x_train=_to_float(images[n:]),
        y_train=labels[n:],
        x_valid=_to_float(images[:n]),
        y_valid=labels[:n],
        x_test=_to_float(arrays["test_images"]),
        y_test=arrays["test_labels"],
        class_names=CLASS_NAMES,
        source=directory,
    )


def load_test_labels(
    data_dir: str | os.PathLike | None = None, *, download: bool = True
) -> np.ndarray:
    """The 10,000 test labels alone, verified: what scoring stored predictions needs.

    Found as `load_fashion_mnist` finds the files; reads only the labels file.

    Raises:
        DataError: As `load_fashion_mnist`.
    """
    spec = _FILES["test_labels"]
    return _read_idx(find_data_dir(data_dir, download=download) / spec.name, spec)


def make_dataset(
    x: np.ndarray,
    y: np.ndarray | None = None,
    *,
    batch_size: int = 32,
    shuffle: bool = False,
    seed: int | None = None,
    resize: int | tuple[int, int] | None = None,
    repeat: bool = False,
    prefetch: int = 2,
) -> tf.data.Dataset:
    """Build a batched ``tf.data`` pipeline over in-memory arrays.

    Autotuning is switched off and a fixed ``prefetch`` used: with Keras'
    default autotuned pipeline, ``fit`` was seen idling for tens of seconds at
    some epoch boundaries on small CPUs.

    Args:
        x: Images, shape ``(n, height, width, channels)``.
        y: Labels, or ``None`` for an unlabelled pipeline.
        batch_size: Images per batch.
        shuffle: Whether to reshuffle every epoch.
        seed: Shuffle seed, for reproducible order.
        resize: Side length (or ``(height, width)``) to resize images to, for
            models that need inputs larger than 28x28. Bilinear.
        repeat: Repeat forever (use with ``steps_per_epoch``).
        prefetch: Batches prepared ahead of the model.

    Returns:
        A dataset of ``(images, labels)`` batches, or of images alone.

    Raises:
        ValueError: On mismatched lengths, a wrong image rank or a bad size.
    """
    import tensorflow as tf

    if x.ndim != 4:
        raise ValueError(
            f"x must have shape (n, height, width, channels), got shape {x.shape}. "
            "Add a channel axis with x[..., None]."
        )
    if y is not None and len(y) != len(x):
        raise ValueError(f"x and y differ in length: {len(x)} images, {len(y)} labels.")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")
    dataset = tf.data.Dataset.from_tensor_slices(x if y is None else (x, y))
    if shuffle:
        dataset = dataset.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        dataset = dataset.repeat()
    dataset = dataset.batch(batch_size)
    if resize is not None:
        size = _as_size(resize)
        if y is None:
            dataset = dataset.map(lambda images: tf.image.resize(images, size))
        else:
            dataset = dataset.map(lambda images, labels: (tf.image.resize(images, size), labels))
    return without_autotune(dataset.prefetch(prefetch))


def without_autotune(dataset: tf.data.Dataset) -> tf.data.Dataset:
    """``dataset`` with tf.data's autotuning switched off.

    On small CPUs, Keras' ``fit`` over an autotuned pipeline was seen idling
    for tens of seconds at some epoch boundaries.
    """
    import tensorflow as tf

    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.with_options(options)


def _as_size(resize: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(resize, int):
        size = (resize, resize)
    else:
        size = tuple(resize)
    if len(size) != 2 or any(not isinstance(s, int) or s < 1 for s in size):
        raise ValueError(
            f"resize must be a positive int or a (height, width) pair, got {resize!r}."
        )
    return size  # type: ignore[return-value]


def _keras_cache_dir() -> Path:
    keras_home = os.environ.get("KERAS_HOME", Path.home() / ".keras")
    return Path(keras_home) / "datasets" / KERAS_CACHE_SUBDIR


def _download() -> Path:
    import keras

    paths = [
        keras.utils.get_file(
            fname=name,
            origin=DOWNLOAD_URL + name,
            cache_subdir=f"datasets/{KERAS_CACHE_SUBDIR}",
        )
        for name in FILE_NAMES
    ]
    return Path(paths[0]).parent


def _read_idx(path: Path, spec: _IdxFile) -> np.ndarray:
    """Decompress, verify and parse one IDX file."""
    try:
        raw = zlib.decompress(path.read_bytes(), wbits=_GZIP_WBITS)
    except (OSError, zlib.error) as error:
        raise DataError(
            f"{path} is not a readable gzip file ({error}). It is truncated or "
            f"corrupt: delete it and fetch it again.\n{_HOW_TO_FIX}"
        ) from error
    digest = hashlib.sha256(raw).hexdigest()
    if digest != spec.sha256:
        raise DataError(
            f"{path} failed its checksum: the SHA-256 of its decompressed contents "
            f"is {digest}, expected {spec.sha256}. It is not the original "
            f"Fashion-MNIST file {spec.name}: delete it and fetch it again.\n{_HOW_TO_FIX}"
        )
    header = _IMAGES_HEADER if len(spec.shape) == 3 else _LABELS_HEADER
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(spec.shape)


def _to_float(images: np.ndarray) -> np.ndarray:
    # One fused multiply straight into float32: ~9x faster than astype + divide.
    return np.multiply(images, np.float32(1 / 255), dtype=np.float32)[..., np.newaxis]
