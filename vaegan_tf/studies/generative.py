"""One generative model, trained and measured: the study any model with the suite's interface
(`sample`, `decode`, `reconstruct`; models/interface.py) gets by a config and one call.

`run(config, build)` trains `build(config.model)` on MNIST with the study skeleton
(`common.train_model`), draws 100 samples (ten per digit for a conditional model), scores
`config.quality_samples` of them against the test images with the committed evaluator (Frechet
distance, KID, Inception-score analogue, sharpness and, for a conditional model, conditional
accuracy) beside real training images of the same count, and writes results/<name>/: the sample
grid, the table, the training log and its curves, metrics, config and environment, and a README.
Studies that need more (likelihoods, the figures of a paper) are built from the same skeleton.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import numpy as np

from vaegan_tf import evaluate, plots, records
from vaegan_tf.studies import report
from vaegan_tf.studies.common import RunSettings, follow_study_seed, record_run, train_model


@dataclasses.dataclass(frozen=True)
class GenerativeStudyConfig:
    name: str
    title: str  # what the README's first line calls the model
    model: object  # the model's frozen config, given to `build`
    epochs: int
    batch_size: int = 100
    preprocessing: str = "unit"  # data.pipeline's: "symmetric" for a tanh generator
    conditional: bool = False  # samples asked for a digit each, and conditional accuracy
    seed: int = 0
    run: RunSettings = RunSettings()
    quality_samples: int = evaluate.DEFAULT_SAMPLES
    require_evaluator: bool = True
    command: str = ""  # the `make` line that reproduces the run, for the README
    source: str = ""  # where the model and its schedule come from, for the README

    def __post_init__(self):
        follow_study_seed(self)


def run(config: GenerativeStudyConfig, build: Callable, splits=None) -> dict:
    """Trains, draws, measures and records `build(config.model)`; returns the metrics."""
    started = time.perf_counter()
    splits = splits or config.run.load("mnist")
    outcome = train_model(
        config.run,
        config.name,
        build,
        config.model,
        splits,
        epochs=config.epochs,
        batch_size=config.batch_size,
        seed=config.seed,
        preprocessing=config.preprocessing,
    )
    model, out = outcome.model, config.run.results(config.name)
    out.mkdir(parents=True, exist_ok=True)
    labels = np.repeat(np.arange(splits.num_classes), 10) if config.conditional else None
    grid = evaluate.decode_in_chunks(model, evaluate.shared_codes(100, model.latent_dim, 0), labels)
    plots.image_grid(
        grid.reshape(10, 10, *grid.shape[1:]),
        out / "samples.png",
        row_labels=[str(d) for d in range(10)] if config.conditional else None,
        title=f"{config.title}: samples" + (", one digit a row" if config.conditional else ""),
    )
    evaluator = evaluate.evaluator_or_skip(config.require_evaluator)
    metrics = {
        "sample_quality": evaluator
        if isinstance(evaluator, str)
        else evaluate.measure_samples(
            evaluator,
            {config.title: model},
            splits,
            count=config.quality_samples,
            seed=config.seed,
            conditional=config.conditional,
        )
    }
    record_run(
        out,
        outcome,
        config=config,
        metrics=metrics,
        started=started,
        data_source=splits.source,
        loss_title=f"{config.title}: training losses",
    )
    write_readme(out)
    return metrics


def write_readme(out) -> None:
    """results/<name>/README.md from what the run recorded."""
    metrics, config, _ = records.read_run(out)
    quality = metrics["sample_quality"]
    body = ["![samples](samples.png)", ""]
    if isinstance(quality, dict):
        columns = report.QUALITY_COLUMNS if config["conditional"] else report.UNCONDITIONAL_COLUMNS
        count = next(iter(quality.values()))["count"]
        body += [
            f"{count} samples scored by the evaluator classifier against the first {count} test "
            "images, beside as many real training images (lower FD / KID is closer to real data; a "
            "sharpness ratio of 1 is as sharp as real test images).",
            "",
            *report.markdown_table(*report.quality_table(quality, columns=columns)),
            "",
            records.evaluator_sentence(quality),
        ]
    else:
        body += [f"Sample quality: {quality}"]
    body += [
        "",
        f"Model and schedule: {config['source']}; {config['epochs']} epochs, batch "
        f"{config['batch_size']}, pixels as `{config['preprocessing']}`. Training curves: "
        "`loss_curves.png` (from `training_log.csv`).",
    ]
    report.write_readme(out, config["title"], config["command"], body)
