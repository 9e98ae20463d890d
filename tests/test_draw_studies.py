"""Figures 10 and 11 end to end on fake 8x8 digits with tiny DRAWs: every model of each study
trains a step or two, is measured (the test bound, the importance-weighted NLL of the likelihood
model, reconstruction error), drawn and checked by the study's own smoke checks, and the READMEs
are written from what the runs left."""

import csv
import dataclasses
import json

import numpy as np
import pytest
from conftest import fake_splits
from test_draw import AUTHORS_GAN, TINY, TINY_CONDITIONAL

from vaegan_tf.studies import draw_report, figure10, figure11
from vaegan_tf.studies.common import RunSettings

TINY_RUNS = {
    "draw": figure10.DRAWRun(TINY, 20, 1, False, "DRAW", "tiny DRAW (grey)"),
    "conditional_draw": figure10.DRAWRun(
        TINY_CONDITIONAL, 20, 1, False, "conditional DRAW", "tiny conditional DRAW"
    ),
    "draw_paper_attention": figure10.DRAWRun(
        TINY, 20, 2, True, "DRAW, attention", "tiny DRAW (binarised)"
    ),
}


@pytest.fixture
def tiny_study(tmp_path, monkeypatch, eager_steps):
    monkeypatch.setattr(figure10, "RUNS", TINY_RUNS)
    run = RunSettings(
        results_root=str(tmp_path / "results"), work_root=str(tmp_path / "work"), steps_per_epoch=2
    )
    config = figure10.Figure10Config(
        models=tuple(TINY_RUNS),
        run=run,
        importance_samples=3,
        likelihood_images=20,
        quality_samples=20,
        require_evaluator=False,
        check_outputs=True,
    )
    return config, fake_splits(train=100, validation=40, test=100, shape=(8, 8, 1))


def test_figure10_trains_measures_and_draws_every_model(tiny_study, tmp_path):
    config, splits = tiny_study
    with config.run.session(config.name):
        metrics = figure10.run(config, splits)
    out = tmp_path / "results" / "figure10"
    readme = draw_report.write_figure10_readme(out, figure10.RUNS).read_text()

    expected = {
        "draw": {"figure10.png", "samples.png", "sample_sequences.png"},
        "conditional_draw": {"samples.png", "sequences.png"},
        "draw_paper_attention": {"test_bound.csv", "learning_curve.png", "figure10.png"},
    }
    for name, files in expected.items():
        assert files <= {path.name for path in (out / name).iterdir()}, name
        written = json.loads((out / name / "metrics.json").read_text())
        assert written["test_bound"] == pytest.approx(metrics[name]["test_bound"])
        assert written["sample_quality"].startswith("skipped")
    # the likelihood model: its bound after each of its 2 epochs, and an importance-weighted NLL
    # (k = 3) on the same 20 fixed binarisations as the bound, beside the DRAW paper's
    likelihood = metrics["draw_paper_attention"]
    with open(out / "draw_paper_attention" / "test_bound.csv", newline="") as handle:
        assert [row["epoch"] for row in csv.DictReader(handle)] == ["1", "2"]
    assert likelihood["test_images"] == 20 and likelihood["importance_samples"] == 3
    assert likelihood["draw_paper_bound"] == 80.97  # TINY reads with attention
    assert 0 < likelihood["test_nll_importance_weighted"] < likelihood["test_bound"]["bound"] + 5
    assert "test_nll_importance_weighted" not in metrics["draw"]  # grey images: no likelihood
    assert "80.97" in readme
    joined = json.loads((out / "environment.json").read_text())
    assert set(joined["models"]) == set(expected) and "packages" in joined
    assert f"by `make figure10` at commit `{joined['git_commit']}`." in readme
    assert (
        joined["models"]["draw"]["epochs"]
        == json.loads((out / "draw" / "environment.json").read_text())["epochs"]
    )


def test_the_quality_table_names_where_the_vae_row_comes_from(tmp_path):
    from vaegan_tf import records

    quality = {"frechet_distance": 10.0, "kid": 1.0, "inception_score": 9.0}
    quality |= {"sharpness_ratio": 0.5, "digits_covered": 10, "count": 20}
    quality |= {"digit_shares": [0.1] * 10, "evaluator": "f"}
    blocks = [{"DRAW": quality}]
    assert not any("VAE" in line for line in draw_report.quality_section(blocks, tmp_path))
    records.write_json(tmp_path / "vae_mnist" / "metrics.json", {"sample_quality": quality})
    records.write_json(tmp_path / "vae_mnist" / "environment.json", {"git_commit": "c" * 40})
    lines = draw_report.quality_section(blocks, tmp_path)
    assert any(line.startswith("| VAE (make vae) | 10.00") for line in lines)
    assert "The VAE row is results/vae_mnist's (`make vae`, seed 0, commit `ccccccc`)" in "".join(
        lines
    )


def test_figure11_compares_draw_gan_with_the_figure10_draw(tiny_study, tmp_path, monkeypatch):
    figure10_config, splits = tiny_study
    monkeypatch.setitem(figure11.PRESETS, "authors_code", (AUTHORS_GAN, 20))
    config = figure11.Figure11Config(
        name="figure11_authors_code",
        preset="authors_code",
        epochs=1,
        figure10=dataclasses.replace(figure10_config, models=("draw",)),
        run=figure10_config.run,
        quality_samples=20,
        require_evaluator=False,
        check_outputs=True,
    )
    with config.run.session(config.name):
        metrics = figure11.run(config, splits)
    out = tmp_path / "results" / "figure11_authors_code"
    assert {"figure11.png", "side_by_side.png", "README.md", "metrics.json"} <= {
        path.name for path in out.iterdir()
    }
    assert metrics["draw_training"]["epochs"] == 1
    assert not metrics["draw_training"]["loaded_from_finished_run"]
    readme = (out / "README.md").read_text()
    assert "make figure11 ARGS='--preset=authors_code'" in readme
    assert "trained here with `make figure10`'s config" in readme
    # a second run loads both finished models instead of training them again
    with config.run.session(config.name):
        again = figure11.run(config, splits)
    assert again["draw_training"]["loaded_from_finished_run"]
    assert np.isfinite(again["draw_training"]["wall_seconds"])
