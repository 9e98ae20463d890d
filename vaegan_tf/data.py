"""Data sets, splits, preprocessing and `tf.data` pipelines for every experiment of the suite.

MNIST comes from tensorflow-datasets when it has a prepared copy (or can download one), else from
the verified offline mirror in `mnist_mirror` (real MNIST, original order). Fashion-MNIST comes from
Debian's `dataset-fashion-mnist` IDX files or tfds; SVHN (`svhn_cropped`) and CIFAR-10 only through
tfds, which needs the network the first time.

Splits follow Chen, Fang and Ju (2016), Sec. 4.2 and the TF1 `input_data` reader their code used:
the first 5,000 training images are the validation set, the other 55,000 train, and the full 10,000
test images test (the paper's "test set of 5,000" is an error). `full` keeps the plain 60k/10k.

SVHN (Sec. 4.2: 32x32x3, RGB in [0, 1]) has no validation split of its own: tfds' `svhn_cropped`
gives train (73,257) and test (26,032), and the paper does not say how it held data out (the
authors' SVHN script, Jianbo-Lab/deep-learning-project experiments/svhn_cvaegan_conv, trains on all
of train_32x32.mat). The same `tf1` rule serves it: the first 5,000 training images validate (they
only monitor training: no figure selects a model on them), the other 68,257 train, the 26,032 test
images test. The 531,131 `extra` images the paper's "over 600,000" counts are not used (tfds still
downloads them when it prepares the data set).

A tfds data set that is not prepared is downloaded on first use. Without a network that download
would retry for minutes before failing, so the hosts it would use are probed first (a few seconds)
and an unreachable network is one `DataError` naming the fix: `tfds build` on a connected machine.
"""

from __future__ import annotations

import dataclasses
import gzip
import os
import socket
from pathlib import Path

import numpy as np
import tensorflow as tf

from vaegan_tf import mnist_mirror
from vaegan_tf.choices import check_choice

DATASETS = {  # name -> (tfds name, image shape, classes)
    "mnist": ("mnist", (28, 28, 1), 10),
    "fashion_mnist": ("fashion_mnist", (28, 28, 1), 10),
    "svhn": ("svhn_cropped", (32, 32, 3), 10),
    "cifar10": ("cifar10", (32, 32, 3), 10),
}
SOURCES = ("auto", "tfds", "mirror", "debian")
SPLITS = ("tf1", "full")
PREPROCESSING = ("unit", "symmetric", "dynamic_binarize", "threshold")
TF1_VALIDATION_SIZE = 5000
DEBIAN_FASHION_DIRS = ("/usr/share/datasets/fashion-mnist",)
# (host, port) a tfds download of the data set would reach: tfds' prepared copies on Google Cloud
# Storage first, then the data set's own site (its builder's URL). One answering is enough to try.
TFDS_DOWNLOAD_HOSTS = {
    "mnist": (("storage.googleapis.com", 443),),
    "fashion_mnist": (
        ("storage.googleapis.com", 443),
        ("fashion-mnist.s3-website.eu-central-1.amazonaws.com", 80),
    ),
    "svhn": (("storage.googleapis.com", 443), ("ufldl.stanford.edu", 80)),
    "cifar10": (("storage.googleapis.com", 443), ("www.cs.toronto.edu", 443)),
}
PROBE_SECONDS = 5.0
PROXY_VARIABLES = (
    "HTTPS_PROXY",
    "HTTP_PROXY",
    "ALL_PROXY",
    "https_proxy",
    "http_proxy",
    "all_proxy",
)


class DataError(ValueError):
    """A data set cannot be provided as asked; the message names the fix."""


@dataclasses.dataclass(frozen=True)
class Split:
    images: np.ndarray  # uint8 [N, H, W, C]
    labels: np.ndarray  # int64 [N]

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, indices: np.ndarray) -> Split:
        return Split(self.images[indices], self.labels[indices])


@dataclasses.dataclass(frozen=True)
class DatasetSplits:
    name: str
    train: Split
    validation: Split | None
    test: Split
    num_classes: int
    source: str

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.train.images.shape[1:])


def _check_choice(value: str, choices, what: str) -> None:
    check_choice(value, choices, what, error=DataError)


def load(
    name: str = "mnist", *, split: str = "tf1", source: str = "auto", data_dir: str | None = None
) -> DatasetSplits:
    """Loads `name` as uint8 arrays and splits it (`tf1`: 55k/5k/10k for MNIST, `full`: no
    validation)."""
    _check_choice(name, DATASETS, "dataset")
    _check_choice(split, SPLITS, "split")
    _check_choice(source, SOURCES, "source")
    (x_train, y_train, x_test, y_test), used = _load_arrays(name, source, data_dir)
    train, test = Split(x_train, y_train), Split(x_test, y_test)
    validation = None
    if split == "tf1":
        if len(train) <= TF1_VALIDATION_SIZE:
            raise DataError(
                f"{name} has {len(train)} training images, too few to hold out the first "
                f"{TF1_VALIDATION_SIZE:,} for validation: use split='full', or the full data set"
            )
        validation = train.subset(np.arange(TF1_VALIDATION_SIZE))
        train = train.subset(np.arange(TF1_VALIDATION_SIZE, len(train)))
    return DatasetSplits(name, train, validation, test, DATASETS[name][2], used)


def _load_arrays(name, source, data_dir):
    if source in ("auto", "tfds") and (source == "tfds" or _tfds_prepared(name, data_dir)):
        return _from_tfds(name, data_dir), "tfds"
    if name == "mnist" and source in ("auto", "mirror"):
        return _from_mirror(), "mirror:" + mnist_mirror.WHEEL_REQUIREMENT
    if name == "fashion_mnist" and source in ("auto", "debian"):
        return _from_debian_fashion(), "debian:dataset-fashion-mnist"
    if source == "auto":
        return _from_tfds(name, data_dir), "tfds"
    raise DataError(
        f"source {source!r} does not provide {name!r}: mirror is for mnist, debian for "
        "fashion_mnist, tfds for all"
    )


def _tfds_prepared(name: str, data_dir: str | None) -> bool:
    import tensorflow_datasets as tfds

    try:
        return tfds.builder(DATASETS[name][0], data_dir=data_dir).is_prepared()
    except Exception:  # an unreadable tfds directory is the same as none: fall back to the mirror
        return False


def _from_tfds(name: str, data_dir: str | None):
    import tensorflow_datasets as tfds

    tfds_name = DATASETS[name][0]
    fix = (
        f"prepare it on a connected machine (`tfds build {tfds_name} --data_dir=DIR`, or any "
        f"command with --dataset={name} there) and pass --data_dir=DIR"
    )
    try:
        builder = tfds.builder(tfds_name, data_dir=data_dir)
        try:
            splits = _supervised_splits(builder)
        except AssertionError:  # tfds' "could not find data": not prepared yet
            _require_download_hosts(name, tfds_name, builder.data_dir_root, fix)
            builder.download_and_prepare()
            splits = _supervised_splits(builder)
        return (*_as_arrays(splits[0]), *_as_arrays(splits[1]))
    except DataError:
        raise
    except Exception as error:
        raise DataError(
            f"tensorflow-datasets could not provide {tfds_name!r} ({type(error).__name__}: "
            f"{error}). It downloads on first use and needs the network; {fix}."
        ) from error


def _supervised_splits(builder):
    return builder.as_dataset(split=["train", "test"], as_supervised=True, shuffle_files=False)


def _require_download_hosts(name: str, tfds_name: str, data_dir, fix: str) -> None:
    """Raises `DataError` at once when none of the hosts a tfds download of `name` would use answers
    (tfds itself retries for minutes); behind a proxy, which a direct probe cannot judge, it lets
    tfds try."""
    hosts = TFDS_DOWNLOAD_HOSTS.get(name, ())
    if not hosts or any(os.environ.get(variable) for variable in PROXY_VARIABLES):
        return
    for host, port in hosts:
        try:
            socket.create_connection((host, port), timeout=PROBE_SECONDS).close()
            return
        except OSError:
            continue
    raise DataError(
        f"{name} ({tfds_name}) is not prepared in {data_dir} and this machine cannot reach "
        f"{' or '.join(host for host, _ in hosts)} to download it: {fix}"
    )


def _as_arrays(dataset: tf.data.Dataset):
    """(uint8 images, int64 labels) of a tfds split, in its stored order."""
    # not batch_size=-1: it aborts on mock data
    batches = list(dataset.batch(10000).as_numpy_iterator())
    images = np.concatenate([b[0] for b in batches]).astype(np.uint8)
    return images, np.concatenate([b[1] for b in batches]).astype(np.int64)


def _from_mirror():
    try:
        arrays = mnist_mirror.load_arrays()
    except mnist_mirror.MirrorError as error:
        raise DataError(str(error)) from error
    return tuple(arrays[key] for key in mnist_mirror.KEYS)


def read_idx(path: Path) -> np.ndarray:
    """Reads an IDX file (LeCun's MNIST format), gzipped or not, as a numpy array."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as stream:
        raw = stream.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataError(f"{path} is not an unsigned-byte IDX file")
    rank = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(rank))
    data = np.frombuffer(raw, np.uint8, offset=4 + 4 * rank)
    if data.size != int(np.prod(shape)):
        raise DataError(f"{path} is truncated: expected {shape}, found {data.size} values")
    return data.reshape(shape)


def _find_idx(directory: Path, stem: str) -> Path | None:
    for candidate in (directory / stem, directory / f"{stem}.gz"):
        if candidate.exists():
            return candidate
    return None


def _from_debian_fashion():
    stems = (
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
    )
    env_dir = os.environ.get("FASHION_MNIST_DIR")
    for directory in ([Path(env_dir)] if env_dir else []) + [Path(d) for d in DEBIAN_FASHION_DIRS]:
        paths = [_find_idx(directory, stem) for stem in stems]
        if all(paths):
            x_train, y_train, x_test, y_test = (read_idx(p) for p in paths)
            return (
                x_train[..., None],
                y_train.astype(np.int64),
                x_test[..., None],
                y_test.astype(np.int64),
            )
    raise DataError(
        "Fashion-MNIST IDX files not found: `apt-get install dataset-fashion-mnist` (Debian), "
        "set FASHION_MNIST_DIR, or use --source=tfds with a prepared tfds copy"
    )


def balanced_subset(
    labels: np.ndarray, size: int, *, seed: int, num_classes: int = 10
) -> np.ndarray:
    """Sorted indices of `size` examples, `size / num_classes` from each class, chosen by `seed`."""
    if size <= 0 or size % num_classes:
        raise DataError(
            f"labelled subset size {size} must be a positive multiple of {num_classes} classes"
        )
    per_class = size // num_classes
    rng = np.random.default_rng(seed)
    chosen = []
    for label in range(num_classes):
        members = np.flatnonzero(labels == label)
        if len(members) < per_class:
            raise DataError(
                f"class {label} has {len(members)} examples, fewer than {per_class} asked for"
            )
        chosen.append(rng.choice(members, per_class, replace=False))
    return np.sort(np.concatenate(chosen))


def left_right_halves(images):
    """Splits [N, H, W, C] images down the middle: (left [N, H, W/2, C], right [N, H, W/2, C])."""
    half = images.shape[2] // 2
    return images[:, :, :half], images[:, :, half:]


def preprocess(images: tf.Tensor, mode: str, seed: tf.Tensor | None = None) -> tf.Tensor:
    """uint8 images -> float32: `unit` [0, 1], `symmetric` [-1, 1] (GANs), `threshold` (> 0.5),
    `dynamic_binarize` (Bernoulli draws with the pixel intensity as probability; needs a [2]
    seed)."""
    _check_choice(mode, PREPROCESSING, "preprocessing")
    unit = tf.cast(images, tf.float32) / 255.0
    if mode == "symmetric":
        return unit * 2.0 - 1.0
    if mode == "threshold":
        return tf.cast(unit > 0.5, tf.float32)
    if mode == "dynamic_binarize":
        return tf.cast(tf.random.stateless_uniform(tf.shape(unit), seed=seed) < unit, tf.float32)
    return unit


def _check_batch_size(batch_size: int, split: Split, drop_remainder: bool) -> None:
    if (
        isinstance(batch_size, bool)
        or not isinstance(batch_size, (int, np.integer))
        or batch_size < 1
    ):
        raise DataError(f"batch size must be a whole number >= 1, not {batch_size!r}")
    if drop_remainder and batch_size > len(split):
        raise DataError(
            f"batch size {batch_size} is larger than the {len(split)} examples of the split: "
            "with drop_remainder no batch would be left"
        )


def steps_per_epoch(split: Split, batch_size: int, drop_remainder: bool = False) -> int:
    _check_batch_size(batch_size, split, drop_remainder)
    return len(split) // batch_size if drop_remainder else -(-len(split) // batch_size)


def pipeline(
    split: Split,
    *,
    batch_size: int,
    preprocessing: str = "unit",
    shuffle: bool = False,
    seed: int = 0,
    drop_remainder: bool = False,
) -> tf.data.Dataset:
    """(images, labels) batches. Without `shuffle`: one pass in order (evaluation). With `shuffle`:
    an endless stream of epochs (give `fit` `steps_per_epoch`), epoch e in the order of a stateless
    permutation keyed by (seed, e), each batch binarized with a key of (seed, e, batch). Every draw
    is a function of the seed alone, never of how often a dataset was iterated, so equal seeds give
    equal runs. The raw bytes stay in memory, which is what `.cache()` would give; batches are
    prefetched."""
    _check_choice(preprocessing, PREPROCESSING, "preprocessing")
    _check_batch_size(batch_size, split, drop_remainder)
    images, labels = tf.constant(split.images), tf.constant(split.labels.astype(np.int32))
    count = len(split)

    def epoch_batches(epoch):
        order = tf.range(count, dtype=tf.int64)
        if shuffle:
            order = tf.random.experimental.stateless_shuffle(order, seed=tf.stack([seed, epoch]))
        batches = tf.data.Dataset.from_tensor_slices(order).batch(
            batch_size, drop_remainder=drop_remainder
        )
        return batches.enumerate().map(lambda step, indices: (epoch, step, indices))

    def load_batch(epoch, step, indices):
        key = tf.stack([tf.cast(seed, tf.int64), epoch * 1_000_003 + step])
        return preprocess(tf.gather(images, indices), preprocessing, key), tf.gather(
            labels, indices
        )

    epochs = (
        tf.data.Dataset.counter()
        if shuffle
        else tf.data.Dataset.from_tensors(tf.constant(0, tf.int64))
    )
    dataset = epochs.flat_map(epoch_batches).map(
        load_batch, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
    )
    length = (
        tf.data.INFINITE_CARDINALITY
        if shuffle
        else steps_per_epoch(split, batch_size, drop_remainder)
    )
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(length))  # flat_map hides it
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    options.deterministic = True
    return dataset.with_options(options).prefetch(tf.data.AUTOTUNE)
