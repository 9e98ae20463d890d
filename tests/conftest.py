"""Test session set-up: a private data cache and evaluator folder (the user's cache and the suite's
committed evaluator are never touched) and two logical CPU devices, so that MirroredStrategy can be
tested on a machine without GPUs."""

import os
import tempfile

os.environ.setdefault("VAEGAN_TF_CACHE", tempfile.mkdtemp(prefix="vaegan_tf_test_cache_"))
# tests never read the suite's committed evaluator: a test that needs one trains or saves its own here
os.environ.setdefault(
    "VAEGAN_TF_EVALUATOR_DIR", tempfile.mkdtemp(prefix="vaegan_tf_test_evaluator_")
)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

_cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(_cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

from vaegan_tf import data  # noqa: E402


def fake_splits(
    train=300, validation=100, test=200, shape=(28, 28, 1), seed=0
) -> data.DatasetSplits:
    """Random uint8 images with balanced labels, in the layout `data.load` returns."""
    rng = np.random.default_rng(seed)

    def split(count):
        return data.Split(
            rng.integers(0, 256, (count, *shape), dtype=np.uint8), np.arange(count) % 10
        )

    return data.DatasetSplits(
        "fake", split(train), split(validation) if validation else None, split(test), 10, "fake"
    )


@pytest.fixture
def splits():
    return fake_splits()


@pytest.fixture(autouse=True)
def _forget_the_entry_point_command():
    """An experiment's entry point records its command for the whole process (`records.COMMAND`);
    tests run many entry points in one process, so each test starts without the last one's."""
    from vaegan_tf import records

    yield
    records.COMMAND = None
