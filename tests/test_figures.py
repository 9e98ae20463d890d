import json

import numpy as np

from vaegan_tf import data
from vaegan_tf.models.cvae import CVAEConfig
from vaegan_tf.studies import figure6
from vaegan_tf.studies.common import RunSettings


def test_figure6_study_writes_figure_and_metrics(tmp_path, splits):
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
    for name in (
        "figure6.png",
        "loss_curves.png",
        "training_log.csv",
        "metrics.json",
        "config.json",
        "environment.json",
        "README.md",
    ):
        assert (out / name).stat().st_size > 0, name
    assert np.isfinite(metrics["test_negative_elbo"]) and metrics["sample_quality"].startswith(
        "skipped"
    )
    assert json.loads((out / "config.json").read_text())["model"]["architecture"] == "fc"


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
    return figure8_9.run(config, splits), tmp_path / "results" / f"app_{condition}"


def test_completion_study_measures_right_half_error(tmp_path, splits):
    metrics, out = run_application(tmp_path, splits, "left_half")
    assert (out / "figure8.png").stat().st_size > 0
    assert f"{metrics['right_half_mse_cvae']:.4f}" in (out / "README.md").read_text()
    assert 0 < metrics["right_half_mse_cvae"] < 1 and 0 < metrics["right_half_mse_mean_image"] < 1


def test_style_transfer_decodes_each_code_with_every_label(tmp_path, splits):
    from vaegan_tf.models.cvae import build_cvae
    from vaegan_tf.studies import figure8_9

    metrics, out = run_application(tmp_path, splits, "label")
    assert (out / "figure9.png").stat().st_size > 0 and metrics[
        "style_transfer_accuracy"
    ].startswith("skipped")
    assert "skipped" in (out / "README.md").read_text()
    model = build_cvae(CVAEConfig(architecture="fc", fc_hidden_units=(8,), latent_dim=2))
    images = splits.test.images[:3] / 255.0
    transferred = figure8_9.transfer_styles(model, images, splits.test.labels[:3], 10)
    assert transferred.shape == (3, 10, 28, 28, 1)
    assert not np.allclose(transferred[:, 0], transferred[:, 1])  # the label changes the image


def test_figure7_compares_cvae_gan_with_the_figure6_cvae_per_digit(tmp_path, splits):
    from vaegan_tf import evaluate
    from vaegan_tf.studies import figure7, figure7_report

    run = RunSettings(
        results_root=str(tmp_path / "results"), work_root=str(tmp_path / "work"), steps_per_epoch=1
    )
    tiny = CVAEConfig(architecture="fc", fc_hidden_units=(8,), latent_dim=2)
    cvae = figure6.Figure6Config(model=tiny, epochs=1, run=run, require_evaluator=False)
    figure6.run(cvae, splits)  # the CVAE figure 7 must load, not retrain
    config = figure7.Figure7Config(cvae=cvae, epochs=1, run=run, samples_per_class=12)
    untrained = evaluate.Evaluator(evaluate.build_classifier())
    metrics = figure7.run(config, splits, evaluator=untrained)
    assert metrics["cvae_training"]["loaded_from_finished_run"]
    out = tmp_path / "results" / "figure7"
    for name in (
        "figure7.png",
        "side_by_side.png",
        "table.md",
        "table.csv",
        "per_digit.csv",
        "README.md",
    ):
        assert (out / name).stat().st_size > 0, name
    quality = metrics["sample_quality"]
    assert [
        len(quality[name]["per_class"]) for name in ("CVAE", "CVAE-GAN", "real training images")
    ] == [10] * 3
    # both models decode the same 12 codes of each digit; the real row is as many training images
    assert [quality[name]["count"] for name in ("CVAE", "CVAE-GAN", "real training images")] == [
        120
    ] * 3
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


def test_an_unknown_cvae_gan_preset_is_refused():
    import pytest

    from vaegan_tf.studies import figure7

    with pytest.raises(ValueError, match="unknown CVAE-GAN preset"):
        figure7.Figure7Config(preset="nope")
