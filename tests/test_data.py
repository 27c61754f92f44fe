"""cnn_guide.data: finding, verifying and loading the real Fashion-MNIST."""

from __future__ import annotations

import gzip
import shutil

import numpy as np
import pytest

from cnn_guide import data as fm
from cnn_guide.data import FILE_NAMES, DataError, load_fashion_mnist, make_dataset


@pytest.fixture(scope="module")
def real_dir():
    return fm.find_data_dir(download=False)


@pytest.fixture
def copy_dir(real_dir, tmp_path):
    for name in FILE_NAMES:
        shutil.copy(real_dir / name, tmp_path / name)
    return tmp_path


def test_splits_shapes_and_scaling(fashion):
    assert fashion.x_train.shape == (55_000, 28, 28, 1)
    assert fashion.x_valid.shape == (5_000, 28, 28, 1)
    assert fashion.x_test.shape == (10_000, 28, 28, 1)
    assert fashion.y_train.shape == (55_000,) and fashion.y_test.shape == (10_000,)
    for x in (fashion.x_train, fashion.x_valid, fashion.x_test):
        assert x.dtype == np.float32 and x.min() == 0.0 and x.max() == 1.0
    assert np.bincount(fashion.y_test).tolist() == [1_000] * 10
    assert len(fashion.class_names) == 10 and fashion.class_names[9] == "Ankle boot"


def test_validation_is_the_first_5000_training_images(fashion):
    # The first training images of Fashion-MNIST are an ankle boot and two T-shirts.
    assert fashion.y_valid[:3].tolist() == [9, 0, 0]
    assert np.bincount(fashion.y_valid, minlength=10).sum() == 5_000


def test_unpacks_like_the_seed_notebook(fashion):
    (x_train, _), (x_valid, _), (x_test, _), names = fashion
    assert len(x_train) + len(x_valid) == 60_000 and len(x_test) == 10_000 and len(names) == 10


def test_loads_from_an_explicit_directory(copy_dir):
    loaded = load_fashion_mnist(copy_dir, download=False)
    assert loaded.source == copy_dir and loaded.x_test.shape == (10_000, 28, 28, 1)


def test_environment_variable_is_used(copy_dir, monkeypatch):
    monkeypatch.setenv("CNN_GUIDE_DATA", str(copy_dir))
    assert fm.find_data_dir(download=False) == copy_dir


def test_explicit_directory_wins_over_the_environment(copy_dir, tmp_path_factory, monkeypatch):
    monkeypatch.setenv("CNN_GUIDE_DATA", str(tmp_path_factory.mktemp("elsewhere")))
    assert fm.find_data_dir(copy_dir, download=False) == copy_dir


def test_environment_variable_pointing_at_an_empty_directory_fails(tmp_path, monkeypatch):
    monkeypatch.setenv("CNN_GUIDE_DATA", str(tmp_path))
    with pytest.raises(DataError, match="CNN_GUIDE_DATA") as error:
        fm.find_data_dir(download=False)
    assert "train-images-idx3-ubyte.gz" in str(error.value)


def test_missing_file_in_explicit_directory_is_named(copy_dir):
    (copy_dir / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match="Missing: t10k-labels-idx1-ubyte.gz"):
        load_fashion_mnist(copy_dir, download=False)


def test_nothing_anywhere_lists_every_place_and_the_fixes(tmp_path, monkeypatch):
    monkeypatch.delenv("CNN_GUIDE_DATA", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setattr(fm, "DEBIAN_DIR", tmp_path / "debian")
    with pytest.raises(DataError) as error:
        fm.find_data_dir(download=False)
    message = str(error.value)
    for expected in ("Keras cache", "dataset-fashion-mnist", "CNN_GUIDE_DATA", "apt-get install"):
        assert expected in message


def test_failed_download_is_reported(tmp_path, monkeypatch):
    monkeypatch.delenv("CNN_GUIDE_DATA", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setattr(fm, "DEBIAN_DIR", tmp_path / "debian")

    def no_network():
        raise OSError("network is unreachable")

    monkeypatch.setattr(fm, "_download", no_network)
    with pytest.raises(DataError, match="download from .* failed .*network is unreachable"):
        fm.find_data_dir()


def test_truncated_file_is_rejected(copy_dir):
    path = copy_dir / "train-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(DataError, match="train-labels-idx1-ubyte.gz is not a readable gzip"):
        load_fashion_mnist(copy_dir, download=False)


def test_altered_contents_fail_the_checksum(copy_dir):
    path = copy_dir / "t10k-labels-idx1-ubyte.gz"
    raw = bytearray(gzip.decompress(path.read_bytes()))
    raw[-1] = (raw[-1] + 1) % 10  # one label changed
    path.write_bytes(gzip.compress(bytes(raw)))
    with pytest.raises(DataError, match="failed its checksum.*expected [0-9a-f]{64}"):
        load_fashion_mnist(copy_dir, download=False)


def test_a_recompressed_original_still_verifies(copy_dir):
    path = copy_dir / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(gzip.decompress(path.read_bytes()), compresslevel=1))
    assert load_fashion_mnist(copy_dir, download=False).y_test.shape == (10_000,)


def test_a_different_dataset_is_rejected(copy_dir):
    path = copy_dir / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(b"\x00" * 1000))
    with pytest.raises(DataError, match="train-images-idx3-ubyte.gz failed its checksum"):
        load_fashion_mnist(copy_dir, download=False)


def test_loading_reads_each_file_once_and_downloads_nothing(real_dir, monkeypatch):
    # What keeps loading quick, as behaviour: each original file is decompressed and
    # verified once, and nothing is fetched. How quick is measured in the README.
    read_idx, reads = fm._read_idx, []

    def counted(path, spec):
        reads.append(path.name)
        return read_idx(path, spec)

    monkeypatch.setattr(fm, "_read_idx", counted)
    monkeypatch.setattr(fm, "_download", lambda: pytest.fail("a local load downloaded"))
    loaded = load_fashion_mnist(real_dir, download=False)
    assert sorted(reads) == sorted(FILE_NAMES)
    assert loaded.source == real_dir and loaded.x_test.dtype == np.float32


def test_subset_and_its_validation(fashion):
    small = fashion.subset(train=10, valid=5, test=3)
    assert (len(small.x_train), len(small.x_valid), len(small.x_test)) == (10, 5, 3)
    with pytest.raises(ValueError, match="positive integer"):
        fashion.subset(train=0)


def test_make_dataset_batches_shuffles_and_resizes(fashion):
    x, y = fashion.x_test[:100], fashion.y_test[:100]
    batches = list(make_dataset(x, y, batch_size=32))
    assert [len(b[0]) for b in batches] == [32, 32, 32, 4]
    np.testing.assert_array_equal(batches[0][1].numpy(), y[:32])
    shuffled = next(iter(make_dataset(x, y, batch_size=100, shuffle=True, seed=1)))[1].numpy()
    assert sorted(shuffled.tolist()) == sorted(y.tolist()) and shuffled.tolist() != y.tolist()
    images, _ = next(iter(make_dataset(x, y, batch_size=4, resize=64)))
    assert images.shape == (4, 64, 64, 1)
    unlabelled = next(iter(make_dataset(x, batch_size=8, resize=(32, 40))))
    assert unlabelled.shape == (8, 32, 40, 1)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"x": np.zeros((4, 28, 28))}, "channel axis"),
        ({"y": np.zeros(3)}, "differ in length"),
        ({"batch_size": 0}, "batch_size"),
        ({"resize": (0, 4)}, "resize"),
    ],
)
def test_make_dataset_rejects_bad_input(kwargs, message):
    arguments = {"x": np.zeros((4, 28, 28, 1), np.float32), "y": np.zeros(4), **kwargs}
    with pytest.raises(ValueError, match=message):
        make_dataset(arguments.pop("x"), arguments.pop("y"), **arguments)


def test_restrict_keeps_some_classes_relabelled_and_few_labels(small_fashion):
    shoes = small_fashion.restrict((5, 7, 9))  # sandal, sneaker, ankle boot
    assert shoes.class_names == ("Sandal", "Sneaker", "Ankle boot")
    assert set(np.unique(shoes.y_train)) == {0, 1, 2}
    expected = np.isin(small_fashion.y_test, (5, 7, 9)).sum()
    assert len(shoes.y_test) == expected and set(np.unique(shoes.y_test)) <= {0, 1, 2}
    # The relabelled images are the originals: class 7 (sneaker) became 1.
    sneakers = small_fashion.x_train[small_fashion.y_train == 7]
    assert np.array_equal(shoes.x_train[shoes.y_train == 1], sneakers)
    few = small_fashion.restrict((5, 7, 9), 4, seed=1)
    assert np.bincount(few.y_train).tolist() == [4, 4, 4]
    assert len(few.y_valid) == len(shoes.y_valid)  # validation and test stay whole
    again = small_fashion.restrict((5, 7, 9), 4, seed=1)
    assert np.array_equal(few.x_train, again.x_train)  # the seed decides which
    other = small_fashion.restrict((5, 7, 9), 4, seed=2)
    assert not np.array_equal(few.x_train, other.x_train)
    with pytest.raises(ValueError, match=r"distinct indexes from 0 to 9, got \(1, 1\)"):
        small_fashion.restrict((1, 1))
    with pytest.raises(ValueError, match="labels_per_class must be an integer from 1 to"):
        small_fashion.restrict((5, 7), 100_000)
