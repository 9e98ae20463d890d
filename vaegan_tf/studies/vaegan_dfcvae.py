"""`make vaegan` and `make dfcvae`: the VAE-GAN (Chen, Fang, Ju 2016, Sec. 3.1) and the deep-feature-
consistent VAE (their poster) against the plain VAE of `make vae`, measured the same way.

Both variants keep the plain VAE's encoder (Sec. 4.4: 2 x 200 softplus with batch norm, z = 50) and change
the reconstruction loss: discriminator features plus a GAN (`models.vae_gan`) or the feature maps of a
fixed, separately pre-trained network (`models.dfc_vae`). The DFC-VAE keeps the plain VAE's decoder too; the
VAE-GAN uses Sec. 4.3's convolutional decoder (why: `models.vae_gan`), so `make vaegan` also trains a plain
VAE with the VAE-GAN's networks, data and epochs (pixel loss, `make vae`'s lr 1e-3), the baseline that
differs by the loss alone. The variants train on grey-level pixels in [0, 1] (Sec. 4.2); the plain VAE is
`make vae`'s own model (dynamically binarized data), loaded from its finished run or trained here with its
config. Every model decodes the same z ~ N(0, I), so the sample grids differ by the model alone, and gets
the same table: Frechet distance, KID, Inception-score analogue and sharpness ratio of 10,000 samples
against the test images (evaluator features), and the mean squared pixel error of test reconstructions
through the posterior mean; real training images are the baseline.
Choices the documents leave open: epochs (10 for the VAE-GAN, whose step with the conv decoder costs
tens of plain-VAE steps; 20 for the DFC-VAE; results/vaegan/README.md gives the wall times); lr 1e-4 for
the VAE-GAN (Sec. 4) and 1e-3 for the DFC-VAE, a VAE without a GAN; and those written in the two model
modules.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np

from vaegan_tf import data, evaluate, plots, training
from vaegan_tf.choices import check_choice
from vaegan_tf.models.dfc_vae import DFCVAEConfig, build_dfc_vae, build_perceptual_network
from vaegan_tf.models.vae import VAEConfig, build_vae
from vaegan_tf.models.vae_gan import VAEGANConfig, build_vae_gan
from vaegan_tf.studies import vae_mnist, vaegan_dfcvae_report
from vaegan_tf.studies.common import RunSettings, follow_study_seed, record_run, train_model

VARIANTS = ("vaegan", "dfcvae")
TITLES = {"vaegan": "VAE-GAN", "dfcvae": "DFC-VAE"}
EPOCHS = {"vaegan": 10, "dfcvae": 20}
SAME_NETWORK_TITLE = vaegan_dfcvae_report.SAME_NETWORK_TITLE


@dataclasses.dataclass(frozen=True)
class VariantConfig:
    variant: str = "vaegan"
    name: str = "vaegan"
    epochs: int | None = None  # None: EPOCHS[variant]
    batch_size: int = 100  # Sec. 4
    seed: int = 0
    run: RunSettings = RunSettings()
    baseline: vae_mnist.VAEStudyConfig = vae_mnist.VAEStudyConfig()  # `make vae`'s plain VAE
    vae_gan: VAEGANConfig = VAEGANConfig()
    dfc_vae: DFCVAEConfig = DFCVAEConfig()
    perceptual_epochs: int = 5  # pre-training of the DFC-VAE's fixed network
    quality_samples: int = evaluate.DEFAULT_SAMPLES
    require_evaluator: bool = True

    def __post_init__(self):
        follow_study_seed(self)
        check_choice(self.variant, VARIANTS, "VAE variant")
        if self.epochs is None:
            object.__setattr__(self, "epochs", EPOCHS[self.variant])


def _train(config: VariantConfig, name: str, epochs: int, splits, build, model_config):
    """One model of the comparison on grey-level pixels in [0, 1] (Sec. 4.2)."""
    return train_model(
        config.run,
        name,
        build,
        model_config,
        splits,
        epochs=epochs,
        batch_size=config.batch_size,
        seed=config.seed,
    )


def pretrain_perceptual_network(config: VariantConfig, splits: data.DatasetSplits):
    """The DFC-VAE's fixed network: a digit classifier of its own, trained on the training images alone."""
    outcome = _train(
        config,
        f"{config.name}_perceptual_network",
        config.perceptual_epochs,
        splits,
        lambda _: build_perceptual_network(splits.image_shape, splits.num_classes),
        {"perceptual_network": splits.image_shape},
    )
    test = outcome.model.evaluate(
        data.pipeline(splits.test, batch_size=500), verbose=0, return_dict=True
    )
    return outcome, float(test["accuracy"])


def variant_vae_config(config: VariantConfig) -> VAEConfig:
    """The variant's VAE networks."""
    return config.vae_gan.vae if config.variant == "vaegan" else config.dfc_vae.vae


def train_same_network_baseline(config: VariantConfig, splits: data.DatasetSplits):
    """A plain VAE with the variant's networks, data and epochs and `make vae`'s learning rate, when the
    variant's decoder is not `make vae`'s: the pixel loss is then the only difference. None otherwise."""
    networks = variant_vae_config(config)
    if networks.decoder == config.baseline.model.decoder:
        return None
    model_config = dataclasses.replace(networks, learning_rate=config.baseline.model.learning_rate)
    return _train(
        config,
        f"{config.name}_plain_{networks.decoder}_vae",
        config.epochs,
        splits,
        build_vae,
        model_config,
    )


def train_variant(
    config: VariantConfig, splits: data.DatasetSplits
) -> tuple[training.TrainingOutcome, dict]:
    extra = {}
    if config.variant == "vaegan":
        model_config, build = config.vae_gan, build_vae_gan
    else:
        network, accuracy = pretrain_perceptual_network(config, splits)
        extra["perceptual_network"] = {
            "epochs": network.epochs_trained,
            "test_accuracy": accuracy,
            "wall_seconds": round(network.wall_seconds, 1),
        }
        weights = network.model.get_weights()
        model_config = config.dfc_vae

        def build(seeded_config):
            fixed = build_perceptual_network(splits.image_shape, splits.num_classes)
            fixed.set_weights(weights)
            return build_dfc_vae(seeded_config, fixed)

    outcome = _train(config, config.name, config.epochs, splits, build, model_config)
    return outcome, extra


def run(
    config: VariantConfig,
    splits: data.DatasetSplits | None = None,
    evaluator: evaluate.Evaluator | None = None,
) -> dict:
    started = time.perf_counter()
    splits = splits or config.run.load("mnist")
    # the variant first: it is the experiment, and an interrupted run shows its training log soonest
    outcome, extra = train_variant(config, splits)
    baseline = vae_mnist.train_vae(
        dataclasses.replace(config.baseline, run=config.run, seed=config.seed), splits
    )
    same_networks = train_same_network_baseline(config, splits)
    variant = outcome.model.vae if config.variant == "vaegan" else outcome.model
    models = {"plain VAE": baseline.model}
    if same_networks is not None:
        models[SAME_NETWORK_TITLE] = same_networks.model
        extra["same_network_baseline"] = {
            **same_networks.summary(),
            "decoder": variant_vae_config(config).decoder,
        }
    models[TITLES[config.variant]] = variant
    out = config.run.results(config.name)
    draw(models, splits, out, config.seed)
    metrics = {
        **extra,
        "baseline_training": baseline.summary(),
        "test_reconstruction_mse": {
            name: evaluate.reconstruction_mse(model, splits.test, conditional=False)
            for name, model in models.items()
        },
    }
    metrics.update(measure(models, splits, config, evaluator))
    record_run(
        out,
        outcome,
        config=config,
        metrics=metrics,
        started=started,
        data_source=splits.source,
        loss_title=f"{TITLES[config.variant]} losses",
    )
    vaegan_dfcvae_report.write_readme(out)
    return metrics


def draw(models: dict, splits: data.DatasetSplits, out: Path, seed: int) -> None:
    out.mkdir(parents=True, exist_ok=True)
    z = evaluate.shared_codes(100, models["plain VAE"].latent_dim, seed)
    grids = [
        evaluate.decode_in_chunks(model, z).reshape(10, 10, 28, 28) for model in models.values()
    ]
    blank = np.ones_like(grids[0][:, :1])
    names = list(models)
    panels = [part for grid in grids for part in (grid, blank)][:-1]
    plots.image_grid(
        np.concatenate(panels, axis=1),
        out / "samples.png",
        title="Same z ~ N(0, I), left to right: " + ", ".join(names),
    )
    real = splits.test.images[:10] / 255.0
    rows = [real.reshape(10, 28, 28)]
    for model in models.values():
        rows.append(np.asarray(model.reconstruct(real.astype(np.float32))).reshape(10, 28, 28))
    plots.image_grid(
        np.stack(rows),
        out / "reconstructions.png",
        row_labels=["test", *names],
        title="Test images and their reconstructions through the posterior mean",
    )


def measure(
    models: dict,
    splits: data.DatasetSplits,
    config: VariantConfig,
    evaluator: evaluate.Evaluator | None = None,
) -> dict:
    if evaluator is None:
        evaluator = evaluate.evaluator_or_skip(config.require_evaluator)
        if isinstance(evaluator, str):
            return {"sample_quality": evaluator}
    return {
        "sample_quality": evaluate.measure_samples(
            evaluator, models, splits, count=config.quality_samples, seed=config.seed
        )
    }
