import json

import numpy as np

from vaegan_tf import data
from vaegan_tf.models.cvae import CVAEConfig
from vaegan_tf.studies import cvae_figures


def test_figure6_study_writes_figure_and_metrics(tmp_path, splits):
    config = cvae_figures.Figure6Config(
        model=CVAEConfig(architecture="fc", fc_hidden_units=(16,), latent_dim=2), epochs=1, steps_per_epoch=2,
        samples_per_class=5, results_root=str(tmp_path / "results"), work_root=str(tmp_path / "work"),
        require_evaluator=False)
    metrics = cvae_figures.run_figure6(config, splits)
    out = tmp_path / "results" / "figure6"
    for name in ("figure6.png", "loss_curves.png", "training_log.csv", "metrics.json", "config.json",
                 "environment.json"):
        assert (out / name).stat().st_size > 0, name
    assert np.isfinite(metrics["test_negative_elbo"]) and metrics["sample_quality"].startswith("skipped")
    assert json.loads((out / "config.json").read_text())["model"]["architecture"] == "fc"


def test_svhn_panel_widens_the_networks(splits):
    svhn_like = data.DatasetSplits("svhn", data.Split(np.zeros((4, 32, 32, 3), np.uint8), np.arange(4)), None,
                                   splits.test, 10, "fake")
    model = cvae_figures.model_config_for(cvae_figures.Figure6Config(), svhn_like)
    assert model.image_shape == (32, 32, 3) and model.width_scale == 8 / 7
