"""The SVHN panels of Figures 6 and 7 (Chen, Fang, Ju 2016, Secs. 4.2-4.3) through tfds: the data
(a fake `svhn_cropped` served by `tfds.testing.mock_data`), the 8/7-wider networks on 32x32x3, the
grids, the READMEs that say the MNIST evaluator does not score them, the entry points' wiring, and
the one-line failure on a machine that cannot download SVHN."""

import contextlib
import json
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from conftest import (
    drawn_png,
    fake_splits,
    functions_run_eagerly,
    negative_elbo_by_hand,
    record_grids,
)

from vaegan_tf import data, evaluate
from vaegan_tf.models import cvae, cvae_gan
from vaegan_tf.studies import figure6, figure7
from vaegan_tf.studies.common import RunSettings

SVHN_SHAPE = (32, 32, 3)
# what data.load holds out for validation, plus 40 images to train on; 40 test images
FAKE_SVHN = fake_splits(
    train=data.TF1_VALIDATION_SIZE + 40, validation=0, test=40, shape=SVHN_SHAPE, seed=7
)


@contextlib.contextmanager
def mock_svhn():
    """tfds serves FAKE_SVHN as `svhn_cropped` (mock_data's own random examples take ~10 s to make
    for the 5,000 images the validation split needs)."""

    def as_dataset(self, split, decoders=None, read_config=None, **kwargs):
        chosen = {"train": FAKE_SVHN.train, "test": FAKE_SVHN.test}[split]
        return tf.data.Dataset.from_tensor_slices({"image": chosen.images, "label": chosen.labels})

    with tfds.testing.mock_data(as_dataset_fn=as_dataset):
        yield


@pytest.fixture(scope="module")
def svhn_figure6(tmp_path_factory):
    """`figure6.run` on the fake SVHN through tfds: two steps of batch 10."""
    root = tmp_path_factory.mktemp("svhn")
    run = RunSettings(
        results_root=str(root / "results"),
        work_root=str(root / "work"),
        steps_per_epoch=2,
        evaluation_images=20,
    )
    config = figure6.Figure6Config(
        name=figure6.results_name("svhn"),
        dataset="svhn",
        epochs=1,
        batch_size=10,
        run=run,
        # the evaluator folder of the tests is empty: the SVHN panel must never ask for it
        require_evaluator=True,
    )
    with mock_svhn(), pytest.MonkeyPatch.context() as patch, functions_run_eagerly():
        drawn = record_grids(patch)
        # z = 0 in training and sampling: each row of the figure is then one decoding, by hand
        patch.setattr(cvae.CVAE, "draw_noise", lambda self, shape: tf.zeros(shape))
        metrics = figure6.run(config)
        splits = run.load("svhn")
    return {"config": config, "metrics": metrics, "drawn": drawn, "splits": splits}


@pytest.fixture(scope="module")
def svhn_figure7(svhn_figure6):
    """`figure7.run` beside it (the `paper` preset's stride-2 discriminator, for time; the default
    preset's SVHN networks are built in a test of their own), two steps of batch 10."""
    cvae = svhn_figure6["config"]
    config = figure7.Figure7Config(
        name=figure7.results_name("paper", "svhn"),
        preset="paper",
        cvae=cvae,
        epochs=1,
        batch_size=10,
        run=cvae.run,
        samples_per_class=2,
        require_evaluator=True,
    )
    with mock_svhn(), pytest.MonkeyPatch.context() as patch, functions_run_eagerly():
        drawn = record_grids(patch)
        metrics = figure7.run(config)
    return {"config": config, "metrics": metrics, "drawn": drawn}


def results(config, name):
    return Path(config.run.results_root) / name


def test_figure6_svhn_draws_ten_rgb_samples_per_digit_and_says_they_are_unscored(svhn_figure6):
    out = results(svhn_figure6["config"], "figure6_svhn")
    # ten rows of digits, ten 32x32x3 samples each
    grid = svhn_figure6["drawn"]["figure6.png"]
    assert grid.shape == (10, 10, *SVHN_SHAPE)
    drawn_png(out / "figure6.png")
    model = figure6.train_cvae(svhn_figure6["config"], svhn_figure6["splits"]).model  # loaded
    by_digit = np.asarray(model.decode(np.zeros((10, model.latent_dim), np.float32), np.arange(10)))
    np.testing.assert_allclose(grid, np.repeat(by_digit[:, None], 10, axis=1), atol=1e-6)
    config = json.loads((out / "config.json").read_text())
    assert config["dataset"] == "svhn"
    assert tuple(config["model"]["image_shape"]) == SVHN_SHAPE
    assert config["model"]["width_scale"] == pytest.approx(8 / 7)
    metrics = svhn_figure6["metrics"]
    # the held-out negative ELBO: Bernoulli per RGB channel value, at z = the posterior mean
    test, labels = svhn_figure6["splits"].test.images / 255.0, svhn_figure6["splits"].test.labels
    posterior = model.posterior(tf.constant(test, tf.float32), labels, training=False)
    expected = negative_elbo_by_hand(posterior, model.decode(posterior.mean(), labels), test)
    assert metrics["test_negative_elbo"] == pytest.approx(expected, rel=1e-4)
    assert metrics["sample_quality"] == figure6.SKIPPED_NOT_MNIST
    readme = (out / "README.md").read_text()
    assert "**SVHN panel** (`make figure6 ARGS=--dataset=svhn`)" in readme
    assert "svhn_cropped" in readme and "connected machine" in readme
    assert "MNIST classifier and does not score these samples" in readme
    assert "conditional accuracy" not in readme.lower()  # no table the evaluator did not make


def test_svhn_cvae_samples_rgb_images_that_depend_on_the_digit(svhn_figure6):
    """The trained (reused) Figure 6 SVHN CVAE: sample() gives [n, 32, 32, 3] Bernoulli means, and the
    label asked for changes the image."""
    splits = svhn_figure6["splits"]
    assert splits.image_shape == SVHN_SHAPE and len(splits.train) == 40
    assert len(splits.validation) == 20 and len(splits.test) == 20  # evaluation_images
    np.testing.assert_array_equal(
        splits.validation.images, FAKE_SVHN.train.images[:20]
    )  # validation: the head of tfds' train split
    np.testing.assert_array_equal(splits.train.images, FAKE_SVHN.train.images[-40:])
    model = figure6.train_cvae(svhn_figure6["config"], splits).model
    assert model.config.image_shape == SVHN_SHAPE and model.config.width_scale == 8 / 7
    samples = np.asarray(model.sample(6, np.arange(6)))
    assert samples.shape == (6, *SVHN_SHAPE)
    assert samples.min() >= 0 and samples.max() <= 1
    z = np.zeros((2, model.latent_dim), np.float32)
    zero, nine = np.asarray(model.decode(z, np.array([0, 9])))
    assert np.abs(zero - nine).max() > 1e-4


def test_figure7_svhn_compares_both_models_on_rgb_grids_without_the_evaluator(
    svhn_figure6, svhn_figure7
):
    out = results(svhn_figure7["config"], "figure7_svhn_paper")
    splits, config = svhn_figure6["splits"], svhn_figure7["config"]
    models = {  # both finished runs, loaded
        "CVAE": figure6.train_cvae(config.cvae, splits).model,
        "CVAE-GAN": figure7.train_cvae_gan(config, splits).model.cvae,
    }
    # CVAE | blank column | CVAE-GAN, the same z and y: ten decodings of each digit (rows)
    labels = np.repeat(np.arange(10), 10)
    z = evaluate.shared_codes(100, models["CVAE"].latent_dim, config.seed)
    grids = {
        name: np.asarray(model.decode(z, labels)).reshape(10, 10, *SVHN_SHAPE)
        for name, model in models.items()
    }
    drawn = svhn_figure7["drawn"]
    np.testing.assert_allclose(drawn["figure7.png"], grids["CVAE-GAN"], rtol=1e-5, atol=1e-6)
    side_by_side = drawn["side_by_side.png"]
    assert side_by_side.shape == (10, 21, *SVHN_SHAPE) and (side_by_side[:, 10] == 1).all()
    np.testing.assert_allclose(side_by_side[:, :10], grids["CVAE"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(side_by_side[:, 11:], grids["CVAE-GAN"], rtol=1e-5, atol=1e-6)
    metrics = svhn_figure7["metrics"]
    assert metrics["cvae_training"]["loaded_from_finished_run"]  # make figure6's SVHN run
    assert metrics["sample_quality"] == figure6.SKIPPED_NOT_MNIST
    test = splits.test.images / 255.0
    for name, model in models.items():  # posterior-mean reconstructions of the test images
        rebuilt = np.asarray(model.reconstruct(tf.constant(test, tf.float32), splits.test.labels))
        expected = np.mean((rebuilt - test) ** 2)
        assert metrics["test_reconstruction_mse"][name] == pytest.approx(expected, rel=1e-5)
    model = json.loads((out / "config.json").read_text())["model"]
    # Sec. 4.3's discriminator, 8/7 wider (conv3-16-32-64, FC-512, FC-500), k + 1 outputs unchanged
    assert model["discriminator"]["filters"] == [18, 37, 73]
    assert model["discriminator"]["units"] == [585, 571]
    assert tuple(model["cvae"]["image_shape"]) == SVHN_SHAPE
    readme = (out / "README.md").read_text()
    assert "**SVHN panel** (`make figure7 ARGS='--preset=paper --dataset=svhn'`)" in readme
    assert "MNIST classifier and does not score these samples" in readme
    assert "loaded from `make figure6 ARGS=--dataset=svhn`'s finished run" in readme
    assert "| images |" not in readme  # no table the evaluator did not make
    mse = metrics["test_reconstruction_mse"]
    assert f"CVAE {mse['CVAE']:.4f}, CVAE-GAN {mse['CVAE-GAN']:.4f}" in readme


def test_default_svhn_cvae_gan_samples_and_judges_32x32x3_images():
    """The default preset's SVHN CVAE-GAN (the authors' stride-1 discriminator, widened)."""
    config = figure7.Figure7Config(cvae=figure6.Figure6Config(dataset="svhn"))
    svhn = fake_splits(train=20, validation=10, test=10, shape=SVHN_SHAPE)
    model_config = figure7.model_config_for(config, svhn)
    assert model_config.discriminator.stride == 1
    assert model_config.discriminator.filters == (18, 37, 73)
    model = cvae_gan.build_cvae_gan(model_config)
    samples = np.asarray(model.sample(4, np.arange(4)))
    assert samples.shape == (4, *SVHN_SHAPE) and samples.min() >= 0 and samples.max() <= 1
    logits, features = model.discriminator(samples)
    assert logits.shape == (4, 11) and features.shape == (4, 571)
    # the MNIST panel's CVAE-GAN stays Sec. 4.3's unwidened one
    mnist = figure7.model_config_for(config, fake_splits(train=20, validation=10, test=10))
    assert mnist.discriminator.filters == (16, 32, 64) and mnist.cvae.image_shape == (28, 28, 1)


@pytest.mark.parametrize(
    "module, argv, name, cvae_name",
    [
        ("figure6", ["--dataset=svhn"], "figure6_svhn", None),
        ("figure6", ["--dataset=svhn", "--smoke"], "figure6_svhn_smoke", None),
        ("figure7", ["--dataset=svhn"], "figure7_svhn", "figure6_svhn"),
        ("figure7", ["--dataset=svhn", "--smoke"], "figure7_svhn_smoke", "figure6_svhn_smoke"),
        ("figure7", ["--dataset=svhn", "--preset=paper"], "figure7_svhn_paper", "figure6_svhn"),
    ],
)
def test_entry_points_run_the_svhn_panel_without_the_evaluator(
    experiment,
    monkeypatch,
    tmp_path,
    module,
    argv,
    name,
    cvae_name,
):
    """The flags reach the study: the SVHN results folder, the SVHN CVAE that figure 7 loads, and no
    demand for the (MNIST) evaluator, which the tests' empty evaluator folder would refuse."""
    entry = experiment(module)
    study = figure6 if module == "figure6" else figure7
    ran = []
    monkeypatch.setattr(study, "run", lambda config: ran.append(config) or {})
    where = [f"--results_root={tmp_path / 'results'}", f"--work_root={tmp_path / 'work'}"]
    entry.FLAGS([f"{module}.py", *argv, *where])
    entry.main([])
    (config,) = ran
    assert config.name == name and config.dataset == "svhn" and not config.require_evaluator
    if cvae_name:
        assert config.cvae.name == cvae_name


def unreachable_svhn(monkeypatch):
    """No prepared SVHN and no network: the download hosts do not resolve, and tfds must not try."""
    monkeypatch.setitem(data.TFDS_DOWNLOAD_HOSTS, "svhn", (("svhn-mirror.invalid", 80),))
    for variable in data.PROXY_VARIABLES:
        monkeypatch.delenv(variable, raising=False)

    def download_and_prepare(self, *args, **kwargs):
        raise AssertionError("tfds was asked to download without a network")

    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", download_and_prepare)


def test_missing_svhn_fails_at_once_naming_the_fix(monkeypatch, tmp_path):
    unreachable_svhn(monkeypatch)
    started = time.perf_counter()
    with pytest.raises(data.DataError) as missing:
        data.load("svhn", data_dir=str(tmp_path / "tfds"))
    assert time.perf_counter() - started < 20  # not tfds' minutes of retries
    message = str(missing.value)
    assert "not prepared" in message and "svhn-mirror.invalid" in message
    assert "tfds build svhn_cropped --data_dir=DIR" in message and "--data_dir=DIR" in message


def test_svhn_too_small_to_hold_out_validation_is_refused():
    """The first 5,000 training images validate: a smaller train split would leave nothing to
    train on, which must be said, not trained on empty."""
    with tfds.testing.mock_data(num_examples=30), pytest.raises(data.DataError, match="too few"):
        data.load("svhn")


def test_make_figure7_svhn_without_the_data_prints_one_line(
    experiment,
    monkeypatch,
    tmp_path,
    capsys,
):
    import common_flags

    entry = experiment("figure7")
    unreachable_svhn(monkeypatch)
    monkeypatch.delenv("VAEGAN_TF_DEBUG", raising=False)
    monkeypatch.setattr(
        sys,
        "argv",
        [
            "figure7.py",
            "--dataset=svhn",
            f"--data_dir={tmp_path / 'tfds'}",
            f"--results_root={tmp_path / 'results'}",
            f"--work_root={tmp_path / 'work'}",
        ],
    )
    with pytest.raises(SystemExit) as stopped:
        common_flags.run(entry.main)
    printed = capsys.readouterr().err
    assert stopped.value.code == 1 and "Traceback" not in printed
    assert printed.count("\n") == 1 and printed.startswith("error: svhn (svhn_cropped)")
    assert "tfds build svhn_cropped" in printed
    assert not (tmp_path / "results").exists()  # failed before anything was trained or written
