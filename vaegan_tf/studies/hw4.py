"""Srinivasan, Baur & Huber (2018), "HW4: Generative Models - VAE and GAN", reproduced and measured.

Four figure groups, each a make target writing results/hw4_<group>/, and one table over all of them
(`make hw4_table`, results/hw4/):
- `vae`: the FC VAE (one hidden layer of 100 ReLU units, batch norm, z = 2) with and without batch
  norm, the conv VAE (its encoder two 3x3 stride-1 convolutions) and the FC CVAE, on dynamically
  binarized MNIST (the report's Sec. 3.1.2 and Figs. 3-6): loss curves with and without batch norm
  on the same axes, samples, the 2-D latent scatter of the test set by digit, the decoded grid over
  linspace(-2, 2, 10)^2, CVAE samples per digit and its style grid; held-out negative ELBO and the
  importance-weighted NLL.
- `gan`: the FC GAN and the DCGAN (Sec. 3.2.1, Figs. 7-9): samples at matched epochs with the
  Frechet distance after every epoch, loss curves, interpolation strips between six z pairs in steps
  of 0.2.
- `cgan`: CGAN and CDCGAN samples per digit (Fig. 10) with their conditional accuracy.
- `wgan`: WGAN with weight clipping and with the gradient penalty (Sec. 3.2.1 item 5, Figs. 11-12),
  each with and without batch norm in the critic: loss curves (generator, critic, real and fake
  terms), per-layer gradient histograms of both networks at the end of training, and mode collapse
  measured as the share of each digit among the samples (the evaluator's argmax) and the digits
  covered.

Every model's samples are scored by the suite's evaluator (FD, KID, Inception-score analogue,
coverage, conditional accuracy), real training images beside them.

Readings of what the report leaves open (the results READMEs list each model's settings):
- VAE optimizer: Adam with the report's learning rate 1e-2 where it trains (the FC VAEs, the CVAE)
  and 1e-3 for the conv VAE, which diverges at 1e-2 (`VAE_LEARNING_RATE`); batch 100; epochs: 30
  (the report's batch-norm claim speaks of 15 epochs for the plain VAE to converge).
- Conv VAE: 16 and 32 filters (the report gives none), ReLU and batch norm like the FC VAE,
  flattened into the linear heads; its decoder is the FC VAE's.
- GAN epochs: 150 for the FC GAN (the report trains "100/200" and compares at 150), 30 for the DCGAN
  (its claim is about epoch 20), 100 / 30 for the conditional ones, 30 for each WGAN (an epoch is
  one pass of the critic over the data: 110 generator updates at 5 critic steps, batch 100).
- The WGANs use the DCGAN networks, the report's "Deconv architectures".
- Data: the suite's TF1 split (55,000 training, 5,000 validation, 10,000 test images) rather than
  the course's last 10,000 training images as validation; the validation set only draws loss curves.
- A digit is covered when at least `COVERAGE_SHARE` of the samples are classified as it.
- The importance-weighted NLL takes k = 1000 samples per test image (`importance_samples`): the
  posterior of a 2-D latent is covered by far fewer draws than that of the suite's z = 50 VAEs.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from vaegan_tf import data, distribute, evaluate, plots, records, sample_metrics
from vaegan_tf.choices import check_choice
from vaegan_tf.models import gan as gans
from vaegan_tf.models import networks
from vaegan_tf.models.cvae import CVAEConfig, build_cvae
from vaegan_tf.models.vae import VAEConfig, build_vae
from vaegan_tf.studies import common, hw4_report
from vaegan_tf.studies.common import RunSettings, follow_study_seed
from vaegan_tf.studies.vae_mnist import TEST_BINARIZATION_SEED

GROUPS = ("vae", "gan", "cgan", "wgan")
COVERAGE_SHARE = 0.02  # a fifth of a digit's share in MNIST (about 0.1)
INTERPOLATION_ALPHAS = np.linspace(0.0, 1.0, 6)  # steps of 0.2 (Fig. 9)
LATENT_GRID = np.linspace(-2.0, 2.0, 10)  # the course's decoded grid
STYLE_DIGIT = 9  # Fig. 5(b): "the digit stays a 9"
LOGGED_BY_EPOCH = ("loss", "val_loss", "generator_loss", "critic_real", "critic_fake")
# Srinivasan et al. Sec. 3.1.2: Adam, lr 1e-2. It trains the FC VAEs and the CVAE, so they keep it;
# the conv VAE diverges at 1e-2 (its linear heads read 25,088 features), so it takes the usual
# 1e-3 (Kingma & Ba 2014; Chen et al. Sec. 4). Every run of the VAE group measures this again
# (`learning_rate_probe`, `PROBE_STEPS` steps at each rate).
VAE_LEARNING_RATE = 1e-2
CONV_VAE_LEARNING_RATE = 1e-3
PROBE_STEPS = 200

# The report's VAEs (Sec. 3.1.2), built from the suite's VAE and CVAE.
VAE = VAEConfig(
    hidden_units=(100,),
    activation="relu",
    latent_dim=2,
    batch_norm=True,
    learning_rate=VAE_LEARNING_RATE,
)
PLAIN_VAE = dataclasses.replace(VAE, batch_norm=False)
CONV_VAE = dataclasses.replace(VAE, encoder="conv", learning_rate=CONV_VAE_LEARNING_RATE)
CVAE = CVAEConfig(
    architecture="fc",
    fc_hidden_units=(100,),
    fc_activation="relu",
    latent_dim=2,
    batch_norm=True,
    learning_rate=VAE_LEARNING_RATE,
)


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    key: str  # results and work folder suffix, metrics key
    title: str
    config: object  # VAEConfig, CVAEConfig or gan.GANConfig
    epochs: int

    @property
    def is_gan(self) -> bool:
        return isinstance(self.config, gans.GANConfig)

    @property
    def conditional(self) -> bool:
        if self.is_gan:
            return self.config.num_classes is not None
        return isinstance(self.config, CVAEConfig)


@dataclasses.dataclass(frozen=True)
class HW4Config:
    group: str = "vae"
    seed: int = 0
    batch_size: int = 100  # the course statement
    run: RunSettings = RunSettings()
    vae_epochs: int = 30
    gan_epochs: int = 150
    dcgan_epochs: int = 30
    cgan_epochs: int = 100
    cdcgan_epochs: int = 30
    wgan_epochs: int = 30
    quality_samples: int = evaluate.DEFAULT_SAMPLES
    epoch_samples: int = 2000  # the per-epoch Frechet distance's samples (and test images)
    importance_samples: int = 1000  # k: a 2-D latent needs fewer than the suite's z = 50 VAEs' 5000
    test_images: int | None = None  # None: all 10,000 (the likelihoods)
    require_evaluator: bool = True
    smoke: bool = False  # check every output's values after the run (`check_outputs`)
    probe_steps: int = PROBE_STEPS  # the conv VAE at both learning rates (0: no probe)

    def __post_init__(self):
        follow_study_seed(self)
        check_choice(self.group, GROUPS, "hw4 group")

    @property
    def name(self) -> str:
        return f"hw4_{self.group}" + ("_smoke" if self.smoke else "")


def models_of(config: HW4Config) -> list[ModelSpec]:
    """The report's models of one figure group, with the run's seed."""

    no_bn = dataclasses.replace(networks.DCGAN, critic_batch_norm=False)
    with_bn = dataclasses.replace(networks.DCGAN, critic_batch_norm=True)
    specs = {
        "vae": [
            ModelSpec("vae", "VAE", VAE, config.vae_epochs),
            ModelSpec("vae_no_bn", "VAE without batch norm", PLAIN_VAE, config.vae_epochs),
            ModelSpec("conv_vae", "conv VAE", CONV_VAE, config.vae_epochs),
            ModelSpec("cvae", "CVAE", CVAE, config.vae_epochs),
        ],
        "gan": [
            ModelSpec("gan", "GAN", gans.GAN, config.gan_epochs),
            ModelSpec("dcgan", "DCGAN", gans.DCGAN, config.dcgan_epochs),
        ],
        "cgan": [
            ModelSpec("cgan", "CGAN", gans.CGAN, config.cgan_epochs),
            ModelSpec("cdcgan", "CDCGAN", gans.CDCGAN, config.cdcgan_epochs),
        ],
        "wgan": [
            ModelSpec(
                "wgan_clip",
                "WGAN, clipping",
                dataclasses.replace(gans.WGAN_CLIP, networks=no_bn),
                config.wgan_epochs,
            ),
            ModelSpec(
                "wgan_clip_bn", "WGAN, clipping, BN critic", gans.WGAN_CLIP, config.wgan_epochs
            ),
            ModelSpec("wgan_gp", "WGAN-GP", gans.WGAN_GP, config.wgan_epochs),
            ModelSpec(
                "wgan_gp_bn",
                "WGAN-GP, BN critic",
                dataclasses.replace(gans.WGAN_GP, networks=with_bn),
                config.wgan_epochs,
            ),
        ],
    }[config.group]
    return [
        dataclasses.replace(spec, config=common.seeded(spec.config, config.seed)) for spec in specs
    ]


# Measures


def first_nonfinite_step(losses) -> int | None:
    """The first (1-based) step whose loss is NaN or infinite, or None."""
    bad = np.flatnonzero(~np.isfinite(np.asarray(losses, dtype=np.float64)))
    return int(bad[0]) + 1 if len(bad) else None


def learning_rate_probe(config: HW4Config, splits: data.DatasetSplits) -> dict:
    """The conv VAE from the same initialisation and batches for `probe_steps` steps at the report's
    Adam 1e-2 and at the 1e-3 it trains with: each rate's running training loss (the epoch mean
    so far) after the last step, or the first step whose loss was not finite. It measures in every
    run why the conv VAE leaves the report's rate, which is otherwise an assertion."""
    steps = min(config.probe_steps, config.run.steps_per_epoch or config.probe_steps)
    probe = {"steps": steps}
    for rate in (VAE_LEARNING_RATE, CONV_VAE_LEARNING_RATE):
        keras.utils.set_random_seed(config.seed)
        model = build_vae(
            dataclasses.replace(common.seeded(CONV_VAE, config.seed), learning_rate=rate)
        )
        losses = []

        def record(batch, logs, model=model, losses=losses):
            losses.append(float(logs["loss"]))
            model.stop_training = not np.isfinite(losses[-1])

        batches = data.pipeline(
            splits.train,
            batch_size=config.batch_size,
            preprocessing="dynamic_binarize",
            shuffle=True,
            seed=config.seed,
        )
        model.fit(
            batches,
            steps_per_epoch=steps,
            epochs=1,
            verbose=0,
            callbacks=[keras.callbacks.LambdaCallback(on_train_batch_end=record)],
        )
        probe[f"{rate:g}"] = {
            "first_nonfinite_step": first_nonfinite_step(losses),
            "steps_run": len(losses),
            "mean_loss": losses[-1] if np.isfinite(losses[-1]) else None,
        }
    return probe


def digit_shares(logits: np.ndarray, num_classes: int = 10) -> np.ndarray:
    """The share of images the evaluator puts in each class, [num_classes], summing to 1."""
    return np.bincount(np.argmax(logits, -1), minlength=num_classes) / len(logits)


def coverage(shares: np.ndarray) -> dict:
    """Mode collapse in numbers: digits covered (share >= COVERAGE_SHARE), the largest share, and
    the effective number of digits, exp(entropy of the shares) (10 for uniform shares, 1 for one
    digit)."""
    present = shares[shares > 0]
    return {
        "digit_shares": [round(float(s), 4) for s in shares],
        "digits_covered": int(np.sum(shares >= COVERAGE_SHARE)),
        "largest_share": float(shares.max()),
        "effective_digits": float(np.exp(-np.sum(present * np.log(present)))),
    }


def sample_codes(spec: ModelSpec, latent_dim: int, count: int, seed: int, num_classes: int = 10):
    """Shared z ~ N(0, I) [count, latent_dim] and, for a conditional model, count / classes labels
    of each class (else None): every model of a group decodes the same codes."""
    labels = (
        np.repeat(np.arange(num_classes), count // num_classes).astype(np.int32)
        if spec.conditional
        else None
    )
    return evaluate.shared_codes(count if labels is None else len(labels), latent_dim, seed), labels


def sample_scores(
    evaluator: evaluate.Evaluator,
    images: np.ndarray,
    reference: np.ndarray,
    labels: np.ndarray | None,
    seed: int,
) -> dict:
    """`evaluate.sample_quality` and the digit shares and coverage of images in [0, 1]."""
    scores = evaluate.sample_quality(evaluator, images, reference, labels, seed=seed)
    return {**scores, **coverage(digit_shares(evaluator.embed(images)[1]))}


def real_scores(evaluator, splits: data.DatasetSplits, count: int, seed: int) -> dict:
    """Real training images against the test images: the floor every model is read against."""
    chosen = np.sort(np.random.default_rng(seed).choice(len(splits.train), count, replace=False))
    real = splits.train.subset(chosen)
    return sample_scores(
        evaluator, real.images / 255.0, splits.test.images[:count] / 255.0, real.labels, seed
    )


class EpochSnapshots(keras.callbacks.Callback):
    """After each epoch: a grid of samples of fixed codes and, with the evaluator, the Frechet
    distance of `codes` to the first as many test images and the digit shares. Kept in `path`
    (work/), so a resumed run keeps the earlier epochs'."""

    def __init__(self, path: Path, grid: tuple, codes: tuple, evaluator, reference_features):
        super().__init__()
        self.path, self.grid, self.codes, self.evaluator = Path(path), grid, codes, evaluator
        self.reference = (
            sample_metrics.gaussian_statistics(reference_features)
            if reference_features is not None
            else None
        )

    def load(self) -> dict:
        if not self.path.exists():
            return {"rows": [], "grids": {}}
        with np.load(self.path) as saved:
            return {
                "rows": json.loads(str(saved["rows"])),
                "grids": {
                    int(k.split("_")[1]): saved[k] for k in saved.files if k.startswith("grid_")
                },
            }

    def on_train_begin(self, logs=None):
        self.first_epoch = True

    def on_epoch_begin(self, epoch, logs=None):
        """The first epoch of this session drops what a run beyond it left (a fresh start: all of
        it)."""
        if self.first_epoch and self.path.exists():
            saved = self.load()
            self.save(
                [r for r in saved["rows"] if r["epoch"] <= epoch],
                {e: g for e, g in saved["grids"].items() if e <= epoch},
            )
        self.first_epoch = False

    def save(self, rows: list, grids: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(
            self.path, rows=json.dumps(rows), **{f"grid_{e}": g for e, g in grids.items()}
        )

    def on_epoch_end(self, epoch, logs=None):
        saved = self.load()
        row = {"epoch": epoch + 1}
        if self.evaluator is not None:
            features, logits = self.evaluator.embed(
                evaluate.decode_in_chunks(self.model, *self.codes)
            )
            statistics = sample_metrics.gaussian_statistics(features)
            row["frechet_distance"] = sample_metrics.frechet_distance_from_statistics(
                *statistics, *self.reference
            )
            row.update(coverage(digit_shares(logits)))
        rows = [r for r in saved["rows"] if r["epoch"] != epoch + 1] + [row]
        grids = {
            **saved["grids"],
            epoch + 1: _to_bytes(evaluate.decode_in_chunks(self.model, *self.grid)),
        }
        self.save(rows, grids)


def _to_bytes(images: np.ndarray) -> np.ndarray:
    return np.round(np.clip(images, 0, 1) * 255).astype(np.uint8)


class LabelledLikelihood:
    """A CVAE seen as a model of p(x | y) for the labels of the batch at hand (held in a variable),
    with the `posterior(x, training)`, `likelihood(z, training)`, `prior()` that the
    importance-weighted NLL of `vaegan_tf.evaluate` takes; one object, so its traced function is
    reused across batches."""

    def __init__(self, cvae):
        self.cvae = cvae
        self.labels = tf.Variable(
            tf.zeros((1,), tf.int32), shape=tf.TensorShape([None]), trainable=False
        )

    def posterior(self, x, training: bool):
        return self.cvae.posterior(x, self.labels, training)

    def likelihood(self, z, training: bool):
        # z is [draws * B, latent], draw-major, as the estimator flattens it
        repeats = tf.shape(z)[0] // tf.shape(self.labels)[0]
        return self.cvae.likelihood(z, tf.tile(self.labels, [repeats]), training)

    def prior(self):
        return self.cvae.prior()

    def heldout_nll(
        self,
        images: np.ndarray,
        labels: np.ndarray,
        num_samples: int,
        seed: int,
        batch_size: int = 100,
    ) -> float:
        """Mean -log p(x | y) in nats (Burda et al. 2015, eq. 8, conditioned on y)."""
        estimates = []
        for start in range(0, len(images), batch_size):
            self.labels.assign(labels[start : start + batch_size].astype(np.int32))
            estimates.append(
                evaluate.importance_weighted_log_likelihood(
                    self, images[start : start + batch_size], num_samples, seed=seed + start
                )
            )
        return float(-np.mean(np.concatenate(estimates)))


# Training


def train_group_model(config: HW4Config, spec: ModelSpec, splits: data.DatasetSplits, callbacks=()):
    """One model of the group, trained (or loaded from a finished run of the same config). VAEs read
    dynamically binarized images, GANs grey images in [-1, 1], critic_steps * batch of them a
    step."""
    build = gans.build_gan if spec.is_gan else build_cvae if spec.conditional else build_vae
    # a GAN step takes critic_steps batches: one per critic update
    batch = spec.config.critic_steps * config.batch_size if spec.is_gan else config.batch_size
    return common.train_model(
        config.run,
        f"{config.name}_{spec.key}",
        build,
        spec.config,
        splits,
        epochs=spec.epochs,
        batch_size=batch,
        seed=config.seed,
        preprocessing="symmetric" if spec.is_gan else "dynamic_binarize",
        validation=not spec.is_gan,
        callbacks=callbacks,
    )


def snapshots_for(config: HW4Config, spec: ModelSpec, splits, evaluator) -> EpochSnapshots:
    latent = spec.config.latent_dim
    grid = sample_codes(spec, latent, 100, config.seed)
    codes = sample_codes(spec, latent, config.epoch_samples, config.seed + 2)
    reference = None
    if evaluator is not None:
        reference = evaluator.embed(splits.test.images[: config.epoch_samples] / 255.0)[0]
    path = config.run.work_dir(f"{config.name}_{spec.key}") / "epochs.npz"
    return EpochSnapshots(path, grid, codes, evaluator, reference)


def evaluator_of(config) -> evaluate.Evaluator | None:
    """The evaluator the study's samples are measured with; None where it is not required and
    missing (a smoke run)."""
    evaluator = evaluate.evaluator_or_skip(config.require_evaluator)
    return None if isinstance(evaluator, str) else evaluator


def run(config: HW4Config, splits: data.DatasetSplits | None = None) -> dict:
    """Trains, measures and draws one figure group into results/hw4_<group>/."""
    started = time.perf_counter()
    splits = splits or config.run.load("mnist")
    evaluator = evaluator_of(config)
    out = config.run.results(config.name)
    out.mkdir(parents=True, exist_ok=True)
    trained, metrics = {}, {"models": {}, "order": [spec.key for spec in models_of(config)]}
    for spec in models_of(config):
        if (
            config.smoke
        ):  # a smoke run checks training itself: never the reuse of an earlier smoke run
            shutil.rmtree(config.run.work_dir(f"{config.name}_{spec.key}"), ignore_errors=True)
        snapshots = snapshots_for(config, spec, splits, evaluator) if spec.is_gan else None
        outcome = train_group_model(
            config, spec, splits, callbacks=[snapshots] if snapshots else []
        )
        trained[spec.key] = (spec, outcome)
        shutil.copyfile(outcome.log_csv, out / f"{spec.key}_training_log.csv")
        entry = {
            "title": spec.title,
            **outcome.summary(),
            "seconds_per_epoch": round(outcome.wall_seconds / max(outcome.epochs_trained, 1), 1),
        }
        log = records.read_csv_log(out / f"{spec.key}_training_log.csv")
        for column in LOGGED_BY_EPOCH:
            if column in log:
                entry[f"{column}_by_epoch"] = [round(float(v), 5) for v in log[column]]
        if snapshots is not None:
            entry["by_epoch"] = snapshots.load()["rows"]
        metrics["models"][spec.key] = entry
    measure_group(config, trained, splits, evaluator, metrics)
    arrays = DRAW[config.group](config, trained, splits, out)
    for key, gradients in arrays.get("gradients", {}).items():
        metrics["models"][key]["gradient_median_abs"] = {
            network: {layer: float(np.median(np.abs(values))) for layer, values in layers.items()}
            for network, layers in gradients.items()
        }
    if evaluator is not None:
        metrics["real_vs_real"] = real_scores(
            evaluator, splits, min(config.quality_samples, len(splits.test)), config.seed
        )
        metrics["real_vs_real_epoch_samples"] = real_scores(
            evaluator, splits, min(config.epoch_samples, len(splits.test)), config.seed
        )
        hw4_report.digit_shares_figure(metrics, out / "digit_shares.png")
        if config.group != "vae":
            rows = {entry["title"]: entry["by_epoch"] for entry in metrics["models"].values()}
            hw4_report.fd_by_epoch_figure(
                rows,
                out / "fd_by_epoch.png",
                real=metrics["real_vs_real_epoch_samples"]["frechet_distance"],
            )
    else:
        metrics["sample_quality"] = "skipped: no evaluator"
    if config.group == "vae" and config.probe_steps:
        metrics["conv_vae_learning_rate_probe"] = learning_rate_probe(config, splits)
    metrics["claims"] = hw4_report.CLAIMS[config.group](metrics)
    strategy = next(iter(trained.values()))[1].strategy
    records.write_json(out / "metrics.json", metrics)
    records.write_json(
        out / "config.json",
        {**dataclasses.asdict(config), "models": {s.key: s.config for s, _ in trained.values()}},
    )
    epochs = ", ".join(f"{o.epochs_trained} ({s.title})" for s, o in trained.values())
    records.write_json(
        out / "environment.json",
        records.environment(
            strategy_description=distribute.describe(strategy),
            epochs=epochs,
            wall_seconds=sum(o.wall_seconds for _, o in trained.values()),
            total_seconds=round(time.perf_counter() - started, 1),
            data_source=splits.source,
        ),
    )
    hw4_report.write_group_readme(out, config.group)
    if config.smoke:
        check_outputs(config, metrics, arrays, out)
    return metrics


def measure_group(
    config: HW4Config, trained: dict, splits: data.DatasetSplits, evaluator, metrics: dict
) -> None:
    """Likelihoods of the VAEs and sample quality of every model, into metrics['models']."""
    test = (
        splits.test
        if config.test_images is None
        else splits.test.subset(np.arange(config.test_images))
    )
    bits = evaluate.binarized(test, TEST_BINARIZATION_SEED)
    count = min(config.quality_samples, len(splits.test))
    for key, (spec, outcome) in trained.items():
        entry, model = metrics["models"][key], outcome.model
        if not spec.is_gan:
            entry.update(vae_likelihoods(model, spec, bits, test.labels, config))
        if evaluator is None:
            continue
        z, labels = sample_codes(spec, spec.config.latent_dim, count, config.seed + 1)
        images = evaluate.decode_in_chunks(model, z, labels)
        entry["sample_quality"] = sample_scores(
            evaluator, images, splits.test.images[: len(z)] / 255.0, labels, config.seed
        )
        if spec.conditional:
            entry["per_class"] = evaluate.per_class_quality(
                evaluator,
                images,
                labels,
                splits.test.images / 255.0,
                splits.test.labels,
                seed=config.seed,
            )
        entry["mean_pixel"] = float(images.mean())


def vae_likelihoods(
    model, spec: ModelSpec, bits: np.ndarray, labels: np.ndarray, config: HW4Config
) -> dict:
    """Held-out negative ELBO and importance-weighted NLL on one fixed binarization of the test
    images; for the CVAE both are of p(x | y)."""
    k = config.importance_samples
    if spec.conditional:
        dataset = tf.data.Dataset.from_tensor_slices((bits, labels.astype(np.int32))).batch(500)
        elbo = {
            name: float(v)
            for name, v in model.evaluate(dataset, verbose=0, return_dict=True).items()
        }
        nll = LabelledLikelihood(model).heldout_nll(bits, labels, k, seed=config.seed)
    else:
        elbo = evaluate.heldout_elbo(model, bits)
        nll = evaluate.heldout_nll(model, bits, k, seed=config.seed)
    return {
        "test_negative_elbo": elbo["loss"],
        "test_reconstruction": elbo["reconstruction"],
        "test_kl": elbo["kl"],
        "test_nll": nll,
        "importance_samples": k,
        "test_images": len(bits),
    }


# Figures: each returns the arrays it drew, for `check_outputs`.


def _decode(model, z, labels=None) -> np.ndarray:
    return evaluate.decode_in_chunks(model, np.asarray(z, np.float32), labels)


def _side_by_side(grids: list[np.ndarray]) -> np.ndarray:
    blank = np.ones_like(grids[0][:, :1])
    return np.concatenate([part for grid in grids for part in (grid, blank)][:-1], axis=1)


def draw_vae(config: HW4Config, trained: dict, splits: data.DatasetSplits, out: Path) -> dict:
    models = {key: outcome.model for key, (_, outcome) in trained.items()}
    titles = {key: spec.title for key, (spec, _) in trained.items()}
    logs = {key: records.read_csv_log(out / f"{key}_training_log.csv") for key in models}
    hw4_report.vae_loss_figure(logs, titles, out / "loss_curves.png")
    z = evaluate.shared_codes(100, 2, config.seed)
    unconditional = [key for key in models if not trained[key][0].conditional]
    grids = {key: _decode(models[key], z).reshape(10, 10, 28, 28) for key in unconditional}
    plots.image_grid(
        _side_by_side(list(grids.values())),
        out / "samples.png",
        title="Same z ~ N(0, I), left to right: " + ", ".join(titles[k] for k in unconditional),
    )
    test = splits.test.subset(np.arange(min(len(splits.test), 10_000)))
    bits = evaluate.binarized(test, TEST_BINARIZATION_SEED)
    codes = {}
    for key in unconditional:
        codes[key] = np.concatenate(
            [
                np.asarray(models[key].encode_mean(bits[i : i + 1000]))
                for i in range(0, len(bits), 1000)
            ]
        )
        plots.latent_scatter(
            codes[key],
            test.labels,
            out / f"latent_scatter_{key}.png",
            title=f"{titles[key]}: posterior means of the test images",
        )
    # rows from z2 = 2 (top) to -2, columns z1 from -2 to 2: the scatter's orientation
    grid_codes = np.array([[a, b] for b in LATENT_GRID[::-1] for a in LATENT_GRID], np.float32)
    latent_grid = _decode(models["vae"], grid_codes).reshape(10, 10, 28, 28)
    plots.image_grid(
        latent_grid,
        out / "latent_grid.png",
        row_labels=[f"{v:.1f}" for v in LATENT_GRID[::-1]],
        col_labels=[f"{v:.1f}" for v in LATENT_GRID],
        title="VAE decoded over z1 (columns), z2 (rows) in linspace(-2, 2, 10)",
    )
    digits = np.repeat(np.arange(10), 10).astype(np.int32)
    cvae_samples = _decode(models["cvae"], np.tile(z[:10], (10, 1)), digits).reshape(10, 10, 28, 28)
    plots.image_grid(
        cvae_samples,
        out / "cvae_samples.png",
        row_labels=list(range(10)),
        title="CVAE: each row a digit, each column one z ~ N(0, I)",
    )
    style = _decode(models["cvae"], grid_codes, np.full(len(grid_codes), STYLE_DIGIT, np.int32))
    style = style.reshape(10, 10, 28, 28)
    plots.image_grid(
        style,
        out / "cvae_style_grid.png",
        row_labels=[f"{v:.1f}" for v in LATENT_GRID[::-1]],
        col_labels=[f"{v:.1f}" for v in LATENT_GRID],
        title=f"CVAE, digit {STYLE_DIGIT}, over z in linspace(-2, 2, 10)^2: the style",
    )
    return {
        "samples": grids,
        "codes": codes,
        "latent_grid": latent_grid,
        "grid_codes": grid_codes,
        "cvae_samples": cvae_samples,
        "style": style,
        "logs": logs,
    }


def _interpolations(model, config: HW4Config, labels=None) -> np.ndarray:
    """Six z pairs, each blended (1 - alpha) z1 + alpha z2 at alpha = 0, 0.2, ..., 1:
    [6, 6, H, W]."""
    pairs = evaluate.shared_codes(12, model.latent_dim, config.seed + 3).reshape(6, 2, -1)
    alphas = INTERPOLATION_ALPHAS[None, :, None]
    codes = ((1 - alphas) * pairs[:, :1] + alphas * pairs[:, 1:]).reshape(36, -1)
    return _decode(model, codes, labels).reshape(6, len(INTERPOLATION_ALPHAS), 28, 28)


def _gan_common(config: HW4Config, trained: dict, out: Path) -> dict:
    """Final samples of fixed codes side by side, loss curves and FD by epoch, for any GAN group."""
    arrays = {"final": {}, "by_epoch": {}}
    for key, (spec, outcome) in trained.items():
        z, labels = sample_codes(spec, spec.config.latent_dim, 100, config.seed)
        arrays["final"][key] = _decode(outcome.model, z, labels).reshape(10, 10, 28, 28)
        metrics = ["generator_loss", "critic_loss", "critic_real", "critic_fake"]
        if spec.config.gradient_penalty_weight:
            metrics.append("gradient_penalty")
        plots.loss_curves(
            out / f"{key}_training_log.csv",
            out / f"loss_curves_{key}.png",
            metrics=metrics,
            title=f"{spec.title}: losses per epoch (critic = real term + fake term)",
        )
        saved_path = config.run.work_dir(f"{config.name}_{key}") / "epochs.npz"
        with np.load(saved_path) as saved:
            arrays["by_epoch"][key] = {
                "rows": json.loads(str(saved["rows"])),
                "grids": {
                    int(k.split("_")[1]): saved[k] / 255.0
                    for k in saved.files
                    if k.startswith("grid_")
                },
            }
    titles = [spec.title for spec, _ in trained.values()]
    conditional = next(iter(trained.values()))[0].conditional
    plots.image_grid(
        _side_by_side(list(arrays["final"].values())),
        out / "samples.png",
        row_labels=list(range(10)) if conditional else None,
        title=("Each row a digit; same z per column. " if conditional else "Same z. ")
        + "Left to right: "
        + ", ".join(titles),
    )
    return arrays


def draw_gan(config: HW4Config, trained: dict, splits, out: Path) -> dict:
    arrays = _gan_common(config, trained, out)
    for key, (spec, outcome) in trained.items():
        by_epoch = arrays["by_epoch"][key]["grids"]
        shown = [e for e in (1, 2, 5, 10, 20, 30, 50, 100, 150, 200) if e in by_epoch]
        plots.image_grid(
            np.stack([by_epoch[e][:10].reshape(10, 28, 28) for e in shown]),
            out / f"samples_by_epoch_{key}.png",
            row_labels=[f"epoch {e}" for e in shown],
            title=f"{spec.title}: the same ten z after each epoch shown",
        )
        arrays.setdefault("interpolations", {})[key] = _interpolations(outcome.model, config)
        pairs = evaluate.shared_codes(12, outcome.model.latent_dim, config.seed + 3).reshape(
            6, 2, -1
        )
        arrays.setdefault("interpolation_ends", {})[key] = np.stack(
            [_decode(outcome.model, pairs[:, 0]), _decode(outcome.model, pairs[:, 1])]
        ).reshape(2, 6, 28, 28)
        plots.interpolation_strips(
            arrays["interpolations"][key],
            out / f"interpolation_{key}.png",
            alphas=INTERPOLATION_ALPHAS,
            title=f"{spec.title}: (1 - alpha) z1 + alpha z2, six pairs (rows)",
        )
    draw_matched_epochs(arrays["by_epoch"], out / "matched_epochs.png")
    return arrays


def draw_matched_epochs(by_epoch: dict, path: Path) -> np.ndarray:
    """The GAN (left) and the DCGAN (right) after the same epochs, the same ten z each, and last the
    report's pairing: the DCGAN at epoch 20 beside the GAN at 150 (where both were trained that
    long)."""
    gan, dcgan = by_epoch["gan"]["grids"], by_epoch["dcgan"]["grids"]
    shown = [e for e in (1, 2, 5, 10, 20, 30, 50) if e in gan and e in dcgan]
    pairs = [(gan[e], dcgan[e], f"epoch {e}") for e in shown]
    if 150 in gan and 20 in dcgan:
        pairs.append((gan[150], dcgan[20], "150 | 20"))
    rows = [
        np.concatenate([left[:10], np.ones_like(left[:1]), right[:10]]).reshape(21, 28, 28)
        for left, right, _ in pairs
    ]
    plots.image_grid(
        np.stack(rows),
        path,
        row_labels=[label for _, _, label in pairs],
        title="Same z: GAN (left) and DCGAN (right) after the epochs at left",
    )
    return np.stack(rows)


def draw_cgan(config: HW4Config, trained: dict, splits, out: Path) -> dict:
    return _gan_common(config, trained, out)


def draw_wgan(config: HW4Config, trained: dict, splits: data.DatasetSplits, out: Path) -> dict:
    arrays = _gan_common(config, trained, out)
    batch = next(iter(data.pipeline(splits.test, batch_size=500, preprocessing="symmetric")))
    arrays["gradients"] = {}
    for key, (spec, outcome) in trained.items():
        gradients = layer_gradients(outcome.model, batch[0][: config.batch_size])
        arrays["gradients"][key] = gradients
        hw4_report.gradient_histograms(
            gradients,
            out / f"gradients_{key}.png",
            title=f"{spec.title}: gradients per layer after training",
        )
    return arrays


def layer_gradients(model: gans.GANModel, real: tf.Tensor) -> dict:
    """The gradients of each network's loss with respect to each of its kernels, on one batch of
    real images and as many fresh fakes: {"generator": {layer: values}, "critic": {...}}
    (Fig. 11(b))."""
    count = int(real.shape[0])
    with tf.GradientTape(persistent=True) as tape:
        fake = model.generator(model.draw_noise(count), None, training=True)
        terms = model.critic_terms(real, fake, None, training=True)
        critic_loss = tf.reduce_mean(terms.total)
        generator_loss = tf.reduce_mean(
            model.loss_pair.generator(model.critic(fake, None, training=True))
        )
    result = {}
    for name, network, loss in (
        ("generator", model.generator, generator_loss),
        ("critic", model.critic, critic_loss),
    ):
        kernels = [v for v in network.trainable_variables if "kernel" in v.path]
        values = tape.gradient(loss, kernels)
        result[name] = {
            f"{i + 1}: {v.path.split('/')[-2]}": np.asarray(g).ravel()
            for i, (v, g) in enumerate(zip(kernels, values, strict=True))
        }
    del tape
    return result


DRAW = {"vae": draw_vae, "gan": draw_gan, "cgan": draw_cgan, "wgan": draw_wgan}


# The smoke mode's checks: values, not only files.


class OutputCheckFailed(AssertionError):
    """A smoke run's output has a wrong value."""


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise OutputCheckFailed(message)


def check_outputs(config: HW4Config, metrics: dict, arrays: dict, out: Path) -> None:
    """What a smoke run checks of its outputs' values, beyond their existence."""
    for key, entry in metrics["models"].items():
        log = records.read_csv_log(out / f"{key}_training_log.csv")
        _require(
            len(log["epoch"]) == entry["epochs"],
            f"{key}: {len(log['epoch'])} log rows, {entry['epochs']} epochs",
        )
        # GANs have no validation data (Keras still writes val_ columns of "NA" for them)
        checked = [
            v
            for name, v in log.items()
            if not (name.startswith("val_") and "test_nll" not in entry)
        ]
        _require(
            all(np.all(np.isfinite(v)) for v in checked), f"{key}: a non-finite loss in its log"
        )
        if (
            "test_nll" in entry
        ):  # the k-sample bound is tighter than the ELBO (Burda et al. Theorem 1)
            _require(
                entry["test_nll"] <= entry["test_negative_elbo"] + 0.5,
                f"{key}: NLL {entry['test_nll']:.2f} above the negative ELBO "
                f"{entry['test_negative_elbo']:.2f}",
            )
        quality = entry.get("sample_quality")
        if quality:
            _require(
                abs(sum(quality["digit_shares"]) - 1) < 1e-6, f"{key}: digit shares do not sum to 1"
            )
            _require(
                quality["frechet_distance"] > metrics["real_vs_real"]["frechet_distance"],
                f"{key}: a smoke-trained model's FD is not above real images'",
            )
    for name, values in _image_arrays(arrays):
        _require(values.min() >= 0 and values.max() <= 1, f"{name}: images outside [0, 1]")
    if config.group == "vae":
        vae = arrays["codes"]["vae"]
        _require(
            vae.shape[1] == 2 and np.isfinite(vae).all(), "latent codes are not finite 2-D points"
        )
        _require(
            np.allclose(arrays["grid_codes"][0], [-2, 2])
            and np.allclose(arrays["grid_codes"][-1], [2, -2]),
            "the decoded grid does not span linspace(-2, 2, 10)^2",
        )
        bn, plain = arrays["logs"]["vae"], arrays["logs"]["vae_no_bn"]
        _require(
            "val_loss" in bn and "val_loss" in plain, "the BN comparison needs validation curves"
        )
    if config.group == "gan":
        for key, strips in arrays["interpolations"].items():
            first, last = arrays["interpolation_ends"][key]
            _require(
                strips.shape == (6, 6, 28, 28),
                f"{key}: interpolation strips of shape {strips.shape}",
            )
            _require(
                np.allclose(strips[:, 0], first, atol=1e-5)
                and np.allclose(strips[:, -1], last, atol=1e-5),
                f"{key}: the strips do not start at G(z1) and end at G(z2)",
            )
            _require(not np.allclose(first, last), f"{key}: G(z1) and G(z2) are the same image")
    if config.group in ("gan", "cgan", "wgan"):
        for key, saved in arrays["by_epoch"].items():
            epochs = [row["epoch"] for row in saved["rows"]]
            _require(
                epochs == list(range(1, metrics["models"][key]["epochs"] + 1)),
                f"{key}: per-epoch snapshots for epochs {epochs}",
            )
    if config.group == "wgan":
        for key, gradients in arrays["gradients"].items():
            for network, layers in gradients.items():
                _require(
                    all(np.isfinite(v).all() and np.abs(v).max() > 0 for v in layers.values()),
                    f"{key}: a {network} layer has zero or non-finite gradients",
                )
    print(f"smoke checks passed: {out}")


def _image_arrays(arrays, prefix=""):
    for name, value in arrays.items():
        if isinstance(value, dict):
            if name not in ("codes", "logs", "gradients"):
                yield from _image_arrays(value, f"{prefix}{name}/")
        elif isinstance(value, np.ndarray) and value.ndim >= 3 and name not in ("codes",):
            yield f"{prefix}{name}", value
