import json

import numpy as np

from vaegan_tf import data
from vaegan_tf.models.cvae import CVAEConfig
from vaegan_tf.studies import cvae_figures
from vaegan_tf.studies.common import RunSettings


def test_figure6_study_writes_figure_and_metrics(tmp_path, splits):
    config = cvae_figures.Figure6Config(
        model=CVAEConfig(architecture="fc", fc_hidden_units=(16,), latent_dim=2), epochs=1, samples_per_class=5,
        run=RunSettings(results_root=str(tmp_path / "results"), work_root=str(tmp_path / "work"), steps_per_epoch=2),
        require_evaluator=False)
    metrics = cvae_figures.run_figure6(config, splits)
    out = tmp_path / "results" / "figure6"
    for name in ("figure6.png", "loss_curves.png", "training_log.csv", "metrics.json", "config.json",
                 "environment.json", "README.md"):
        assert (out / name).stat().st_size > 0, name
    assert np.isfinite(metrics["test_negative_elbo"]) and metrics["sample_quality"].startswith("skipped")
    assert json.loads((out / "config.json").read_text())["model"]["architecture"] == "fc"


def test_svhn_panel_widens_the_networks(splits):
    svhn_like = data.DatasetSplits("svhn", data.Split(np.zeros((4, 32, 32, 3), np.uint8), np.arange(4)), None,
                                   splits.test, 10, "fake")
    model = cvae_figures.model_config_for(cvae_figures.Figure6Config(), svhn_like)
    assert model.image_shape == (32, 32, 3) and model.width_scale == 8 / 7


def test_flat_left_half_is_the_left_columns():
    import tensorflow as tf

    from vaegan_tf.studies import cvae_applications

    images = np.arange(2 * 4 * 4).reshape(2, 4, 4, 1).astype(np.float32)
    flat = cvae_applications.flat_left_half(tf.constant(images)).numpy()
    np.testing.assert_array_equal(flat, images[:, :, :2].reshape(2, 8))


def run_application(tmp_path, splits, condition):
    from vaegan_tf.studies import cvae_applications

    config = cvae_applications.ApplicationConfig(
        name=f"app_{condition}", condition=condition,
        model=CVAEConfig(architecture="fc", fc_hidden_units=(16,), latent_dim=2), epochs=1, require_evaluator=False,
        run=RunSettings(results_root=str(tmp_path / "results"), work_root=str(tmp_path / "work"), steps_per_epoch=2))
    return cvae_applications.run_application(config, splits), tmp_path / "results" / f"app_{condition}"


def test_completion_study_measures_right_half_error(tmp_path, splits):
    metrics, out = run_application(tmp_path, splits, "left_half")
    assert (out / "figure8.png").stat().st_size > 0
    assert f"{metrics['right_half_mse_cvae']:.4f}" in (out / "README.md").read_text()
    assert 0 < metrics["right_half_mse_cvae"] < 1 and 0 < metrics["right_half_mse_mean_image"] < 1


def test_style_transfer_decodes_each_code_with_every_label(tmp_path, splits):
    from vaegan_tf.models.cvae import build_cvae
    from vaegan_tf.studies import cvae_applications

    metrics, out = run_application(tmp_path, splits, "label")
    assert (out / "figure9.png").stat().st_size > 0 and metrics["style_transfer_accuracy"].startswith("skipped")
    assert "skipped" in (out / "README.md").read_text()
    model = build_cvae(CVAEConfig(architecture="fc", fc_hidden_units=(8,), latent_dim=2))
    images = splits.test.images[:3] / 255.0
    transferred = cvae_applications.transfer_styles(model, images, splits.test.labels[:3], 10)
    assert transferred.shape == (3, 10, 28, 28, 1)
    assert not np.allclose(transferred[:, 0], transferred[:, 1])  # the label changes the image
