"""The study skeleton (studies.common.train_model, seeded) and the report helper (studies.report):
the pieces every study is built from."""

import dataclasses
import json
import os

import keras
import numpy as np
import pytest

from vaegan_tf import evaluate, records
from vaegan_tf.models import gan
from vaegan_tf.models.vae import VAEConfig, build_vae
from vaegan_tf.models.vae_gan import VAEGANConfig
from vaegan_tf.studies import generative, report
from vaegan_tf.studies.common import RunSettings, seeded, train_model

TINY = VAEConfig(image_shape=(28, 28, 1), hidden_units=(8,), latent_dim=2)


def test_seeded_reaches_every_nested_config_and_nothing_else():
    config = VAEGANConfig(vae=dataclasses.replace(TINY, seed=3))
    got = seeded(config, 7)
    assert got.vae.seed == 7
    assert got.vae.hidden_units == (8,)  # only seeds change
    assert got.discriminator == config.discriminator  # no seed field: untouched
    assert seeded({"perceptual_network": (28, 28, 1)}, 7) == {"perceptual_network": (28, 28, 1)}


@pytest.mark.usefixtures("eager_steps")
def test_train_model_builds_the_seeded_config_and_trains_whole_batches(tmp_path, splits):
    built = []

    def build(config):
        built.append(config)
        return build_vae(config)

    batches = []
    count = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: batches.append(batch)
    )
    run = RunSettings(work_root=str(tmp_path / "work"), results_root=str(tmp_path / "results"))
    outcome = train_model(
        run, "tiny", build, TINY, splits, epochs=1, batch_size=64, seed=5,
        preprocessing="dynamic_binarize", callbacks=[count],
    )  # fmt: skip
    assert [config.seed for config in built] == [5]
    assert outcome.model.config.seed == 5
    # 300 training images in batches of 64: four whole batches a pass, the remainder dropped
    assert len(batches) == 4
    log = (tmp_path / "work" / "tiny" / "log.csv").read_text().splitlines()
    assert "val_loss" in log[0] and len(log) == 2  # header and one epoch, validated

    # the same name and model is loaded, not trained again; another seed is another model
    again = train_model(
        run, "tiny", build, TINY, splits, epochs=1, batch_size=64, seed=5,
        preprocessing="dynamic_binarize",
    )  # fmt: skip
    assert again.reused_finished
    assert len(built) == 2
    np.testing.assert_array_equal(again.model.get_weights()[0], outcome.model.get_weights()[0])


@pytest.mark.usefixtures("eager_steps")
def test_train_model_maps_both_streams_through_transform(tmp_path, splits):
    seen = []

    def transform(images, labels):
        seen.append(images.shape.as_list())
        return images, labels

    run = RunSettings(work_root=str(tmp_path / "work"))
    train_model(
        run, "mapped", build_vae, TINY, splits, epochs=1, batch_size=100, seed=0,
        transform=transform,
    )  # fmt: skip
    # traced once for the training stream, once for the validation stream
    assert len(seen) == 2


def test_markdown_table_and_quality_table_know_their_columns():
    scores = {
        "CVAE": {
            "conditional_accuracy": 0.5,
            "frechet_distance": 1.23456,
            "kid": 0.1,
            "inception_score": 2.0,
            "sharpness_ratio": 0.9,
        },
        "real training images": {
            "frechet_distance": 0.5,
            "kid": 0.0,
            "inception_score": 9.8,
            "sharpness_ratio": 1.0,
        },
    }
    header, rows = report.quality_table(scores, {"MSE": {"CVAE": "0.0100"}})
    assert header == [
        "images",
        "conditional accuracy",
        "Frechet distance",
        "KID",
        "Inception score",
        "sharpness ratio",
        "MSE",
    ]
    assert rows[0] == ["CVAE", "50.00%", "1.235", "0.1000", "2.00", "0.900", "0.0100"]
    assert rows[1][1] == "" and rows[1][-1] == ""  # blank where a row has no value
    header, _ = report.quality_table(scores, columns=report.UNCONDITIONAL_COLUMNS)
    assert "conditional accuracy" not in header
    assert report.markdown_table(["a", "b"], [[1, 2]]) == ["| a | b |", "|---|---|", "| 1 | 2 |"]


def test_write_readme_puts_title_and_provenance_on_top(tmp_path):
    records.write_json(
        tmp_path / "environment.json", records.environment(epochs=3, wall_seconds=120.0)
    )
    path = report.write_readme(tmp_path, "a title", "make something", ["body line"])
    lines = path.read_text().splitlines()
    assert lines[0] == f"# {tmp_path.name}: a title"
    assert "make something" in lines[2] and "3 epochs" in lines[2]
    assert lines[-1] == "body line"


def test_write_tables_writes_the_same_table_twice(tmp_path):
    report.write_tables(tmp_path, "table", ["a", "b"], [["x, y", "2"]])
    assert (tmp_path / "table.md").read_text() == "| a | b |\n|---|---|\n| x, y | 2 |\n"
    assert (tmp_path / "table.csv").read_text().splitlines() == ["a,b", '"x, y",2']


@pytest.mark.usefixtures("eager_steps")
def test_a_new_model_study_is_a_config_and_one_call(tmp_path, splits, monkeypatch):
    """The generic study on a tiny conditional GAN: trained, drawn, scored by an evaluator beside
    real images, recorded; the README's table is the metrics' own numbers."""
    evaluator = evaluate.Evaluator(evaluate.build_classifier(evaluate.EvaluatorConfig(16)))
    evaluator.info = {**(evaluator.info or {}), "test_accuracy": 0.5}
    monkeypatch.setattr(evaluate, "evaluator_or_skip", lambda required: evaluator)
    model = dataclasses.replace(gan.CGAN, latent_dim=4)
    config = generative.GenerativeStudyConfig(
        name="tiny_cgan",
        title="tiny CGAN",
        model=model,
        epochs=1,
        batch_size=50,
        preprocessing="symmetric",
        conditional=True,
        run=RunSettings(
            results_root=str(tmp_path / "results"),
            work_root=str(tmp_path / "work"),
            steps_per_epoch=2,
        ),
        quality_samples=100,
        command="make gan ARGS=--preset=cgan",
    )
    metrics = generative.run(config, gan.build_gan, splits)
    quality = metrics["sample_quality"]
    assert set(quality) == {"tiny CGAN", "real training images"}
    assert quality["tiny CGAN"]["count"] == 100 and "conditional_accuracy" in quality["tiny CGAN"]
    out = tmp_path / "results" / "tiny_cgan"
    readme = (out / "README.md").read_text()
    assert readme.startswith("# tiny_cgan: tiny CGAN")
    assert "make gan ARGS=--preset=cgan" in readme
    assert f"{quality['tiny CGAN']['frechet_distance']:.3f}" in readme
    assert "conditional accuracy" in readme
    assert json.loads((out / "config.json").read_text())["model"]["num_classes"] == 10


def test_the_environment_records_the_cores_and_threads_a_run_had(monkeypatch):
    monkeypatch.setenv("TF_NUM_INTRAOP_THREADS", "1")
    monkeypatch.delenv("TF_NUM_INTEROP_THREADS", raising=False)
    threads = records.environment()["cpu_threads"]
    assert threads["TF_NUM_INTRAOP_THREADS"] == "1" and threads["TF_NUM_INTEROP_THREADS"] is None
    assert 1 <= threads["cores_allowed"] <= os.cpu_count()


def test_provenance_names_uncommitted_code_but_not_rewritten_results():
    env = records.environment(epochs=1, wall_seconds=60.0)
    env["git_dirty_at_start"] = [" M results/figure6/README.md", " M vaegan_tf/models/cvae.py"]
    sentence = records.provenance(env, "make figure6")
    assert "with uncommitted changes to vaegan_tf/models/cvae.py:" in sentence
    assert "results/figure6" not in sentence
    env["git_dirty_at_start"] = [" M results/figure6/README.md"]
    assert "uncommitted" not in records.provenance(env, "make figure6")


def test_a_staged_run_finds_the_seeds_it_will_land_beside(tmp_path):
    """A study writes its results in a staging folder (records.staged_directory) and moves them in
    when it ends: its seed-to-seed spread must still be over the seeds already in results/, with
    its own new numbers in place of the folder it replaces, and at its precision only."""
    for name, value in (
        ("vae_mnist", 1.0),
        ("vae_mnist_seed1", 2.0),
        ("vae_mnist_seed2", 99.0),  # the run being replaced
        ("vae_mnist_seed1_mixed_bfloat16", 5.0),  # another precision
        ("vae_mnist_smoke", 7.0),  # another study
    ):
        (tmp_path / name).mkdir()
        (tmp_path / name / "metrics.json").write_text(json.dumps({"value": value}))
    with records.staged_directory(tmp_path / "vae_mnist_seed2") as staged:
        (staged / "metrics.json").write_text(json.dumps({"value": 3.0}))
        assert records.final_parent(staged) == tmp_path
        found = report.seed_folders(staged, "vae_mnist")
        assert found == {0: tmp_path / "vae_mnist", 1: tmp_path / "vae_mnist_seed1", 2: staged}
        section = "\n".join(
            report.seed_spread_section(staged, "vae_mnist", {"value": lambda m: m["value"]})
        )
        assert "| value | 1.00 | 2.00 | 3.00 | 2.00 ± 1.00 |" in section
        assert "| CPU | n/a | n/a | n/a |" in section and "different" not in section
        # seeds run at other commits or on other CPUs: the table shows where, the text says so
        for name, commit, cpu in (("vae_mnist", "a", "Xeon"), ("vae_mnist_seed1", "b", "EPYC")):
            env = {"git_commit": commit * 40, "cpu": cpu}
            (tmp_path / name / "environment.json").write_text(json.dumps(env))
        section = "\n".join(
            report.seed_spread_section(staged, "vae_mnist", {"value": lambda m: m["value"]})
        )
        assert "| commit | `aaaaaaa` | `bbbbbbb` | `n/a` |" in section
        assert "| CPU | Xeon | EPYC | n/a |" in section
        assert "The seeds ran at different commits and CPUs: the spread holds" in section
    assert (
        report.seed_folders(tmp_path / "vae_mnist", "vae_mnist")[2] == tmp_path / "vae_mnist_seed2"
    )
    assert records.final_parent(tmp_path / "vae_mnist") == tmp_path
