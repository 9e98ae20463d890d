"""Figures 8 and 9 of Chen, Fang, Ju (2016), Sec. 4.4: the fully connected CVAE (2 x 200 softplus, z = 50,
lr 1e-3, 50 epochs as the authors' code) used for image completion and for style transfer.

- Completion (Figure 8): y is the left half of the image (392 pixels); given a test image's left half and
  z ~ N(0, I), the decoder draws the whole image. Measured: per-pixel squared error of the completed right
  half against the truth over the 10,000 test images, beside the error of always predicting the training
  images' mean right half (a completion that ignores the left half).
- Style transfer (Figure 9): y is the label; a test image is encoded with its own label (posterior mean)
  and decoded with each of the ten labels. Measured: how often the evaluator reads the asked-for digit in
  the transferred images (all test images as bases, all ten targets).

Choices the paper leaves open: pixels in [0, 1] with the Bernoulli cross-entropy (Sec. 4.2); the whole
image is reconstructed in completion (the loss covers the given half too); images shown are Bernoulli means.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np
import tensorflow as tf

from vaegan_tf import data, evaluate, plots, records, training
from vaegan_tf.models.cvae import CVAEConfig, build_cvae
from vaegan_tf.studies import report
from vaegan_tf.studies.common import RunSettings, follow_study_seed, record_run, train_model

FC_CVAE = CVAEConfig(architecture="fc")  # Sec. 4.4 networks; condition_dim set per application


@dataclasses.dataclass(frozen=True)
class ApplicationConfig:
    name: str = "figure8"
    condition: str = "left_half"  # or "label" (style transfer)
    model: CVAEConfig = FC_CVAE
    epochs: int = 50  # the authors' code
    batch_size: int = 100  # Sec. 4
    seed: int = 0
    run: RunSettings = RunSettings()
    require_evaluator: bool = True

    def __post_init__(self):
        follow_study_seed(self)


def flat_left_half(images: tf.Tensor) -> tf.Tensor:
    """[B, H, W, C] -> the left half flattened, [B, H * W/2 * C]: the completion condition."""
    left, _ = data.left_right_halves(images)
    return tf.reshape(left, [tf.shape(images)[0], -1])


def train_fc_cvae(
    config: ApplicationConfig, splits: data.DatasetSplits
) -> training.TrainingOutcome:
    height, width, channels = splits.image_shape
    condition_dim = (
        splits.num_classes if config.condition == "label" else height * (width // 2) * channels
    )
    model_config = dataclasses.replace(
        config.model, image_shape=splits.image_shape, condition_dim=condition_dim
    )
    transform = None
    if config.condition == "left_half":

        def transform(images, labels):
            return images, flat_left_half(images)

    return train_model(
        config.run,
        config.name,
        build_cvae,
        model_config,
        splits,
        epochs=config.epochs,
        batch_size=config.batch_size,
        seed=config.seed,
        transform=transform,
    )


def completion_errors(model, splits: data.DatasetSplits) -> dict:
    """Mean squared error per right-half pixel: the CVAE's completions vs the training mean right half."""
    test = splits.test.images / 255.0
    _, truth = data.left_right_halves(test)
    completed = np.concatenate(
        [
            np.asarray(
                model.sample(
                    len(test[i : i + 1000]),
                    flat_left_half(tf.constant(test[i : i + 1000], tf.float32)),
                )
            )
            for i in range(0, len(test), 1000)
        ]
    )
    _, mean_right = data.left_right_halves(splits.train.images / 255.0)
    return {
        "right_half_mse_cvae": float(np.mean((data.left_right_halves(completed)[1] - truth) ** 2)),
        "right_half_mse_mean_image": float(np.mean((mean_right.mean(0) - truth) ** 2)),
    }


def transfer_styles(model, images: np.ndarray, labels: np.ndarray, num_classes: int) -> np.ndarray:
    """[N, K, H, W, C]: each image's code (posterior mean with its own label) decoded with every label."""
    codes = np.asarray(model.encode_mean(tf.constant(images, tf.float32), labels))
    repeated = np.repeat(codes, num_classes, axis=0)
    targets = np.tile(np.arange(num_classes), len(images))
    decoded = model.likelihood(tf.constant(repeated), targets, training=False).mean()
    return np.asarray(decoded).reshape(len(images), num_classes, *images.shape[1:])


def run(config: ApplicationConfig, splits: data.DatasetSplits | None = None) -> dict:
    started = time.perf_counter()
    splits = splits or config.run.load("mnist")
    outcome = train_fc_cvae(config, splits)
    out = config.run.results(config.name)
    draw = draw_completion if config.condition == "left_half" else draw_style_transfer
    draw(outcome.model, splits, out)
    metrics = (
        completion_errors(outcome.model, splits)
        if config.condition == "left_half"
        else style_transfer_accuracy(outcome.model, splits, config)
    )
    metrics["validation_negative_elbo"] = float(outcome.history["val_loss"][-1])
    record_run(
        out,
        outcome,
        config=config,
        metrics=metrics,
        started=started,
        data_source=splits.source,
        loss_title="FC CVAE negative ELBO",
    )
    write_readme(out)
    return metrics


def draw_completion(model, splits: data.DatasetSplits, out: Path) -> Path:
    test = splits.test.images[:10] / 255.0
    left, _ = data.left_right_halves(test)
    given = np.concatenate([left, np.zeros_like(left)], axis=2)
    condition = flat_left_half(tf.constant(np.repeat(test, 3, axis=0), tf.float32))
    completions = np.asarray(model.sample(len(condition), condition)).reshape(
        10, 3, *test.shape[1:]
    )
    grid = np.concatenate([test[:, None], given[:, None], completions], axis=1)
    return plots.image_grid(
        grid,
        out / "figure8.png",
        col_labels=["test image", "left half in", "completion 1", "completion 2", "completion 3"],
        title="Image completion from the left half (FC CVAE, z ~ N(0, I))",
    )


def draw_style_transfer(model, splits: data.DatasetSplits, out: Path) -> Path:
    bases = splits.test.subset(np.arange(10))
    images = bases.images / 255.0
    transferred = transfer_styles(model, images, bases.labels, splits.num_classes)
    grid = np.concatenate([images[:, None], transferred], axis=1)
    return plots.image_grid(
        grid,
        out / "figure9.png",
        col_labels=["style"] + [str(d) for d in range(10)],
        title="Style transfer: the first column's style carried to every digit",
    )


def style_transfer_accuracy(model, splits: data.DatasetSplits, config: ApplicationConfig) -> dict:
    evaluator = evaluate.evaluator_or_skip(config.require_evaluator)
    if isinstance(evaluator, str):
        return {"style_transfer_accuracy": evaluator}
    hits = []
    for start in range(0, len(splits.test), 500):
        bases = splits.test.subset(np.arange(start, min(start + 500, len(splits.test))))
        transferred = transfer_styles(model, bases.images / 255.0, bases.labels, splits.num_classes)
        flat = transferred.reshape(-1, *transferred.shape[2:])
        predicted = evaluator.embed(flat)[1].argmax(1).reshape(len(bases), splits.num_classes)
        hits.append(predicted == np.arange(splits.num_classes))
    hits = np.concatenate(hits)
    return {
        "style_transfer_accuracy": float(hits.mean()),
        "style_transfer_accuracy_per_target": hits.mean(0).tolist(),
        "evaluator_test_accuracy": evaluator.info["test_accuracy"],
        "evaluator": evaluator.fingerprint,
    }


def write_readme(out: Path) -> Path:
    """results/figure8 or figure9 README.md from the metrics, config and environment the run wrote."""
    metrics, config, _ = records.read_run(out)
    completion = config["condition"] == "left_half"
    figure = "figure8" if completion else "figure9"
    title = "image completion from the left half" if completion else "style transfer"
    lines = [
        f"![figure]({figure}.png)",
        "",
        f"Validation negative ELBO after training: {metrics['validation_negative_elbo']:.2f} nats.",
        "",
    ]
    if completion:
        lines += [
            "Mean squared error per pixel of the right half, over the 10,000 test images (lower is better):",
            "",
            *report.markdown_table(
                ["completion", "right-half MSE"],
                [
                    ["FC CVAE, z ~ N(0, I)", f"{metrics['right_half_mse_cvae']:.4f}"],
                    [
                        "the training images' mean right half (ignores the left half)",
                        f"{metrics['right_half_mse_mean_image']:.4f}",
                    ],
                ],
            ),
            "",
        ]
    elif isinstance(metrics["style_transfer_accuracy"], float):
        per_target = ", ".join(
            f"{d}: {100 * a:.1f}%"
            for d, a in enumerate(metrics["style_transfer_accuracy_per_target"])
        )
        fingerprint = f", fingerprint `{metrics['evaluator']}`" if "evaluator" in metrics else ""
        lines += [
            f"Every test image's style decoded with each of the ten labels; the evaluator classifier (test "
            f"accuracy {metrics['evaluator_test_accuracy']:.4f}{fingerprint}) reads the asked-for digit in "
            f"**{100 * metrics['style_transfer_accuracy']:.2f}%** of the 100,000 transferred images.",
            "",
            f"Per target digit: {per_target}.",
            "",
        ]
    else:
        lines += [f"Style transfer accuracy: {metrics['style_transfer_accuracy']}", ""]
    model = config["model"]
    lines += [
        "## Choices the paper leaves open",
        "",
        f"- Network of Sec. 4.4: {model['fc_hidden_units']} {model['fc_activation']} units, z = "
        f"{model['latent_dim']}, batch norm; {config['epochs']} epochs, Adam lr {model['learning_rate']}, "
        f"batch {config['batch_size']} (the authors' code).",
        "- Pixels in [0, 1] with the Bernoulli cross-entropy (Sec. 4.2); images shown are Bernoulli means.",
        "- Completion reconstructs the whole image (the loss covers the given half too); style transfer encodes "
        "with the posterior mean under the image's own label.",
    ]
    return report.write_readme(
        out,
        f"{title} with the FC CVAE (Chen, Fang, Ju 2016, Figure {figure[-1]})",
        f"make {figure}",
        lines,
    )
