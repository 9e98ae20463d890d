import dataclasses
import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from vaegan_tf import data
from vaegan_tf.models.vae import VAEConfig
from vaegan_tf.studies import vae_mnist
from vaegan_tf.studies.common import RunSettings

ROOT = Path(__file__).resolve().parents[1]


def test_vae_study_writes_every_artifact(tmp_path, splits, monkeypatch):
    monkeypatch.setattr(data, "load", lambda *args, **kwargs: splits)
    config = vae_mnist.VAEStudyConfig(
        model=VAEConfig(hidden_units=(16,), latent_dim=2), epochs=1, importance_samples=4, quality_samples=50,
        run=RunSettings(results_root=str(tmp_path / "results"), work_root=str(tmp_path / "work"), steps_per_epoch=3),
        require_evaluator=False)
    metrics = vae_mnist.run(config)
    out = tmp_path / "results" / "vae_mnist"
    for name in ("samples.png", "reconstructions.png", "loss_curves.png", "training_log.csv", "metrics.json",
                 "config.json", "environment.json", "README.md"):
        assert (out / name).stat().st_size > 0, name
    assert metrics["test_nll"] <= metrics["test_negative_elbo"] + 5  # a bound that tightens, up to MC noise
    assert metrics["sample_quality"].startswith("skipped")
    environment = json.loads((out / "environment.json").read_text())
    assert environment["epochs"] == 1 and environment["wall_seconds"] >= 0
    assert json.loads((out / "config.json").read_text())["model"]["latent_dim"] == 2
    assert f"{metrics['test_nll']:.2f}" in (out / "README.md").read_text()


def run_experiment(*args, cwd, script="vae_mnist.py"):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, str(ROOT / "experiments" / script), *args], cwd=cwd,
                          capture_output=True, text=True, env=env, timeout=600)


def test_smoke_mode_runs_on_real_mnist(tmp_path):
    """`make smoke`: the real model on the real (mirrored) MNIST, a sample grid in results/smoke/."""
    done = run_experiment("--smoke", "--results_root=results", "--work_root=work", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "results" / "smoke" / "samples.png").stat().st_size > 10_000
    metrics = json.loads((tmp_path / "results" / "smoke" / "metrics.json").read_text())
    assert metrics["test_images"] == 1000 and metrics["test_negative_elbo"] < 300


@pytest.mark.parametrize("script, name, figure", [
    ("figure6.py", "figure6_smoke", "figure6.png"), ("figure7.py", "figure7_smoke", "side_by_side.png"),
    ("figure8.py", "figure8_smoke", "figure8.png"), ("vaegan.py", "vaegan_smoke", "samples.png"),
    ("dfcvae.py", "dfcvae_smoke", "samples.png")])
def test_experiment_smoke_mode_runs_on_real_mnist(tmp_path, script, name, figure):
    """Each experiment's --smoke: its flags, data, training and report wired end to end, a few steps."""
    done = run_experiment("--smoke", "--results_root=results", "--work_root=work", cwd=tmp_path, script=script)
    assert done.returncode == 0, done.stderr[-3000:]
    out = tmp_path / "results" / name
    assert (out / figure).stat().st_size > 5_000 and "smoke" in (out / "README.md").read_text()


def test_balance_flag_is_refused_where_there_is_no_discriminator(tmp_path):
    done = run_experiment("--balance=larsen", cwd=tmp_path, script="dfcvae.py")
    assert done.returncode != 0 and "--balance is a VAE-GAN setting" in done.stderr


def test_unknown_flag_value_is_a_clear_error(tmp_path):
    done = run_experiment("--strategy=tpu", cwd=tmp_path)
    assert done.returncode != 0 and "strategy" in done.stderr and "tpu" in done.stderr


def test_benchmark_measures_positive_rates(splits):
    from vaegan_tf import benchmark
    from vaegan_tf.models.vae import VAEConfig, build_vae

    stream = data.pipeline(splits.train, batch_size=10, preprocessing="dynamic_binarize", shuffle=True)
    assert benchmark.pipeline_images_per_second(stream, 10, steps=5, warmup=2) > 0
    model = build_vae(VAEConfig(hidden_units=(8,), latent_dim=2))
    assert benchmark.training_images_per_second(model, stream, 10, steps=5, warmup=2) > 0


def test_benchmark_readme_names_the_commit_devices_and_every_rate(tmp_path):
    from vaegan_tf import benchmark, records

    records.write_json(tmp_path / "metrics.json", {
        "batch_size": 100, "timed_steps": 300, "pipeline_images_per_second": {"unit": 235030},
        "training_images_per_second": {"vae_fc": 6872, "evaluator_lenet": 571}})
    records.write_json(tmp_path / "environment.json", {
        "git_commit": "abc123", "git_dirty_at_start": [], "packages": {"tensorflow": "2.21.0"},
        "distribution": {"strategy": "MirroredStrategy", "replicas": 2, "devices": ["/gpu:0", "/gpu:1"]}})
    readme = benchmark.write_readme(tmp_path).read_text()
    assert "`abc123`" in readme and "MirroredStrategy over /gpu:0, /gpu:1" in readme and "uncommitted" not in readme
    assert "| training, vae_fc | 6,872 |" in readme and "| input pipeline alone, unit | 235,030 |" in readme
    assert "over 300 steps of batch 100" in readme and "34x as many images" in readme and "compute" in readme


def test_provenance_says_when_a_run_was_resumed():
    from vaegan_tf import records

    env = {"git_commit": "abc", "epochs": 10, "wall_seconds": 120.0, "total_seconds": 90.0,
           "packages": {"tensorflow": "2.21.0"}, "devices": ["/cpu:0"], "distribution": None}
    fresh = records.provenance(env, "make vae")
    assert "resumed" not in fresh and "(1.5 min in all)" in fresh
    resumed = records.provenance({**env, "resumed_from_epoch": 4, "resumed_from_commit": "def"}, "make vae")
    assert "resumed after epoch 4" in resumed and "`def`" in resumed and "`abc`" in resumed
    # the process time of a resumed run is shorter than its training time: say which session it covers
    assert "(1.5 min in all in the last session)" in resumed


def test_table1_runs_of_some_rows_are_named_apart_and_say_how_to_repeat_them(monkeypatch):
    """`make table1 ARGS=--rows=...` must not overwrite the whole table, and its README gives its own command."""
    from absl import app, flags

    monkeypatch.syspath_prepend(str(ROOT / "experiments"))
    table1 = importlib.import_module("table1")

    def parse(*argv):
        flags.FLAGS.unparse_flags()
        flags.FLAGS(["table1", *argv])

    try:
        parse()
        assert (table1.results_name(), table1.make_command()) == ("table1", "make table1")
        parse("--quick", "--rows=conv+gan+pixel", "--labels=1000")
        assert table1.results_name() == "table1_quick_rows-conv+gan+pixel_labels-1000"
        assert table1.make_command() == "make table1 QUICK=1 ARGS='--rows=conv+gan+pixel --labels=1000'"
        config = table1.config_from_flags()
        assert config.rows == ("conv+gan+pixel",) and config.epochs["conv+gan+pixel"] == table1.QUICK_EPOCHS
        parse("--rows=conv,gann")
        with pytest.raises(app.UsageError, match="unknown --rows"):
            table1.config_from_flags()
    finally:
        flags.FLAGS.unparse_flags()


def test_smoke_settings_evaluate_on_the_first_images_only(splits, monkeypatch):
    monkeypatch.setattr(data, "load", lambda *args, **kwargs: splits)
    full = RunSettings().load()
    assert full is splits
    short = RunSettings(evaluation_images=7).load()
    assert (len(short.validation), len(short.test)) == (7, 7) and short.train is splits.train
    np.testing.assert_array_equal(short.test.images, splits.test.images[:7])


def test_evaluator_sentence_names_the_fingerprints_that_scored_a_table():
    from vaegan_tf import records

    quality = {"CVAE": {"fid": 1.0, "evaluator": "7afa844a3699"}, "real": {"evaluator": "7afa844a3699"}}
    assert "fingerprint 7afa844a3699 " in records.evaluator_sentence(quality)
    mixed = {**quality, "old": {"evaluator": "0123456789ab"}}
    assert "0123456789ab, 7afa844a3699" in records.evaluator_sentence(mixed)
    assert records.evaluator_sentence({"CVAE": {"fid": 1.0}, "note": "skipped"}) == ""  # results from before


def test_figure7_reading_follows_the_numbers():
    from vaegan_tf.studies import figure7_report

    row = lambda accuracy, fd, sharpness: {"conditional_accuracy": accuracy, "frechet_distance": fd,
                                           "sharpness_ratio": sharpness}
    quality = {"CVAE": row(0.94, 17.0, 0.43), "CVAE-GAN": row(0.28, 135.0, 1.03), "real training images": row(1, 0.5, 1)}
    worse = figure7_report.reading(quality)
    assert "closer to real sharpness" in worse and "farther from the test" in worse and "less often (28.0%" in worse
    quality["CVAE-GAN"] = row(0.97, 12.0, 0.30)
    better = figure7_report.reading(quality)
    assert "farther from real sharpness" in better and "closer to the test" in better and "more often" in better
