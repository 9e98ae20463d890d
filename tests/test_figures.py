import csv
import dataclasses

import numpy as np
import pytest
import tensorflow as tf
from conftest import assert_recorded_run, drawn_png, negative_elbo_by_hand, record_grids

from vaegan_tf import data, evaluate, records
from vaegan_tf.models import cvae
from vaegan_tf.models.cvae import CVAEConfig
from vaegan_tf.studies import figure6
from vaegan_tf.studies.common import RunSettings


def without_posterior_noise(monkeypatch):
    """Every CVAE draws z = 0 (in training, sampling and completing): what a study then draws and
    measures is what its trained model decodes from z = 0, which a test can compute by hand."""
    monkeypatch.setattr(cvae.CVAE, "draw_noise", lambda self, shape: tf.zeros(shape))


@pytest.mark.usefixtures("eager_steps")
def test_figure6_study_draws_and_measures_its_trained_cvae(tmp_path, splits, monkeypatch):
    without_posterior_noise(monkeypatch)
    drawn = record_grids(monkeypatch)
    config = figure6.Figure6Config(
        model=CVAEConfig(architecture="fc", fc_hidden_units=(16,), latent_dim=2),
        epochs=1,
        samples_per_class=5,
        run=RunSettings(
            results_root=str(tmp_path / "results"),
            work_root=str(tmp_path / "work"),
            steps_per_epoch=2,
        ),
        require_evaluator=False,
    )
    metrics = figure6.run(config, splits)
    out = tmp_path / "results" / "figure6"
    assert_recorded_run(out, metrics, epochs=1)
    assert records.read_json(out / "config.json")["model"]["architecture"] == "fc"
    model = figure6.train_cvae(config, splits).model  # the finished run, loaded
    # row d holds ten samples of digit d: with z = 0, ten copies of the decoding of d
    by_digit = np.asarray(model.decode(np.zeros((10, 2), np.float32), np.arange(10)))
    assert drawn["figure6.png"].shape == (10, 10, 28, 28, 1)
    np.testing.assert_allclose(
        drawn["figure6.png"], np.repeat(by_digit[:, None], 10, axis=1), rtol=1e-5, atol=1e-6
    )
    drawn_png(out / "figure6.png")
    # the held-out negative ELBO is the trained model's on the test images
    test, labels = splits.test.images / 255.0, splits.test.labels
    posterior = model.posterior(tf.constant(test, tf.float32), labels, training=False)
    decoded = model.decode(posterior.mean(), labels)
    expected = negative_elbo_by_hand(posterior, decoded, test)
    assert metrics["test_negative_elbo"] == pytest.approx(expected, rel=1e-4)
    assert f"{metrics['test_negative_elbo']:.2f} nats" in (out / "README.md").read_text()
    assert metrics["sample_quality"].startswith("skipped")


def test_svhn_panel_widens_the_networks(splits):
    svhn_like = data.DatasetSplits(
        "svhn",
        data.Split(np.zeros((4, 32, 32, 3), np.uint8), np.arange(4)),
        None,
        splits.test,
        10,
        "fake",
    )
    model = figure6.model_config_for(figure6.Figure6Config(), svhn_like)
    assert model.image_shape == (32, 32, 3) and model.width_scale == 8 / 7


def test_flat_left_half_is_the_left_columns():
    import tensorflow as tf

    from vaegan_tf.studies import figure8_9

    images = np.arange(2 * 4 * 4).reshape(2, 4, 4, 1).astype(np.float32)
    flat = figure8_9.flat_left_half(tf.constant(images)).numpy()
    np.testing.assert_array_equal(flat, images[:, :, :2].reshape(2, 8))


def run_application(tmp_path, splits, condition):
    from vaegan_tf.studies import figure8_9

    config = figure8_9.ApplicationConfig(
        name=f"app_{condition}",
        condition=condition,
        model=CVAEConfig(architecture="fc", fc_hidden_units=(16,), latent_dim=2),
        epochs=1,
        require_evaluator=False,
        run=RunSettings(
            results_root=str(tmp_path / "results"),
            work_root=str(tmp_path / "work"),
            steps_per_epoch=2,
        ),
    )
    metrics = figure8_9.run(config, splits)
    out = tmp_path / "results" / f"app_{condition}"
    assert_recorded_run(out, metrics, epochs=1)
    log = records.read_csv_log(out / "training_log.csv")
    assert metrics["validation_negative_elbo"] == pytest.approx(log["val_loss"][-1])
    return metrics, out, figure8_9.train_fc_cvae(config, splits).model  # the finished run, loaded


@pytest.mark.usefixtures("eager_steps")
def test_completion_study_measures_right_half_error(tmp_path, splits, monkeypatch):
    """With z = 0 a completion is the decoding of the left half: the CVAE's error is that of its
    own completions, and the baseline's that of the training images' mean right half, both by
    hand over every test image."""
    without_posterior_noise(monkeypatch)
    drawn = record_grids(monkeypatch)
    metrics, out, model = run_application(tmp_path, splits, "left_half")
    test = splits.test.images / 255.0
    left, right = test[:, :, :14], test[:, :, 14:]
    completed = np.asarray(
        model.decode(np.zeros((len(test), 2), np.float32), left.reshape(len(test), 28 * 14))
    )
    assert metrics["right_half_mse_cvae"] == pytest.approx(
        np.mean((completed[:, :, 14:] - right) ** 2), rel=1e-5
    )
    mean_right = (splits.train.images[:, :, 14:] / 255.0).mean(0)
    assert metrics["right_half_mse_mean_image"] == pytest.approx(
        np.mean((mean_right - right) ** 2), rel=1e-6
    )
    readme = (out / "README.md").read_text()
    for key in ("right_half_mse_cvae", "right_half_mse_mean_image"):
        assert f"| {metrics[key]:.4f} |" in readme, key
    # Figure 8: the test image, its left half alone, three completions of it
    grid = drawn["figure8.png"]
    assert grid.shape == (10, 5, 28, 28, 1)
    np.testing.assert_allclose(grid[:, 0], test[:10], rtol=1e-6)
    np.testing.assert_allclose(grid[:, 1, :, :14], left[:10], rtol=1e-6)
    assert not grid[:, 1, :, 14:].any()
    for column in (2, 3, 4):
        np.testing.assert_allclose(grid[:, column], completed[:10], rtol=1e-5, atol=1e-6)
    drawn_png(out / "figure8.png")


@pytest.mark.usefixtures("eager_steps")
def test_style_transfer_decodes_each_code_with_every_label(tmp_path, splits, monkeypatch):
    from vaegan_tf.models.cvae import build_cvae
    from vaegan_tf.studies import figure8_9

    drawn = record_grids(monkeypatch)
    metrics, out, model = run_application(tmp_path, splits, "label")
    assert metrics["style_transfer_accuracy"].startswith("skipped")
    assert "skipped" in (out / "README.md").read_text()
    # Figure 9: each test image, then its posterior-mean code decoded as every digit in turn
    images, labels = splits.test.images[:10] / 255.0, splits.test.labels[:10]
    codes = model.encode_mean(tf.constant(images, tf.float32), labels)
    grid = drawn["figure9.png"]
    assert grid.shape == (10, 11, 28, 28, 1)
    np.testing.assert_allclose(grid[:, 0], images, rtol=1e-6)
    for digit in range(10):
        as_digit = np.asarray(model.decode(codes, np.full(10, digit)))
        np.testing.assert_allclose(grid[:, 1 + digit], as_digit, rtol=1e-5, atol=1e-6)
    drawn_png(out / "figure9.png")
    untrained = build_cvae(CVAEConfig(architecture="fc", fc_hidden_units=(8,), latent_dim=2))
    transferred = figure8_9.transfer_styles(untrained, images[:3], splits.test.labels[:3], 10)
    assert transferred.shape == (3, 10, 28, 28, 1)
    assert not np.allclose(transferred[:, 0], transferred[:, 1])  # the label changes the image


@pytest.mark.usefixtures("eager_steps")
def test_figure7_compares_cvae_gan_with_the_figure6_cvae_per_digit(tmp_path, splits, monkeypatch):
    from vaegan_tf.studies import figure7, figure7_report

    drawn = record_grids(monkeypatch)
    # the preset's own CVAE-GAN with a small discriminator: the full one (a stride-1 conv3 into
    # FC-512, 26M weights) costs most of this test in its backups and changes nothing it checks
    preset = figure7.PRESETS[figure7.DEFAULT_PRESET]
    small = dataclasses.replace(preset.discriminator, filters=(4,), stride=2, units=(8, 8))
    monkeypatch.setitem(
        figure7.PRESETS, figure7.DEFAULT_PRESET, dataclasses.replace(preset, discriminator=small)
    )
    run = RunSettings(
        results_root=str(tmp_path / "results"), work_root=str(tmp_path / "work"), steps_per_epoch=1
    )
    tiny = CVAEConfig(architecture="fc", fc_hidden_units=(8,), latent_dim=2)
    cvae_config = figure6.Figure6Config(model=tiny, epochs=1, run=run, require_evaluator=False)
    figure6.run(cvae_config, splits)  # the CVAE figure 7 must load, not retrain
    config = figure7.Figure7Config(cvae=cvae_config, epochs=1, run=run, samples_per_class=12)
    untrained = evaluate.Evaluator(evaluate.build_classifier())
    metrics = figure7.run(config, splits, evaluator=untrained)
    assert metrics["cvae_training"]["loaded_from_finished_run"]
    out = tmp_path / "results" / "figure7"
    assert_recorded_run(out, metrics, epochs=1)
    models = {
        "CVAE": figure6.train_cvae(cvae_config, splits).model,
        "CVAE-GAN": figure7.train_cvae_gan(config, splits).model.cvae,
    }
    # both grids decode the same codes and digits (rows); side by side, a white column between
    labels = np.repeat(np.arange(10), 10)
    z = evaluate.shared_codes(100, 2, config.seed)
    grids = {
        name: np.asarray(model.decode(z, labels)).reshape(10, 10, 28, 28, 1)
        for name, model in models.items()
    }
    np.testing.assert_allclose(drawn["figure7.png"], grids["CVAE-GAN"], rtol=1e-5, atol=1e-6)
    side_by_side = drawn["side_by_side.png"]
    assert side_by_side.shape == (10, 21, 28, 28, 1) and (side_by_side[:, 10] == 1).all()
    np.testing.assert_allclose(side_by_side[:, :10], grids["CVAE"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(side_by_side[:, 11:], grids["CVAE-GAN"], rtol=1e-5, atol=1e-6)
    for name in ("figure7.png", "side_by_side.png"):
        drawn_png(out / name)
    # each model's test reconstruction error, by hand from its posterior-mean reconstructions
    test = splits.test.images / 255.0
    mse = metrics["test_reconstruction_mse"]
    for name, model in models.items():
        rebuilt = np.asarray(model.reconstruct(tf.constant(test, tf.float32), splits.test.labels))
        assert mse[name] == pytest.approx(np.mean((rebuilt - test) ** 2), rel=1e-5), name
    quality = metrics["sample_quality"]
    assert [
        len(quality[name]["per_class"]) for name in ("CVAE", "CVAE-GAN", "real training images")
    ] == [10] * 3
    # both models decode the same 12 codes of each digit; the real row is as many training images
    assert [quality[name]["count"] for name in ("CVAE", "CVAE-GAN", "real training images")] == [
        120
    ] * 3
    # the tables hold these numbers: one row per image source, one per digit
    with open(out / "table.csv", newline="") as stream:
        table = {row["images"]: row for row in csv.DictReader(stream)}
    assert list(table) == ["CVAE", "CVAE-GAN", "real training images"]
    for name, row in table.items():
        assert row["Frechet distance"] == f"{quality[name]['frechet_distance']:.3f}", name
        assert row["test reconstruction MSE"] == (f"{mse[name]:.4f}" if name in mse else "")
    assert (out / "table.md").read_text().count("\n") == 2 + 3  # header, rule, three rows
    with open(out / "per_digit.csv", newline="") as stream:
        per_digit = list(csv.DictReader(stream))
    assert [row["digit"] for row in per_digit] == [str(d) for d in range(10)]
    for digit, row in enumerate(per_digit):
        for name, column in (("CVAE", "FD CVAE"), ("CVAE-GAN", "FD CVAE-GAN")):
            fd = quality[name]["per_class"][digit]["frechet_distance"]
            assert row[column] == f"{fd:.2f}", (digit, column)
    readme = (out / "README.md").read_text()
    assert (
        "Digit 2" in readme and "`make figure7` at commit" in readme
    )  # the default preset: authors_code
    config_file = out / "config.json"
    config_file.write_text(
        config_file.read_text().replace('"preset": "authors_code"', '"preset": "paper"')
    )
    assert (
        "`make figure7 ARGS='--preset=paper'` at commit"
        in figure7_report.write_readme(out).read_text()
    )


def test_collapse_verdict_flags_a_digit_whose_samples_all_look_alike():
    from vaegan_tf.studies import figure7_report

    rows = [{"diversity_ratio": 0.9, "frechet_distance": 5.0} for _ in range(10)]
    assert "does not collapse, and no digit does" in figure7_report.collapse_verdict(rows, "M")
    rows[2] = {"diversity_ratio": 0.3, "frechet_distance": 40.0}
    assert "digit 2 collapses" in figure7_report.collapse_verdict(rows, "M")
    rows[2] = dict(rows[0])
    rows[1] = {"diversity_ratio": 0.3, "frechet_distance": 40.0}
    assert "does not collapse, and digit 1 does." in figure7_report.collapse_verdict(rows, "M")
    rows[7] = rows[1]
    assert "and digits 1 and 7 do." in figure7_report.collapse_verdict(rows, "M")


def test_an_unknown_cvae_gan_preset_is_refused():
    import pytest

    from vaegan_tf.studies import figure7

    with pytest.raises(ValueError, match="unknown CVAE-GAN preset"):
        figure7.Figure7Config(preset="nope")
