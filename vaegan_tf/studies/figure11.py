"""Figure 11 of Chen, Fang, Ju (2016): DRAW-GAN's reconstructions and samples, and how they differ
from DRAW's ("the generated image is more winding than the real one", Sec. 4.6; "DRAW yields strange
results when combined with GAN", Sec. 1).

Trains a DRAW-GAN (`vaegan_tf.models.draw.DRAWGAN`) and draws the figure: test images with their
DRAW-GAN reconstructions (left) and samples from z ~ N(0, I) (right). Beside it, the DRAW of Figure
10 (`make figure10`'s model, loaded from its finished run, or trained here with the same config)
decodes the very same codes, so the two sample grids differ by the model alone; the canvas sequences
show how each draws. What the paper judged by eye becomes a table: on 10,000 samples from shared
codes, the evaluator's Frechet distance, KID, Inception-score analogue, sharpness ratio and digit
coverage, for DRAW, DRAW-GAN and real training images, with each model's test reconstruction error.

Presets (`--preset`): `paper` (the default) is Sec. 3.4's text, eqs. 2-3 with DRAW's loops, Sec.
4.6's pixel reconstruction and the CVAE's discriminator, Adam lr 1e-4, batch 100 (Sec. 4);
`authors_code` is their DRAW/drawgan.py and main_drawgan.py (squared error summed over the batch,
the saturating GAN term on prior samples only with weight 5, their conv5 discriminator, lr 1e-3,
batch 256). Their repository holds no other DRAW-GAN code, so Figure 11 most likely came from
`authors_code`. Both use the generator of Figure 10's DRAW (T = 10, 5x5 windows, z = 10 a step,
LSTMs 256) on grey images. Schedule: 50,000 iterations, as the authors' checkpoint
draw_gan_checkpoint_0.001_50000 (234 epochs of 256, or 91 of 100 for the paper's batch).
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np

from vaegan_tf import data, evaluate, plots, training
from vaegan_tf.choices import check_choice
from vaegan_tf.models import draw
from vaegan_tf.studies import draw_report, figure10
from vaegan_tf.studies.common import RunSettings, follow_study_seed, record_run, seeded, train_model

PRESETS = {
    "paper": (draw.PAPER_TEXT_GAN, 100),
    "authors_code": (draw.AUTHORS_CODE_GAN, draw.AUTHORS_BATCH),
}


def results_name(preset: str) -> str:
    return "figure11" if preset == "paper" else f"figure11_{preset}"


@dataclasses.dataclass(frozen=True)
class Figure11Config:
    name: str = "figure11"
    preset: str = "paper"
    epochs: int | None = None  # None: 50,000 iterations at the preset's batch
    figure10: figure10.Figure10Config = figure10.Figure10Config(
        models=("draw",)
    )  # the DRAW compared
    seed: int = 0
    run: RunSettings = RunSettings()
    quality_samples: int = evaluate.DEFAULT_SAMPLES
    require_evaluator: bool = True
    check_outputs: bool = False

    def __post_init__(self):
        follow_study_seed(self)
        check_choice(self.preset, PRESETS, "DRAW-GAN preset")

    @property
    def model(self) -> draw.DRAWGANConfig:
        config, _ = PRESETS[self.preset]
        return seeded(config, self.seed)

    @property
    def batch_size(self) -> int:
        return PRESETS[self.preset][1]

    @property
    def training_epochs(self) -> int:
        return self.epochs or figure10.epochs_for(figure10.AUTHORS_ITERATIONS, self.batch_size)


def train_draw_gan(config: Figure11Config, splits: data.DatasetSplits) -> training.TrainingOutcome:
    return train_model(
        config.run,
        config.name,
        draw.build_draw_gan,
        config.model,
        splits,
        epochs=config.training_epochs,
        batch_size=config.batch_size,
        seed=config.seed,
    )


def draw_figures(models: dict, splits: data.DatasetSplits, out: Path, seed: int) -> None:
    """figure11.png (DRAW-GAN's reconstructions and samples), the same codes through DRAW and
    DRAW-GAN side by side, and both models' canvas sequences for the same eight codes."""
    gan = models["DRAW-GAN"]
    height, width, _ = gan.config.image_shape
    test = splits.test.images[:32].astype(np.float32) / 255.0
    rebuilt = np.asarray(gan.reconstruct(test)).reshape(4, 8, height, width)
    pairs = np.stack([test.reshape(4, 8, height, width), rebuilt], axis=1).reshape(
        8, 8, height, width
    )
    z = evaluate.shared_codes(64, gan.latent_dim, seed)
    grids = {
        name: np.asarray(model.decode(z)).reshape(8, 8, height, width)
        for name, model in models.items()
    }
    blank = np.ones((8, 1, height, width))
    plots.image_grid(
        np.concatenate([pairs, blank, grids["DRAW-GAN"]], axis=1),
        out / "figure11.png",
        title="DRAW-GAN. Left: test images (odd rows) and reconstructions; right: samples",
    )
    plots.image_grid(
        np.concatenate([grids["DRAW"], blank, grids["DRAW-GAN"]], axis=1),
        out / "side_by_side.png",
        title="The same z through DRAW (left) and DRAW-GAN (right)",
    )
    codes = evaluate.shared_codes(8, gan.latent_dim, seed + 7)
    for name, model in models.items():
        trace = model.trace_generation(codes)
        draw_report.sequence_figure(
            trace.canvases.numpy().swapaxes(0, 1),
            out / f"sequences_{name.lower().replace('-', '_')}.png",
            windows=figure10.windows_for(trace, model.config, reads=False),
            title=f"{name} drawing eight samples (rows; the same z for both models): canvas and "
            "write window",
        )


def measure(
    models: dict,
    splits: data.DatasetSplits,
    config: Figure11Config,
    evaluator: evaluate.Evaluator | str,
) -> dict:
    grey = splits.test.images.astype(np.float32) / 255.0
    metrics = {
        "test_reconstruction_mse": {
            name: evaluate.reconstruction_mse(model, splits.test, conditional=False)
            for name, model in models.items()
        },
        "test_bound": {
            name: figure10.heldout_bound(model, grey, None) for name, model in models.items()
        },
    }
    if isinstance(evaluator, str):
        metrics["sample_quality"] = evaluator
    else:
        metrics["sample_quality"] = figure10.sample_scores(
            evaluator,
            models,
            splits,
            count=config.quality_samples,
            seed=config.seed,
            conditional=False,
        )
    return metrics


def check_outputs(metrics: dict, models: dict) -> None:
    """For smoke runs: finite, in-range numbers, and both models decoding the same codes to "
    "images."""
    problems = []
    for name, bound in metrics["test_bound"].items():
        if (
            not all(np.isfinite(v) for v in bound.values())
            or bound["kl"] < 0
            or bound["reconstruction"] <= 0
        ):
            problems.append(f"{name} bound {bound}")
    for name, mse in metrics["test_reconstruction_mse"].items():
        if not 0 <= mse <= 1:
            problems.append(f"{name} reconstruction MSE {mse}")
    z = evaluate.shared_codes(4, models["DRAW"].latent_dim, 0)
    for name, model in models.items():
        images = np.asarray(model.decode(z))
        if images.shape != (4, *model.config.image_shape) or images.min() < 0 or images.max() > 1:
            problems.append(
                f"{name} samples of shape {images.shape} in [{images.min()}, {images.max()}]"
            )
    if problems:
        raise AssertionError("figure 11: " + "; ".join(problems))


def run(config: Figure11Config, splits: data.DatasetSplits | None = None) -> dict:
    started = time.perf_counter()
    splits = splits or config.run.load("mnist")
    evaluator = evaluate.evaluator_or_skip(config.require_evaluator)
    compared = figure10.train_draw("draw", config.figure10, splits)
    gan = train_draw_gan(config, splits)
    models = {"DRAW": compared.model, "DRAW-GAN": gan.model.draw}
    out = config.run.results(config.name)
    metrics = {"draw_training": compared.summary()}
    metrics.update(measure(models, splits, config, evaluator))
    if config.check_outputs:
        check_outputs(metrics, models)
    draw_figures(models, splits, out, config.seed)
    record_run(
        out,
        gan,
        config={
            "study": config,
            "model": config.model,
            "batch_size": config.batch_size,
            "epochs": config.training_epochs,
        },
        metrics=metrics,
        started=started,
        data_source=splits.source,
        loss_title="DRAW-GAN: generator and discriminator losses and their terms",
    )
    draw_report.write_figure11_readme(out)
    return metrics
