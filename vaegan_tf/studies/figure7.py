"""Figure 7 of Chen, Fang, Ju (2016): CVAE-GAN (Sec. 3.2) samples of each digit, measured against the CVAE.

Trains the CVAE-GAN of `vaegan_tf.models.cvae_gan` on the 55,000 TF1 MNIST training images and draws its
ten samples of each digit (rows = digits). Beside it, the Figure 6 CVAE (`make figure6`'s model, loaded
from its finished run, or trained here with the same config) decodes the very same z and y, so the two
grids differ only by the model. What the paper judged by eye ("less blurry"; "for the digit 2, CVAE-GAN
generates highly similar and strange images") becomes a table: on 1,000 class-conditional samples per
digit from shared z, the evaluator's conditional accuracy, Frechet distance and KID to the test images,
the Inception-score analogue and the sharpness ratio, for CVAE, CVAE-GAN and real training images; and
per digit, accuracy, Frechet distance to that digit's test images and diversity (mean pairwise feature
distance relative to real images of the digit), which is where a collapsed digit shows. Test-set
reconstruction error (posterior mean code) says what each model keeps of its input.

Choices the paper leaves open: epochs (5 here, the low end of the authors' 5-20, for CPU time), no
learning-rate decay, samples are Bernoulli means, and the loss weights. The paper's equations carry no
weights; its authors' code (Jianbo-Lab/deep-learning-project, CVAE-GAN) weighs the KL by alpha = 10 and the
batch-summed feature distance by beta = 1e-4, leaves the reconstruction term out of L_D and uses a
stride-1 discriminator. Only the code's weights draw the paper's Figure 7 (readable digits of the class
asked for), so `authors_code` is the default and the equations with unit weights stay as the `paper`
preset (`make figure7 ARGS=--preset=paper`, results/figure7_paper/). What each preset measured:
results/figure7/README.md and results/figure7_paper/README.md.

The SVHN panel (`make figure7 ARGS=--dataset=svhn`, results/figure7_svhn/) trains both models on
tfds' `svhn_cropped` (split as `vaegan_tf.data` says) with "the same network structure ..., except
that the number of neurons at each layer increases by 8/7" (Sec. 4.3): the Figure 6 SVHN CVAE
(`figure6.model_config_for`) and the discriminator's convolutions and FC layers (f_l included)
widened by 8/7, never its k + 1 outputs. The evaluator is an MNIST classifier, so the SVHN panel's
table is not measured: the README says so and shows the grids and the test reconstruction error.
tfds downloads SVHN on first use: the panel needs a connected machine (or a prepared --data_dir).
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np

from vaegan_tf import data, evaluate, plots, training
from vaegan_tf.choices import check_choice
from vaegan_tf.models import cvae_gan
from vaegan_tf.studies import figure6, figure7_report
from vaegan_tf.studies.common import RunSettings, follow_study_seed, record_run, train_model

PRESETS = {"paper": cvae_gan.PAPER, "authors_code": cvae_gan.AUTHORS_CODE}
DEFAULT_PRESET = "authors_code"


def results_name(preset: str, dataset: str = "mnist") -> str:
    """results/figure7/ for the default preset on MNIST; figure7_svhn/ for the SVHN panel, and
    _<preset> after either for another preset."""
    name = "figure7" if dataset == "mnist" else f"figure7_{dataset}"
    return name if preset == DEFAULT_PRESET else f"{name}_{preset}"


@dataclasses.dataclass(frozen=True)
class Figure7Config:
    name: str = "figure7"
    cvae: figure6.Figure6Config = figure6.Figure6Config()  # the model CVAE-GAN is compared with
    preset: str = DEFAULT_PRESET  # the reading that draws the paper's Figure 7 (module docstring)
    epochs: int = 5  # the low end of the authors' 5-20 (Jianbo-Lab/deep-learning-project, CVAE-GAN): a CVAE-GAN step costs ~5 CVAE steps
    batch_size: int = 100  # Sec. 4
    seed: int = 0
    run: RunSettings = RunSettings()
    samples_per_class: int = 1000
    require_evaluator: bool = True

    def __post_init__(self):
        follow_study_seed(self)
        check_choice(self.preset, PRESETS, "CVAE-GAN preset")

    @property
    def dataset(self) -> str:
        """Both models train on the data set of the CVAE compared with (`cvae.dataset`)."""
        return self.cvae.dataset


def model_config_for(config: Figure7Config, splits: data.DatasetSplits) -> cvae_gan.CVAEGANConfig:
    """The preset's CVAE-GAN for these images: the Figure 6 CVAE's networks (SVHN: 32x32x3 and 8/7
    wider, Sec. 4.3) at the preset's learning rate, and the discriminator's hidden layers widened
    by the same factor."""
    preset = PRESETS[config.preset]
    cvae = dataclasses.replace(
        figure6.model_config_for(config.cvae, splits),
        learning_rate=preset.learning_rate,
    )
    discriminator = preset.discriminator
    if cvae.width_scale != 1:
        discriminator = dataclasses.replace(
            discriminator,
            filters=tuple(cvae.scaled(filters) for filters in discriminator.filters),
            units=tuple(cvae.scaled(units) for units in discriminator.units),
        )
    return dataclasses.replace(preset, cvae=cvae, discriminator=discriminator)


def train_cvae_gan(config: Figure7Config, splits: data.DatasetSplits) -> training.TrainingOutcome:
    return train_model(
        config.run,
        config.name,
        cvae_gan.build_cvae_gan,
        model_config_for(config, splits),
        splits,
        epochs=config.epochs,
        batch_size=config.batch_size,
        seed=config.seed,
    )


def run(
    config: Figure7Config,
    splits: data.DatasetSplits | None = None,
    evaluator: evaluate.Evaluator | None = None,
) -> dict:
    started = time.perf_counter()
    splits = splits or config.run.load(config.dataset)
    cvae = figure6.train_cvae(config.cvae, splits)
    gan = train_cvae_gan(config, splits)
    models = {"CVAE": cvae.model, "CVAE-GAN": gan.model.cvae}
    out = config.run.results(config.name)
    draw(models, splits.num_classes, out, seed=config.seed)
    metrics = {
        "cvae_training": cvae.summary(),
        "test_reconstruction_mse": {
            name: evaluate.reconstruction_mse(model, splits.test, conditional=True)
            for name, model in models.items()
        },
    }
    metrics.update(measure(models, splits, config, evaluator))
    record_run(
        out,
        gan,
        config={
            **dataclasses.asdict(config),
            "dataset": config.dataset,
            "model": gan.model.config,
        },
        metrics=metrics,
        started=started,
        data_source=splits.source,
        loss_title="CVAE-GAN losses (generator, discriminator and terms)",
    )
    figure7_report.write_readme(out)
    return metrics


def draw(models: dict, num_classes: int, out: Path, seed: int) -> None:
    labels = np.repeat(np.arange(num_classes), 10)
    z = evaluate.shared_codes(len(labels), next(iter(models.values())).latent_dim, seed)
    grids = {
        name: evaluate.decode_in_chunks(model, z, labels).reshape(
            num_classes, 10, *model.config.image_shape
        )
        for name, model in models.items()
    }
    digits = [str(d) for d in range(num_classes)]
    plots.image_grid(
        grids["CVAE-GAN"],
        out / "figure7.png",
        row_labels=digits,
        title="CVAE-GAN: ten samples of each digit (rows), z ~ N(0, I)",
    )
    blank = np.ones_like(grids["CVAE"][:, :1])
    plots.image_grid(
        np.concatenate([grids["CVAE"], blank, grids["CVAE-GAN"]], axis=1),
        out / "side_by_side.png",
        row_labels=digits,
        title="Same z and y: CVAE (left) and CVAE-GAN (right)",
    )


def measure(
    models: dict,
    splits: data.DatasetSplits,
    config: Figure7Config,
    evaluator: evaluate.Evaluator | None = None,
) -> dict:
    """Sample quality of each model from the same codes and labels, and of real training images, against
    the test set, overall and per digit."""
    if splits.image_shape != (28, 28, 1):
        return {"sample_quality": figure6.SKIPPED_NOT_MNIST}
    if evaluator is None:
        evaluator = evaluate.evaluator_or_skip(config.require_evaluator)
        if isinstance(evaluator, str):
            return {"sample_quality": evaluator}
    count = config.samples_per_class * splits.num_classes
    return {
        "sample_quality": evaluate.measure_samples(
            evaluator,
            models,
            splits,
            count=count,
            seed=config.seed,
            conditional=True,
            per_class=True,
        )
    }
