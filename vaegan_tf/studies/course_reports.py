"""Hu (2018) and Gaikwad (2020), two course reports that compared small VAEs and GANs on MNIST by
their pictures only, reproduced and measured: `make hu` writes results/hu/, `make gaikwad`
results/gaikwad/. The networks and the readings of their tables are
`vaegan_tf.models.course_reports`; training, sampling and measuring are those of the suite's
Srinivasan et al. study (`vaegan_tf.studies.hw4`: `train_group_model`, `EpochSnapshots`,
`measure_group`, `real_scores`), so a number here means what it means there.

- Hu: his VAE (Tables 1-2) and DCGAN (Tables 3-4); Figures 1 and 3 (the same samples after
  several epochs), Figure 2 (real test digits beside their VAE reconstructions) and Figure 4 (real
  digits beside DCGAN samples).
- Gaikwad: DenseGAN, DenseGAN-Deep and CNNGAN (Table 1), each at every learning rate of his Table 3
  (1e-5, 1e-6, 1e-4), and DenseVAE and CNNVAE (Table 2); Figure 1 (samples of the three GANs),
  Figure 2 (generator and discriminator loss per epoch), Figure 3 (VAE outputs beside the real
  inputs), Figure 4 (the negative ELBO per epoch).

Every model: FD, KID, Inception-score analogue, digit coverage (the evaluator's share of each digit
among the samples), sharpness ratio, parameters, epochs and wall time, beside real training images;
the VAEs also the held-out negative ELBO and importance-weighted NLL. Each report's conclusions get a
verdict from these numbers (`course_reports_report`).

Readings of what the reports leave open (the README repeats them):
- Data: the suite's TF1 split. GANs read grey images in [-1, 1] (Gaikwad's eq. 5; Hu's tanh
  output); VAEs dynamically binarized images, for the Bernoulli likelihood both reports' losses
  are, so the held-out likelihoods are those of every other VAE of the suite.
- Schedules: Gaikwad's Table 3 (batch 128, 50 epochs for every model). Hu gives none: batch 128
  (Radford et al. Sec. 4, whom he cites), 30 VAE epochs and 20 DCGAN epochs, enough for his
  figures' "different training epochs" (1, 2, 5, 10, 20, 30 are drawn).
- "Real beside reconstructed / generated" (Hu's Figs. 2 and 4, Gaikwad's Fig. 3) is measured as
  the pixel MSE of each output to the real test image beside it and the share of pairs the
  evaluator puts in the same digit, against the same numbers for unrelated real pairs.
"""

from __future__ import annotations

import dataclasses
import shutil
import time
from pathlib import Path

import numpy as np

from vaegan_tf import data, evaluate, plots, records, training
from vaegan_tf.choices import check_choice
from vaegan_tf.models import course_reports as nets
from vaegan_tf.studies import common, course_reports_report, hw4, hw4_report
from vaegan_tf.studies.common import RunSettings, follow_study_seed
from vaegan_tf.studies.hw4 import ModelSpec

REPORTS = ("hu", "gaikwad")
EPOCHS = {  # report -> (VAE epochs, GAN epochs)
    "hu": (30, 20),  # not given: module docstring
    "gaikwad": (50, 50),  # Table 3
}
SHOWN_EPOCHS = (1, 2, 5, 10, 20, 30, 50)
PAIRS_SHOWN = 10  # rows of the real-beside-output figures
LOGGED_BY_EPOCH = (*hw4.LOGGED_BY_EPOCH, "critic_loss")
GAIKWAD_GANS = {  # key -> (title, config)
    "dense_gan": ("DenseGAN", nets.GAIKWAD_DENSE_GAN),
    "dense_gan_deep": ("DenseGAN-Deep", nets.GAIKWAD_DENSE_GAN_DEEP),
    "cnn_gan": ("CNNGAN", nets.GAIKWAD_CNN_GAN),
}
GAIKWAD_VAES = {
    "dense_vae": ("DenseVAE", nets.GAIKWAD_DENSE_VAE),
    "cnn_vae": ("CNNVAE", nets.GAIKWAD_CNN_VAE),
}


@dataclasses.dataclass(frozen=True)
class CourseReportConfig:
    report: str = "hu"
    seed: int = 0
    batch_size: int = 128  # Gaikwad's Table 3; Radford et al.'s for Hu
    run: RunSettings = RunSettings()
    vae_epochs: int | None = None  # None: EPOCHS[report]
    gan_epochs: int | None = None
    learning_rates: tuple[float, ...] = nets.GAIKWAD_GAN_LEARNING_RATES  # Gaikwad's GANs, each
    quality_samples: int = evaluate.DEFAULT_SAMPLES
    epoch_samples: int = 2000  # the per-epoch Frechet distance's samples (and test images)
    importance_samples: int = 1000  # k of the NLL: latents of 4 to 20 dimensions
    test_images: int | None = None  # None: all 10,000 (the likelihoods)
    pair_images: int = 1000  # real test images paired with an output each
    require_evaluator: bool = True
    smoke: bool = False

    def __post_init__(self):
        follow_study_seed(self)
        check_choice(self.report, REPORTS, "report")
        if not self.learning_rates or any(rate <= 0 for rate in self.learning_rates):
            raise ValueError(f"learning_rates {self.learning_rates} must be positive, at least one")

    @property
    def name(self) -> str:
        return self.report + ("_smoke" if self.smoke else "")

    def epochs(self, is_gan: bool) -> int:
        vae_epochs, gan_epochs = EPOCHS[self.report]
        if is_gan:
            return self.gan_epochs or gan_epochs
        return self.vae_epochs or vae_epochs


def learning_rate_key(rate: float) -> str:
    """'1e-05' -> 'lr1e-05': a folder-safe suffix."""
    return f"lr{rate:g}"


def models_of(config: CourseReportConfig) -> list[ModelSpec]:
    """The report's models, seeded with the run's seed."""
    if config.report == "hu":
        specs = [
            ModelSpec("vae", "VAE (Tables 1-2)", nets.HU_VAE, config.epochs(False)),
            ModelSpec("dcgan", "DCGAN (Tables 3-4)", nets.HU_DCGAN, config.epochs(True)),
        ]
    else:
        specs = [
            ModelSpec(
                f"{key}_{learning_rate_key(rate)}",
                f"{title}, lr {rate:g}",
                nets.with_learning_rate(model, rate),
                config.epochs(True),
            )
            for key, (title, model) in GAIKWAD_GANS.items()
            for rate in config.learning_rates
        ] + [
            ModelSpec(key, title, model, config.epochs(False))
            for key, (title, model) in GAIKWAD_VAES.items()
        ]
    return [
        dataclasses.replace(spec, config=common.seeded(spec.config, config.seed)) for spec in specs
    ]


# Measures beyond hw4's


def parameters(model, spec: ModelSpec) -> dict:
    """Parameter counts per network (batch norm's moving statistics included)."""
    if spec.is_gan:
        return {"generator": model.generator.count_params(), "critic": model.critic.count_params()}
    return {"encoder": model.encoder.count_params(), "decoder": model.decoder.count_params()}


def pairs_of(model, spec: ModelSpec, real: np.ndarray, seed: int) -> np.ndarray:
    """What each report shows beside a real digit: a VAE's reconstruction of it (decoded from the
    posterior mean) or a GAN's sample of a fresh shared code. [N, H, W, C] in [0, 1]."""
    if spec.is_gan:
        return evaluate.decode_in_chunks(
            model, evaluate.shared_codes(len(real), spec.config.latent_dim, seed + 5)
        )
    return np.concatenate(
        [np.asarray(model.reconstruct(real[i : i + 500])) for i in range(0, len(real), 500)]
    )


def pairing_scores(
    real: np.ndarray, labels: np.ndarray, outputs: np.ndarray, evaluator=None
) -> dict:
    """How much outputs[i] mimics real[i]: mean pixel MSE, and with the evaluator the share of pairs
    it puts in the same digit and the most frequent confusions (true digit -> output digit)."""
    scores = {"pixel_mse": float(np.mean((outputs - real) ** 2))}
    if evaluator is not None:
        predicted = np.argmax(evaluator.embed(outputs)[1], -1)
        scores["digit_agreement"] = float(np.mean(predicted == labels))
        wrong = predicted != labels
        pairs, counts = np.unique(
            np.stack([labels[wrong], predicted[wrong]], 1), axis=0, return_counts=True
        )
        order = np.argsort(-counts, kind="stable")[:3]
        scores["top_confusions"] = [
            [int(pairs[i][0]), int(pairs[i][1]), int(counts[i])] for i in order
        ]
    return scores


def unrelated_pairs(real: np.ndarray, labels: np.ndarray, evaluator, seed: int) -> dict:
    """`pairing_scores` of real digits beside other real digits, a random pairing: what an output
    that does not mimic its real digit at all scores (digit agreement near 0.1)."""
    order = np.random.default_rng(seed).permutation(len(real))
    scores = pairing_scores(real, labels, real[order], evaluator)
    if evaluator is not None:  # the evaluator's digit of real[order] against the label of real
        scores["digit_agreement"] = float(
            np.mean(np.argmax(evaluator.embed(real[order])[1], -1) == labels)
        )
    scores.pop("top_confusions", None)
    return scores


# Figures


def _pair_grid(real: np.ndarray, outputs: np.ndarray) -> np.ndarray:
    """[rows, 2, H, W]: real (left) and its output (right)."""
    return np.stack([real[:PAIRS_SHOWN, ..., 0], outputs[:PAIRS_SHOWN, ..., 0]], 1)


def draw_by_epoch(by_epoch_grids: dict, path: Path, title: str) -> np.ndarray:
    shown = sorted({e for e in SHOWN_EPOCHS if e in by_epoch_grids} | {max(by_epoch_grids)})
    grid = np.stack([by_epoch_grids[e][:10, ..., 0] for e in shown])
    plots.image_grid(grid, path, row_labels=[f"epoch {e}" for e in shown], title=title)
    return grid


def draw(config: CourseReportConfig, specs: list[ModelSpec], cells: dict, real, out: Path) -> None:
    """The reports' figures, named after them, from the models' cells (`read_cell`)."""
    for spec in specs:
        metrics = (
            ["generator_loss", "critic_loss", "critic_real", "critic_fake"]
            if spec.is_gan
            else ["loss", "reconstruction", "kl"]
        )
        plots.loss_curves(
            out / CELLS / spec.key / "training_log.csv",
            out / f"loss_curves_{spec.key}.png",
            metrics=metrics,
            title=f"{spec.title}: "
            + ("generator and discriminator losses" if spec.is_gan else "negative ELBO")
            + " per epoch",
        )
    grids = {key: cell["grids"] for key, cell in cells.items()}
    pairs = {key: cell["pairs"] for key, cell in cells.items()}
    if config.report == "hu":
        draw_by_epoch(grids["vae"], out / "fig1_vae_samples_by_epoch.png", "VAE: the same z")
        plots.image_grid(
            _pair_grid(real, pairs["vae"]),
            out / "fig2_vae_real_vs_reconstructed.png",
            col_labels=["real", "VAE"],
        )
        draw_by_epoch(grids["dcgan"], out / "fig3_dcgan_samples_by_epoch.png", "DCGAN: the same z")
        plots.image_grid(
            _pair_grid(real, pairs["dcgan"]),
            out / "fig4_dcgan_real_vs_generated.png",
            col_labels=["real", "DCGAN"],
        )
        return
    for rate in config.learning_rates:
        keys = [f"{key}_{learning_rate_key(rate)}" for key in GAIKWAD_GANS]
        final = [grids[key][max(grids[key])][:100].reshape(10, 10, 28, 28) for key in keys]
        plots.image_grid(
            hw4._side_by_side(final),
            out / f"fig1_gan_samples_{learning_rate_key(rate)}.png",
            title=f"lr {rate:g}, same z; left to right: "
            + ", ".join(GAIKWAD_GANS[k][0] for k in GAIKWAD_GANS),
        )
    vaes = list(GAIKWAD_VAES)
    plots.image_grid(
        np.concatenate([_pair_grid(real, pairs[key]) for key in vaes], 1),
        out / "fig3_vae_outputs_vs_real.png",
        col_labels=[label for key in vaes for label in ("real", GAIKWAD_VAES[key][0])],
    )


# One model's cell: trained once, measured once, kept in results/ across sessions

CELLS = "models"  # results/<report>/models/<key>/: one cell per model


def model_keys(config: CourseReportConfig) -> list[str]:
    return [spec.key for spec in models_of(config)]


def cell_identity(config: CourseReportConfig, spec: ModelSpec) -> str:
    """What makes two cells one measurement: the model, its schedule and batches, the seed, the
    samples and test images it is measured on; not where it ran or wrote."""
    measured_on = ("seed", "batch_size", "quality_samples", "epoch_samples", "importance_samples")
    return training.signature(
        {
            "model": spec.config,
            "epochs": spec.epochs,
            **{field: getattr(config, field) for field in measured_on},
            **{field: getattr(config, field) for field in ("test_images", "pair_images", "smoke")},
            "steps_per_epoch": config.run.steps_per_epoch,
            "evaluation_images": config.run.evaluation_images,
            "precision": config.run.precision,
        }
    )


def cell_folder(config: CourseReportConfig, key: str) -> Path:
    """Where a model's finished cell is kept: in the report's results folder, so that it is
    committed with it and a later session (another machine, its work/ gone) joins it unretrained."""
    return Path(config.run.results_root) / config.run.named(config.name) / CELLS / key


def _drawn_epochs(grids: dict) -> list[int]:
    return sorted({e for e in SHOWN_EPOCHS if e in grids} | {max(grids)})


def measure_model(
    config: CourseReportConfig, spec: ModelSpec, splits: data.DatasetSplits, evaluator, out: Path
) -> None:
    """Trains one model (or loads it finished from work/) and writes its cell to `out`:
    `metrics.json` (its entry of the report's metrics: epochs, wall time, parameters, FD by epoch,
    losses by epoch, sample quality, likelihoods, pairing with real digits; and its
    `cell_identity`), `training_log.csv`, `images.npz` (the samples of the fixed codes at the drawn
    epochs, 100 at the last, and its outputs beside the first real test images, as bytes) and
    `environment.json` (where, when and at which commit)."""
    started = time.perf_counter()
    if config.smoke:  # a smoke run checks training itself, never the reuse of an earlier one
        shutil.rmtree(config.run.work_dir(f"{config.name}_{spec.key}"), ignore_errors=True)
    snapshots = hw4.snapshots_for(config, spec, splits, evaluator)
    outcome = hw4.train_group_model(config, spec, splits, callbacks=[snapshots])
    saved = snapshots.load()
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(outcome.log_csv, out / "training_log.csv")
    log = records.read_csv_log(out / "training_log.csv")
    entry = {
        "title": spec.title,
        "is_gan": spec.is_gan,
        **outcome.summary(),
        "seconds_per_epoch": round(outcome.wall_seconds / max(outcome.epochs_trained, 1), 1),
        "parameters": parameters(outcome.model, spec),
        "by_epoch": saved["rows"],
        **{
            f"{column}_by_epoch": [round(float(v), 5) for v in log[column]]
            for column in LOGGED_BY_EPOCH
            if column in log
        },
    }
    if spec.is_gan:
        entry["learning_rate"] = spec.config.generator_optimizer.learning_rate
    hw4.measure_group(
        config, {spec.key: (spec, outcome)}, splits, evaluator, {"models": {spec.key: entry}}
    )
    real, labels = paired_test_images(config, splits)
    outputs = pairs_of(outcome.model, spec, real, config.seed)
    entry["pairing"] = pairing_scores(real, labels, outputs, evaluator)
    entry["identity"] = cell_identity(config, spec)
    last = max(saved["grids"])
    np.savez_compressed(
        out / "images.npz",
        pairs=hw4._to_bytes(outputs[:PAIRS_SHOWN]),
        **{
            f"epoch_{e}": saved["grids"][e][: 100 if e == last else 10]
            for e in _drawn_epochs(saved["grids"])
        },
    )
    records.write_json(out / "metrics.json", entry)
    records.write_json(
        out / "environment.json", common.outcome_environment(outcome, started, splits.source)
    )


def read_cell(folder: Path, identity: str) -> dict | None:
    """A finished cell (`measure_model`) of this identity: its metrics entry, environment, sample
    grids by epoch and outputs beside real digits (both in [0, 1]); None if there is none, or it
    measured another model or schedule (it is then measured again, and replaced)."""
    folder = Path(folder)
    names = ("metrics.json", "environment.json", "training_log.csv", "images.npz")
    if not all((folder / name).is_file() for name in names):
        return None
    entry = records.read_json(folder / "metrics.json")
    if entry.get("identity") != identity:
        return None
    with np.load(folder / "images.npz") as images:
        grids = {
            int(name.split("_")[1]): images[name] / 255.0
            for name in images.files
            if name.startswith("epoch_")
        }
        pairs = images["pairs"] / 255.0
    return {
        "metrics": entry,
        "environment": records.read_json(folder / "environment.json"),
        "grids": grids,
        "pairs": pairs,
    }


def paired_test_images(config: CourseReportConfig, splits: data.DatasetSplits):
    """The real test digits every model's outputs are paired with, in [0, 1], and their labels."""
    count = min(config.pair_images, len(splits.test))
    return splits.test.images[:count] / 255.0, splits.test.labels[:count]


# The study


def train(config: CourseReportConfig, keys, splits: data.DatasetSplits | None = None) -> list[str]:
    """Trains and measures the report's models named by `keys` into their cells
    (`cell_folder`), each replaced in one step when done; a model with a finished cell of the same
    identity is left as it is. One report split over processes (one per core) or over sessions
    this way; `run` then joins the cells into the table without training. Each model's work folder
    is locked while it trains, so two processes never train the same model."""
    known = model_keys(config)
    unknown = [key for key in keys if key not in known]
    if unknown or not keys:
        raise ValueError(f"models {unknown or '[]'} are not {config.report}'s: choose from {known}")
    splits = splits or config.run.load("mnist")
    evaluator = hw4.evaluator_of(config)
    for spec in models_of(config):
        folder = cell_folder(config, spec.key)
        if spec.key in keys and read_cell(folder, cell_identity(config, spec)) is None:
            with records.staged_directory(folder) as staged:
                measure_model(config, spec, splits, evaluator, staged)
    return [key for key in known if key in keys]


def run(config: CourseReportConfig, splits: data.DatasetSplits | None = None) -> dict:
    """Every model of one report into results/<report>/: its cell kept where one of the same
    identity is finished (`train`), else trained and measured; then the table, the figures and the
    verdicts from the cells."""
    started = time.perf_counter()
    splits = splits or config.run.load("mnist")
    evaluator = hw4.evaluator_of(config)
    out = config.run.results(config.name)
    out.mkdir(parents=True, exist_ok=True)
    specs = models_of(config)
    cells = {}
    for spec in specs:
        identity, kept, folder = (
            cell_identity(config, spec),
            cell_folder(config, spec.key),
            out / CELLS / spec.key,
        )
        cells[spec.key] = None if config.smoke else read_cell(kept, identity)
        if cells[spec.key] is None:
            shutil.rmtree(folder, ignore_errors=True)
            measure_model(config, spec, splits, evaluator, folder)
            cells[spec.key] = read_cell(folder, identity)
        elif kept.resolve() != folder.resolve():  # out is the staged copy of results/<report>/
            shutil.copytree(kept, folder)
    metrics = {
        "models": {key: cell["metrics"] for key, cell in cells.items()},
        "order": [spec.key for spec in specs],
    }
    real, labels = paired_test_images(config, splits)
    metrics["unrelated_real_pairs"] = unrelated_pairs(real, labels, evaluator, config.seed)
    if evaluator is not None:
        metrics["real_vs_real"] = hw4.real_scores(
            evaluator, splits, min(config.quality_samples, len(splits.test)), config.seed
        )
        metrics["real_vs_real_epoch_samples"] = hw4.real_scores(
            evaluator, splits, min(config.epoch_samples, len(splits.test)), config.seed
        )
        hw4_report.digit_shares_figure(metrics, out / "digit_shares.png")
        hw4_report.fd_by_epoch_figure(
            {entry["title"]: entry["by_epoch"] for entry in metrics["models"].values()},
            out / "fd_by_epoch.png",
            real=metrics["real_vs_real_epoch_samples"]["frechet_distance"],
        )
    else:
        metrics["sample_quality"] = "skipped: no evaluator"
    draw(config, specs, cells, real, out)
    metrics["claims"] = course_reports_report.CLAIMS[config.report](metrics)
    records.write_json(out / "metrics.json", metrics)
    records.write_json(
        out / "config.json",
        {**dataclasses.asdict(config), "models": {spec.key: spec.config for spec in specs}},
    )
    environments = {key: cell["environment"] for key, cell in cells.items()}
    records.write_json(
        out / "environment.json",
        records.environment(
            epochs=", ".join(f"{cells[s.key]['metrics']['epochs']} ({s.title})" for s in specs),
            wall_seconds=sum(env["wall_seconds"] for env in environments.values()),
            total_seconds=round(time.perf_counter() - started, 1),
            data_source=splits.source,
            models={
                key: {
                    field: env.get(field)
                    for field in (
                        "git_commit",
                        "resumed_from_commit",
                        "resumed_from_epoch",
                        "epochs",
                        "cpu",
                        "wall_seconds",
                        "reused_finished",
                        "distribution",
                    )
                }
                for key, env in environments.items()
            },
        ),
    )
    course_reports_report.write_readme(out, config.report)
    return metrics
