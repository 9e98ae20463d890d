"""The plain VAE on binarized MNIST, end to end: train, measure, draw, record.

Reproduces the VAE of Chen, Fang, Ju (2016), Sec. 2.1, with the paper's fully connected network (Sec. 4.4)
and training details (Sec. 4), and adds what the paper never measured: the held-out negative ELBO, the
importance-weighted NLL (k = 5000 by default) on a fixed binarization of the 10,000 test images, and
sample quality against the evaluator classifier next to the real-vs-real baseline.

Choices the paper leaves open (also written to the results README):
- epochs: not stated for the plain VAE; 200 here (the wall time is in results/vae_mnist/README.md).
- data: dynamic binarization (fresh Bernoulli draws every epoch) of the 55,000 TF1 training images,
  validation on the 5,000 TF1 validation images, as Burda et al. (2015) whose 86.76 nats is the reference.
- "samples" are the Bernoulli means of p(x | z), z ~ N(0, I), the images VAE papers show.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np

from vaegan_tf import data, evaluate, plots, records, training
from vaegan_tf.evaluate import REAL_IMAGES
from vaegan_tf.models.vae import VAEConfig, build_vae
from vaegan_tf.studies import report
from vaegan_tf.studies.common import RunSettings, follow_study_seed, record_run, train_model

REFERENCE_NLL = (
    86.76  # Burda et al. 2015, Table 1: VAE, one stochastic layer of 50 units, k = 1 training
)
TEST_BINARIZATION_SEED = 2016


@dataclasses.dataclass(frozen=True)
class VAEStudyConfig:
    name: str = "vae_mnist"
    model: VAEConfig = VAEConfig()
    epochs: int = 200
    batch_size: int = 100  # Sec. 4
    seed: int = 0
    run: RunSettings = RunSettings()
    importance_samples: int = 5000
    quality_samples: int = evaluate.DEFAULT_SAMPLES
    test_images: int | None = None  # None: all 10,000
    require_evaluator: bool = True  # smoke runs record 'skipped' instead of failing without one
    command: str = "make vae"  # what reproduces this run, for its README

    def __post_init__(self):
        follow_study_seed(self)


def train_vae(config: VAEStudyConfig, splits: data.DatasetSplits) -> training.TrainingOutcome:
    """The plain VAE on dynamically binarized images (or loaded from a finished run of this config)."""
    return train_model(
        config.run,
        config.name,
        build_vae,
        config.model,
        splits,
        epochs=config.epochs,
        batch_size=config.batch_size,
        seed=config.seed,
        preprocessing="dynamic_binarize",
    )


def run(config: VAEStudyConfig, splits: data.DatasetSplits | None = None) -> dict:
    """Trains and evaluates; writes figures, metrics, config and environment to results/<name>/."""
    started = time.perf_counter()
    splits = splits or config.run.load("mnist")
    outcome = train_vae(config, splits)
    out = config.run.results(config.name)
    metrics = measure(outcome.model, splits, config)
    draw(outcome.model, splits, out)
    record_run(
        out,
        outcome,
        config=config,
        metrics=metrics,
        started=started,
        data_source=splits.source,
        loss_title="VAE negative ELBO and its terms",
    )
    # every seed's README shows the spread over all seeds measured so far, this one included
    for folder in report.seed_folders(out, config.name).values():
        write_readme(folder)
    return metrics


def _frechet_distance(metrics: dict) -> float | None:
    quality = metrics.get("sample_quality")
    return quality["frechet_distance"] if isinstance(quality, dict) else None


SEED_MEASURES = {
    "test negative ELBO (nats)": lambda metrics: metrics["test_negative_elbo"],
    "test NLL, importance-weighted (nats)": lambda metrics: metrics["test_nll"],
    "FD of the samples": _frechet_distance,
}


def measure(model, splits: data.DatasetSplits, config: VAEStudyConfig) -> dict:
    test = (
        splits.test
        if config.test_images is None
        else splits.test.subset(np.arange(config.test_images))
    )
    bits = evaluate.binarized(test, TEST_BINARIZATION_SEED)
    metrics = {
        "test_images": len(test),
        "test_negative_elbo": evaluate.heldout_elbo(model, bits)["loss"],
        "importance_samples": config.importance_samples,
        "test_nll": evaluate.heldout_nll(model, bits, config.importance_samples, seed=config.seed),
        "reference_nll_burda_2015": REFERENCE_NLL,
    }
    evaluator = evaluate.evaluator_or_skip(config.require_evaluator)
    if isinstance(evaluator, str):
        return {**metrics, "sample_quality": evaluator}
    samples = np.asarray(model.sample(config.quality_samples))
    reference = splits.test.images[: config.quality_samples] / 255.0
    metrics["sample_quality"] = evaluate.sample_quality(
        evaluator, samples, reference, seed=config.seed
    )
    metrics["real_vs_real"] = evaluate.real_baseline(
        evaluator, splits, config.quality_samples, seed=config.seed
    )
    metrics["evaluator_test_accuracy"] = evaluator.info["test_accuracy"]
    return metrics


def draw(model, splits: data.DatasetSplits, out: Path) -> None:
    samples = np.asarray(model.sample(100)).reshape(10, 10, 28, 28)
    plots.image_grid(
        samples, out / "samples.png", title="VAE samples: Bernoulli means, z ~ N(0, I)"
    )
    real = splits.test.images[:40] / 255.0
    rebuilt = np.asarray(
        model(
            evaluate.binarized(splits.test.subset(np.arange(40)), TEST_BINARIZATION_SEED),
            training=False,
        )
    )
    pairs = np.stack([real.reshape(4, 10, 28, 28), rebuilt.reshape(4, 10, 28, 28)], axis=1).reshape(
        8, 10, 28, 28
    )
    plots.image_grid(
        pairs,
        out / "reconstructions.png",
        row_labels=["test", "reconstruction"] * 4,
        title="Test images and their reconstructions",
    )


def write_readme(out: Path) -> Path:
    """results/<name>/README.md, rendered from the metrics, config and environment the run wrote."""
    metrics, config, _ = records.read_run(out)
    body = [
        *report.markdown_table(
            ["measure", "value"],
            [
                ["test negative ELBO (nats)", f"{metrics['test_negative_elbo']:.2f}"],
                [
                    f"test NLL, importance-weighted, k = {metrics['importance_samples']} (nats)",
                    f"{metrics['test_nll']:.2f}",
                ],
                [
                    "reference NLL, Burda et al. 2015 VAE (nats)",
                    f"{metrics['reference_nll_burda_2015']:.2f}",
                ],
            ],
        ),
        "",
    ]
    if isinstance(metrics.get("sample_quality"), dict):
        scores = {
            "VAE samples": metrics["sample_quality"],
            REAL_IMAGES: metrics["real_vs_real"],
        }
        body += [
            f"Sample quality of {metrics['sample_quality']['count']} samples against the test "
            "images, features of the evaluator classifier; lower FD / KID is better, real data is "
            "the floor.",
            "",
            *report.markdown_table(
                *report.quality_table(scores, columns=report.UNCONDITIONAL_COLUMNS)
            ),
            *report.paragraph(records.evaluator_sentence(scores)),
            "",
        ]
    else:
        body += [f"Sample quality: {metrics.get('sample_quality')}", ""]
    body += report.seed_spread_section(out, config["name"], SEED_MEASURES)
    model = config["model"]
    body += [
        "Figures: `samples.png` (Bernoulli means for z ~ N(0, I)), `reconstructions.png` (test "
        "images and their reconstructions), `loss_curves.png` (from `training_log.csv`).",
        "",
        "## Choices the paper leaves open",
        "",
        f"- Network: {model['hidden_units']} {model['activation']} units, z = "
        f"{model['latent_dim']}, batch norm {'on' if model['batch_norm'] else 'off'} (Sec. 4.4's "
        f"fully connected net and Sec. 4's training details); Adam lr {model['learning_rate']}, "
        f"batch {config['batch_size']}.",
        f"- Epochs: {config['epochs']} (the paper does not say).",
        "- Data: dynamic binarization of the 55,000 TF1 training images each epoch; validation on "
        "the 5,000 TF1 validation images; test measures on one fixed binarization of the "
        f"{metrics['test_images']:,} test images.",
        "- The reference NLL comes from a longer schedule (3,280 epochs, Burda et al.) and tanh "
        "layers without batch norm; it is a yardstick, not this experiment's target.",
    ]
    return report.write_readme(
        out,
        "the plain VAE of Chen, Fang, Ju (2016) Sec. 2.1 on binarized MNIST",
        config.get("command", "make vae"),
        body,
    )
