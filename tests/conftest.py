"""Test session set-up: a private data cache and evaluator folder (the user's cache and the suite's
committed evaluator are never touched) and two logical CPU devices, so that MirroredStrategy can be
tested on a machine without GPUs."""

import contextlib
import importlib
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("VAEGAN_TF_CACHE", tempfile.mkdtemp(prefix="vaegan_tf_test_cache_"))
# tests never read the suite's committed evaluator: a test that needs one trains or saves its own here
os.environ.setdefault(
    "VAEGAN_TF_EVALUATOR_DIR", tempfile.mkdtemp(prefix="vaegan_tf_test_evaluator_")
)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import flags  # noqa: E402

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


# -- what a study wrote: checked by content, not by a file's size --------------------------------


def drawn_png(path, min_side: int = 100) -> np.ndarray:
    """The RGB pixels [H, W, 3] of a PNG the suite drew, checked to be a picture: it decodes, has at
    least `min_side` pixels a side, and is not one flat colour (a blank or empty canvas)."""
    import matplotlib.image

    pixels = matplotlib.image.imread(path)[..., :3]
    assert pixels.ndim == 3 and min(pixels.shape[:2]) >= min_side, (path, pixels.shape)
    assert pixels.std() > 0.01, f"{path} is one flat colour"
    return pixels


def record_grids(monkeypatch) -> dict:
    """{file name: images array} of every grid `plots.image_grid` draws from now on (it still
    draws them): what a figure shows, to compare with what the model computes."""
    from pathlib import Path

    from vaegan_tf import plots

    drawn, draw = {}, plots.image_grid

    def spy(images, path, **kwargs):
        drawn[Path(path).name] = np.asarray(images)
        return draw(images, path, **kwargs)

    monkeypatch.setattr(plots, "image_grid", spy)
    return drawn


def assert_recorded_run(out, metrics: dict, epochs: int) -> None:
    """`studies.common.record_run`'s files in `out` hold this run: metrics.json is `metrics`, the
    environment and the training log have `epochs` epochs (and where the log has the negative
    ELBO's terms, each epoch's loss is their sum), and the loss curves are drawn."""
    import json

    from vaegan_tf import records

    assert records.read_json(out / "metrics.json") == json.loads(
        json.dumps(records.jsonable(metrics))
    )
    assert records.read_json(out / "environment.json")["epochs"] == epochs
    log = records.read_csv_log(out / "training_log.csv")
    np.testing.assert_array_equal(log["epoch"], np.arange(1, epochs + 1))
    for prefix in ("", "val_"):
        if {f"{prefix}loss", f"{prefix}reconstruction", f"{prefix}kl"} <= set(log):
            np.testing.assert_allclose(
                log[f"{prefix}loss"], log[f"{prefix}reconstruction"] + log[f"{prefix}kl"], rtol=1e-4
            )
    drawn_png(out / "loss_curves.png")


def negative_elbo_by_hand(posterior, probabilities, images) -> float:
    """Mean over `images` [N, H, W, C] of -log p(x | z) + KL(Q(z | x) || N(0, I)) in NumPy: the
    Bernoulli NLL of the images under the decoded `probabilities` (of z at the posterior mean) and
    the closed-form KL of the diagonal Gaussian `posterior` (Kingma & Welling, appendix B)."""
    mean, std = np.asarray(posterior.mean(), np.float64), np.asarray(posterior.stddev(), np.float64)
    p, x = np.asarray(probabilities, np.float64), np.asarray(images, np.float64)
    nll = -np.sum(x * np.log(p) + (1 - x) * np.log(1 - p), axis=(1, 2, 3))
    kl = 0.5 * np.sum(mean**2 + std**2 - np.log(std**2) - 1, axis=1)
    return float(np.mean(nll + kl))


def losses_on_a_fixed_batch(model, batch, steps: int, key: str = "loss") -> list[float]:
    """The `key` loss `model.train_step(batch)` reports at each of `steps` steps on the same batch,
    its trackers reset before each: every value is that step's own loss, taken before its update.
    With the model's noise fixed, a step that descends its loss makes the last below the first."""
    values = []
    for _ in range(steps):
        model.reset_metrics()
        values.append(float(model.train_step(batch)[key]))
    return values


@pytest.fixture
def experiment(monkeypatch):
    """Imports experiments/<name>.py into this process and removes the flags it defined afterwards,
    so that experiments defining the same flag (--epochs) can be tested one after the other."""
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "experiments"))
    importlib.import_module("common_flags")
    before, loaded = set(flags.FLAGS), []

    def load(name):
        sys.modules.pop(name, None)
        loaded.append(name)
        return importlib.import_module(name)

    yield load
    flags.FLAGS.unparse_flags()
    for name in set(flags.FLAGS) - before:
        delattr(flags.FLAGS, name)
    for name in loaded:
        sys.modules.pop(name, None)


@contextlib.contextmanager
def functions_run_eagerly():
    """Runs every `tf.function` eagerly inside the block. A study test trains each model for a step
    or two, where tracing the train, test and predict functions costs seconds and running them
    costs milliseconds; what such a test checks (wiring, artifacts, the README's numbers) does not
    depend on the compiled graph, which the models' own step tests cover."""
    tf.config.run_functions_eagerly(True)
    try:
        yield
    finally:
        tf.config.run_functions_eagerly(False)


@pytest.fixture
def eager_steps():
    """`functions_run_eagerly` for one test."""
    with functions_run_eagerly():
        yield
