"""Figure 6 of Chen, Fang, Ju (2016): a CVAE (Sec. 4.3 networks) generates ten samples of each digit.

Trains the conv CVAE on the 55,000 TF1 MNIST training images (pixels in [0, 1] with the Bernoulli
cross-entropy, as Sec. 4.2 says), draws the figure (rows = digits 0-9, columns = fresh z ~ N(0, I)), and
measures what the paper judged by eye: conditional accuracy of the evaluator on class-conditional samples
(1,000 per digit), Frechet distance and KID to the test images, sharpness ratio to real test images, and
the held-out negative ELBO; real training images are the baseline.

The SVHN panel (`dataset="svhn"`, results/figure6_svhn/): tfds' `svhn_cropped`, RGB in [0, 1] with
the Bernoulli cross-entropy per channel value (Sec. 4.2), the first 5,000 training images held out
for validation (`vaegan_tf.data`), and "the same network structure ..., except that the number of
neurons at each layer increases by 8/7" (Sec. 4.3): 32x32x3 in and out, every hidden width times 8/7.
Its sample quality is not measured: the evaluator is an MNIST classifier, which has nothing to say of
house numbers, so the figure is judged by eye, as the paper does. tfds downloads SVHN on first use:
the panel needs a connected machine (or a prepared `--data_dir`).

Choices the paper leaves open: epochs (20 here), the decoder's output layer (see models/cvae.py), and that
samples are the Bernoulli means.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np

from vaegan_tf import data, evaluate, plots, records, training
from vaegan_tf.evaluate import REAL_IMAGES
from vaegan_tf.models.cvae import CVAEConfig, build_cvae
from vaegan_tf.studies import report
from vaegan_tf.studies.common import RunSettings, follow_study_seed, record_run, train_model


def results_name(dataset: str) -> str:
    """results/figure6/ for MNIST (the left panel), results/figure6_<dataset>/ for another."""
    return "figure6" if dataset == "mnist" else f"figure6_{dataset}"


def make_command(dataset: str) -> str:
    """The command that trains this panel's CVAE (results READMEs name it)."""
    return "make figure6" + ("" if dataset == "mnist" else f" ARGS=--dataset={dataset}")


def measures_sample_quality(dataset: str) -> bool:
    """Whether the evaluator (an MNIST classifier) can score this data set's samples."""
    return dataset == "mnist"


@dataclasses.dataclass(frozen=True)
class Figure6Config:
    name: str = "figure6"
    dataset: str = "mnist"
    model: CVAEConfig = CVAEConfig()
    epochs: int = 20
    batch_size: int = 100  # Sec. 4
    seed: int = 0
    run: RunSettings = RunSettings()
    samples_per_class: int = 1000
    require_evaluator: bool = True

    def __post_init__(self):
        follow_study_seed(self)


def model_config_for(config: Figure6Config, splits: data.DatasetSplits) -> CVAEConfig:
    """SVHN: 32x32x3 images and every layer widened by 8/7 (Sec. 4.3)."""
    if splits.image_shape == (28, 28, 1):
        return config.model
    return dataclasses.replace(config.model, image_shape=splits.image_shape, width_scale=8 / 7)


def train_cvae(config: Figure6Config, splits: data.DatasetSplits) -> training.TrainingOutcome:
    """The Figure 6 CVAE (or its finished run, loaded: Figure 7 starts from it)."""
    return train_model(
        config.run,
        config.name,
        build_cvae,
        model_config_for(config, splits),
        splits,
        epochs=config.epochs,
        batch_size=config.batch_size,
        seed=config.seed,
    )


def run(config: Figure6Config, splits: data.DatasetSplits | None = None) -> dict:
    started = time.perf_counter()
    splits = splits or config.run.load(config.dataset)
    outcome = train_cvae(config, splits)
    model_config = outcome.model.config
    out = config.run.results(config.name)
    draw_figure6(outcome.model, splits.num_classes, out / "figure6.png")
    metrics = measure_conditional(outcome.model, splits, config)
    record_run(
        out,
        outcome,
        config=dataclasses.replace(config, model=model_config),
        metrics=metrics,
        started=started,
        data_source=splits.source,
        loss_title="CVAE negative ELBO and its terms",
    )
    write_readme(out)
    return metrics


def draw_figure6(model, num_classes: int, path: Path) -> Path:
    labels = np.repeat(np.arange(num_classes), 10)
    images = np.asarray(model.sample(len(labels), labels)).reshape(
        num_classes, 10, *model.config.image_shape
    )
    return plots.image_grid(
        images,
        path,
        row_labels=[str(d) for d in range(num_classes)],
        title="CVAE: ten samples of each digit (rows), z ~ N(0, I)",
    )


def measure_conditional(model, splits: data.DatasetSplits, config: Figure6Config) -> dict:
    test = data.pipeline(splits.test, batch_size=500)
    metrics = {
        "test_negative_elbo": float(model.evaluate(test, verbose=0, return_dict=True)["loss"])
    }
    if splits.image_shape != (28, 28, 1):
        return {**metrics, "sample_quality": SKIPPED_NOT_MNIST}
    evaluator = evaluate.evaluator_or_skip(config.require_evaluator)
    if isinstance(evaluator, str):
        return {**metrics, "sample_quality": evaluator}
    labels = np.repeat(np.arange(splits.num_classes), config.samples_per_class)
    samples = np.concatenate(
        [
            np.asarray(model.sample(len(labels[i : i + 1000]), labels[i : i + 1000]))
            for i in range(0, len(labels), 1000)
        ]
    )
    reference = splits.test.images[: len(samples)] / 255.0
    quality = evaluate.sample_quality(evaluator, samples, reference, labels, seed=config.seed)
    predicted = evaluator.embed(samples)[1].argmax(1)
    quality["conditional_accuracy_per_digit"] = [
        float((predicted[labels == d] == d).mean()) for d in range(splits.num_classes)
    ]
    metrics["sample_quality"] = quality
    metrics["real_vs_real"] = evaluate.real_baseline(
        evaluator, splits, len(samples), seed=config.seed
    )
    return metrics


SKIPPED_NOT_MNIST = (
    "skipped: the evaluator is an MNIST classifier and does not score these samples (32x32x3 "
    "house numbers); the figure is judged by eye, as the paper does."
)


def dataset_lines(dataset: str, cvae_model: dict, command: str) -> list[str]:
    """README lines saying which panel a run drew (`cvae_model`: its CVAE's config as recorded):
    nothing for MNIST; for SVHN the data, the 8/7 widening and that the run needs tfds' download."""
    if dataset == "mnist":
        return []
    return [
        f"**{dataset.upper()} panel** (`{command}`): tfds `{data.DATASETS[dataset][0]}`, "
        f"{'x'.join(map(str, cvae_model['image_shape']))} RGB in [0, 1], the first 5,000 training "
        "images held out for validation; every hidden layer "
        f"{cvae_model['width_scale']:.4g}x as wide as MNIST's (Sec. 4.3: 8/7). tfds downloads the "
        "data on first use, so the run needs a connected machine (or a prepared `--data_dir`).",
        "",
    ]


def write_readme(out: Path) -> Path:
    """results/figure6/README.md from the metrics, config and environment the run wrote."""
    metrics, config, _ = records.read_run(out)
    dataset = config.get("dataset", "mnist")
    command = make_command(dataset)
    lines = [
        *dataset_lines(dataset, config["model"], command),
        "![figure](figure6.png)",
        "",
        f"Held-out negative ELBO on the test images (pixels in [0, 1]): {metrics['test_negative_elbo']:.2f} nats.",
        "",
    ]
    quality = metrics.get("sample_quality")
    if isinstance(quality, dict):
        per_digit = ", ".join(
            f"{d}: {100 * a:.1f}%" for d, a in enumerate(quality["conditional_accuracy_per_digit"])
        )
        lines += [
            f"{quality['count']} class-conditional samples ({quality['count'] // 10} per digit) scored by the "
            "evaluator classifier against the test images:",
            "",
            *report.markdown_table(
                *report.quality_table(
                    {"CVAE samples": quality, REAL_IMAGES: metrics["real_vs_real"]}
                )
            ),
            "",
            f"Conditional accuracy per digit: {per_digit}.",
            *report.paragraph(records.evaluator_sentence({"CVAE samples": quality})),
            "",
        ]
    else:
        lines += [f"Sample quality: {quality}", ""]
    model = config["model"]
    lines += [
        "## Choices the paper leaves open",
        "",
        f"- Epochs: {config['epochs']}; batch {config['batch_size']}, Adam lr {model['learning_rate']} (Sec. 4).",
        "- Networks as Sec. 4.3; the decoder's output layer, where y joins the encoder and the prior p(z|y) = "
        "N(0, I) are read as vaegan_tf/models/cvae.py explains.",
        "- Pixels in [0, 1] with the Bernoulli cross-entropy (Sec. 4.2); the samples shown are Bernoulli means.",
    ]
    return report.write_readme(
        out, "CVAE samples of each digit (Chen, Fang, Ju 2016, Figure 6)", command, lines
    )
