"""Figure 10 of Chen, Fang, Ju (2016) and the poster's DRAW panels: DRAW's reconstructions and
samples, how the canvas fills in over the T steps, conditional DRAW drawing each digit, and what the
papers never measured: the variational bound DRAW is known for, against the DRAW paper's.

Four models (`vaegan_tf.models.draw`), each in results/figure10/<model>/:
- `draw`: the authors' DRAW (their DRAW/draw.py and main.py: T = 10, 5x5 read and write, z = 10 a
  step, batch 256, grey images), which drew Figure 10: test images beside their reconstructions and
  samples from z ~ N(0, I), the canvas sequences with the read (green) and write (red) windows, and
  the samples' quality against the evaluator (FD, KID, Inception score, sharpness, digits covered).
- `conditional_draw`: the authors' DRAW/cdraw.py (the label into both LSTMs, batch 100, lr 1e-4):
  ten samples of each digit, one canvas sequence per digit (the poster's panel), and the evaluator's
  accuracy on the digit asked for.
- `draw_paper_attention`, `draw_paper_no_attention`: Gregor et al.'s MNIST setting (T = 64, read
  2x2, write 5x5, z = 100) with and without attention, on dynamically binarised images; the test
  bound (nats, one fixed binarisation of the 10,000 test images) after every epoch, and at the end
  an importance-weighted estimate (k draws of z_{1:T}). The DRAW paper reports <= 80.97 and <=
  87.40.

Schedules: the authors' runs are 50,000 iterations (their checkpoint names:
draw_checkpoint_0.001_50000; cdraw 50,000 iterations in DRAW/main1.py), i.e. 234 epochs of 214
batches of 256 and 91 epochs of 550 batches of 100. The likelihood models get 100 epochs, the
schedule of the public reproduction jbornschein/draw whose ~90.5 nats is the anchor (the DRAW paper
gives none); on a CPU that is days, so a run resumes where the last one stopped (the harness) and
reports the epochs it reached. Readings: "samples" are the Bernoulli means sigma(c_T);
reconstructions run the loop with every z_t at its posterior mean; the grey-image models' bound is
the cross-entropy they were trained on, not a likelihood.
"""

from __future__ import annotations

import csv
import dataclasses
import math
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from vaegan_tf import data, evaluate, plots, records, training
from vaegan_tf.evaluate import REAL_IMAGES
from vaegan_tf.models import draw
from vaegan_tf.studies import draw_report
from vaegan_tf.studies.common import RunSettings, follow_study_seed, record_run, seeded, train_model

TEST_BINARIZATION_SEED = 2016  # the same fixed test bits as the suite's plain VAE
AUTHORS_ITERATIONS = 50_000
TRAIN_IMAGES = 55_000  # the TF1 split the authors' input_data reader gave them


def epochs_for(iterations: int, batch_size: int) -> int:
    """Epochs of `batch_size` over the 55,000 training images that reach `iterations` steps."""
    return math.ceil(iterations / (TRAIN_IMAGES // batch_size))


@dataclasses.dataclass(frozen=True)
class DRAWRun:
    """One model of the study: its DRAW, batch, epochs and data."""

    model: draw.DRAWConfig
    batch_size: int
    epochs: int
    binarized: (
        bool  # True: dynamically binarised images (likelihood); False: grey levels (the authors')
    )
    label: str  # the model's name in tables
    title: str


RUNS = {
    "draw": DRAWRun(
        draw.AUTHORS_CODE,
        256,
        epochs_for(AUTHORS_ITERATIONS, 256),
        False,
        "DRAW",
        "DRAW (the authors' code: T = 10, 5x5 attention)",
    ),
    "conditional_draw": DRAWRun(
        draw.AUTHORS_CODE_CONDITIONAL,
        100,
        epochs_for(AUTHORS_ITERATIONS, 100),
        False,
        "conditional DRAW",
        "conditional DRAW (the authors' cdraw.py)",
    ),
    "draw_paper_attention": DRAWRun(
        draw.DRAW_PAPER,
        100,
        100,
        True,
        "DRAW, attention",
        "DRAW, the DRAW paper's MNIST setting (T = 64, read 2x2, write 5x5)",
    ),
    "draw_paper_no_attention": DRAWRun(
        draw.DRAW_PAPER_NO_ATTENTION,
        100,
        100,
        True,
        "DRAW, no attention",
        "DRAW, the DRAW paper's MNIST setting without attention (T = 64)",
    ),
}
FIGURE_MODELS = ("draw", "conditional_draw")
LIKELIHOOD_MODELS = ("draw_paper_attention", "draw_paper_no_attention")


@dataclasses.dataclass(frozen=True)
class Figure10Config:
    name: str = "figure10"
    models: tuple[str, ...] = tuple(RUNS)
    epochs: tuple[tuple[str, int], ...] = ()  # (model, epochs) pairs that replace RUNS' schedules
    seed: int = 0
    run: RunSettings = RunSettings()
    importance_samples: int = (
        100  # k of the importance-weighted estimate (T = 64 makes k = 5000 days)
    )
    likelihood_images: int | None = None  # None: all 10,000 test images
    quality_samples: int = evaluate.DEFAULT_SAMPLES
    require_evaluator: bool = True
    check_outputs: bool = False  # smoke runs: fail unless every number and image is in range

    def __post_init__(self):
        follow_study_seed(self)
        unknown = [name for name in (*self.models, *dict(self.epochs)) if name not in RUNS]
        if unknown:
            raise ValueError(f"unknown DRAW model {unknown}; choose from {', '.join(RUNS)}")

    def spec(self, name: str) -> DRAWRun:
        """RUNS[name] with this study's seed and epochs."""
        spec = RUNS[name]
        return dataclasses.replace(
            spec,
            model=seeded(spec.model, self.seed),
            epochs=dict(self.epochs).get(name, spec.epochs),
        )


# -- training --------------------------------------------------------------------------------------


class TestBoundPerEpoch(keras.callbacks.Callback):
    """After every epoch, the bound on fixed test images, written to a CSV beside the run's backup
    so a resumed run keeps the curve of the epochs before it (rows of later epochs, left by an
    earlier run of the same name, are dropped)."""

    def __init__(self, images: np.ndarray, labels: np.ndarray | None, path: Path, batch_size: int):
        super().__init__()
        self.images, self.labels, self.path, self.batch_size = (
            images,
            labels,
            Path(path),
            batch_size,
        )

    def on_epoch_end(self, epoch, logs=None):
        terms = heldout_bound(self.model, self.images, self.labels, self.batch_size)
        rows = []
        if self.path.exists():
            with open(self.path, newline="") as handle:
                rows = [row for row in csv.DictReader(handle) if int(row["epoch"]) < epoch + 1]
        rows.append(
            {"epoch": epoch + 1, **{f"test_{key}": f"{value:.4f}" for key, value in terms.items()}}
        )
        text = (
            ",".join(rows[0])
            + "\n"
            + "".join(",".join(str(v) for v in row.values()) + "\n" for row in rows)
        )
        records.write_text_atomically(self.path, text)


def heldout_bound(
    model: draw.DRAW, images: np.ndarray, labels: np.ndarray | None, batch_size: int = 500
) -> dict:
    """Mean negative bound (one draw of z_{1:T} per image) and its terms over `images`, in nats."""
    sums = {"bound": 0.0, "reconstruction": 0.0, "kl": 0.0}
    for start in range(0, len(images), batch_size):
        batch_labels = (
            None if labels is None else tf.constant(labels[start : start + batch_size], tf.int32)
        )
        reconstruction, kl = _bound_terms(
            model, tf.constant(images[start : start + batch_size]), batch_labels
        )
        sums["reconstruction"] += float(tf.reduce_sum(reconstruction))
        sums["kl"] += float(tf.reduce_sum(kl))
    sums["bound"] = sums["reconstruction"] + sums["kl"]
    return {key: value / len(images) for key, value in sums.items()}


@tf.function(reduce_retracing=True, autograph=False)
def _bound_terms(model, x, labels):
    return model.per_example_terms(x, labels, unroll=False)  # a while loop: cheap to trace


def test_images(spec: DRAWRun, split: data.Split) -> np.ndarray:
    """The test images a model is scored on: one fixed binarisation, or the grey levels."""
    if spec.binarized:
        return evaluate.binarized(split, TEST_BINARIZATION_SEED)
    return split.images.astype(np.float32) / 255.0


def train_draw(
    name: str, config: Figure10Config, splits: data.DatasetSplits
) -> training.TrainingOutcome:
    """Trains model `name` of RUNS; the harness loads a finished run of the same config instead."""
    spec = config.spec(name)
    run_name = f"{config.name}_{name}"
    callbacks = []
    if spec.binarized:
        test = likelihood_split(config, splits)
        bound_log = config.run.work_dir(run_name) / "test_bound.csv"
        callbacks.append(TestBoundPerEpoch(test_images(spec, test), None, bound_log, 500))
    return train_model(
        config.run,
        run_name,
        draw.build_draw,
        spec.model,
        splits,
        epochs=spec.epochs,
        batch_size=spec.batch_size,
        seed=config.seed,
        preprocessing="dynamic_binarize" if spec.binarized else "unit",
        callbacks=callbacks,
    )


def likelihood_split(config: Figure10Config, splits: data.DatasetSplits) -> data.Split:
    if config.likelihood_images is None:
        return splits.test
    return splits.test.subset(np.arange(min(config.likelihood_images, len(splits.test))))


# -- measuring -------------------------------------------------------------------------------------


def digit_coverage(
    evaluator: evaluate.Evaluator, samples: np.ndarray, num_classes: int = 10
) -> dict:
    """Which digits the evaluator sees in unconditional samples: the fraction of each, how many
    reach half their uniform share, and KL(fractions || uniform) in nats (0 when even, log 10 for
    one digit)."""
    predicted = np.argmax(evaluator.embed(samples)[1], axis=-1)
    fractions = np.bincount(predicted, minlength=num_classes) / len(predicted)
    present = fractions > 0
    return {
        "class_fractions": fractions.round(4).tolist(),
        "classes_covered": int(np.sum(fractions >= 0.5 / num_classes)),
        "kl_to_uniform": float(
            np.sum(fractions[present] * np.log(fractions[present] * num_classes))
        ),
    }


def sample_scores(
    evaluator: evaluate.Evaluator,
    models: dict,
    splits: data.DatasetSplits,
    *,
    count: int,
    seed: int,
    conditional: bool,
) -> dict:
    """Sample quality (`evaluate.sample_quality`) and digit coverage of each model decoding the same
    codes (and labels, `count / 10` of each digit, if `conditional`), beside real training images,
    against the first `count` test images; per digit too if `conditional`."""
    count = min(count, len(splits.test))
    labels = (
        np.repeat(np.arange(splits.num_classes), count // splits.num_classes)
        if conditional
        else None
    )
    z = evaluate.shared_codes(
        count if labels is None else len(labels), next(iter(models.values())).latent_dim, seed + 1
    )
    test = splits.test.images / 255.0
    reference = test[: len(z)]
    chosen = np.sort(np.random.default_rng(seed).choice(len(splits.train), len(z), replace=False))
    real = splits.train.subset(chosen)
    sources = {
        name: (lambda model=model: evaluate.decode_in_chunks(model, z, labels))
        for name, model in models.items()
    }
    sources[REAL_IMAGES] = lambda: real.images / 255.0
    quality = {}
    for name, images in sources.items():
        samples = images()
        asked = labels if name != REAL_IMAGES else (real.labels if conditional else None)
        quality[name] = evaluate.sample_quality(evaluator, samples, reference, asked, seed=seed)
        quality[name]["digit_coverage"] = digit_coverage(evaluator, samples, splits.num_classes)
        if conditional:
            quality[name]["per_class"] = evaluate.per_class_quality(
                evaluator, samples, asked, test, splits.test.labels, seed=seed
            )
    return quality


def measure(
    name: str,
    model: draw.DRAW,
    config: Figure10Config,
    splits: data.DatasetSplits,
    evaluator: evaluate.Evaluator | str,
) -> dict:
    spec = config.spec(name)
    conditional = spec.model.num_classes is not None
    test = likelihood_split(config, splits) if spec.binarized else splits.test
    labels = test.labels if conditional else None
    metrics = {
        "test_images": len(test),
        "binarized": spec.binarized,
        "test_bound": heldout_bound(model, test_images(spec, test), labels),
        "test_reconstruction_mse": evaluate.reconstruction_mse(model, splits.test, conditional),
    }
    if spec.binarized:
        bits = test_images(spec, test)
        estimates = np.concatenate(
            [
                model.importance_weighted_log_likelihood(
                    bits[i : i + 100], config.importance_samples
                )
                for i in range(0, len(bits), 100)
            ]
        )
        metrics["importance_samples"] = config.importance_samples
        metrics["test_nll_importance_weighted"] = float(-estimates.mean())
        metrics["draw_paper_bound"] = 80.97 if spec.model.read_glimpse else 87.40
    if isinstance(evaluator, str):
        metrics["sample_quality"] = evaluator
    else:
        metrics["sample_quality"] = sample_scores(
            evaluator,
            {spec.label: model},
            splits,
            count=config.quality_samples,
            seed=config.seed,
            conditional=conditional,
        )
    return metrics


# -- drawing ---------------------------------------------------------------------------------------


def window_arrays(window) -> dict | None:
    """A trace's window as numpy [B, T] fields (rows are images, columns steps)."""
    return None if window is None else {k: np.asarray(v).T for k, v in window._asdict().items()}


def windows_for(trace, model_config: draw.DRAWConfig, reads: bool) -> list:
    drawn = []
    if reads and trace.read_windows is not None:
        drawn.append(
            (window_arrays(trace.read_windows), model_config.read_glimpse, draw_report.READ_COLOUR)
        )
    if trace.write_windows is not None:
        drawn.append(
            (
                window_arrays(trace.write_windows),
                model_config.write_glimpse,
                draw_report.WRITE_COLOUR,
            )
        )
    return drawn


def draw_figures(
    name: str, model: draw.DRAW, spec: DRAWRun, splits: data.DatasetSplits, out: Path, seed: int
) -> None:
    """Figure 10 (reconstructions beside samples), sample grids and canvas sequences for one "
    "model."""
    height, width, _ = spec.model.image_shape
    steps = draw_report.shown_steps(spec.model.steps)
    if spec.model.num_classes is not None:
        labels = np.repeat(np.arange(spec.model.num_classes), 10)
        z = evaluate.shared_codes(len(labels), model.latent_dim, seed)
        grid = np.asarray(model.decode(z, labels)).reshape(10, 10, height, width)
        plots.image_grid(
            grid,
            out / "samples.png",
            row_labels=list(range(10)),
            title="Conditional DRAW: ten samples of each digit (rows), z ~ N(0, I)",
        )
        digits = np.arange(spec.model.num_classes)
        trace = model.trace_generation(
            evaluate.shared_codes(len(digits), model.latent_dim, seed + 7), digits
        )
        draw_report.sequence_figure(
            trace.canvases.numpy().swapaxes(0, 1),
            out / "sequences.png",
            windows=windows_for(trace, spec.model, reads=False),
            steps=steps,
            row_labels=[str(d) for d in digits],
            title="Conditional DRAW drawing each digit (rows): canvas sigma(c_t) and the "
            "write window (red) at each step",
        )
        return
    test = test_images(spec, splits.test.subset(np.arange(64)))
    rebuilt = np.asarray(model.reconstruct(test)).reshape(8, 8, height, width)
    samples = np.asarray(model.decode(evaluate.shared_codes(64, model.latent_dim, seed))).reshape(
        8, 8, height, width
    )
    pairs = np.stack([test[:32].reshape(4, 8, height, width), rebuilt[:4]], axis=1).reshape(
        8, 8, height, width
    )
    blank = np.ones((8, 1, height, width))
    plots.image_grid(
        np.concatenate([pairs, blank, samples], axis=1),
        out / "figure10.png",
        title="Left: test images (odd rows) and their reconstructions; right: samples, z ~ N(0, I)",
    )
    plots.image_grid(
        samples, out / "samples.png", title=f"{spec.title}: samples sigma(c_T), z ~ N(0, I)"
    )
    generated = model.trace_generation(evaluate.shared_codes(8, model.latent_dim, seed + 7))
    draw_report.sequence_figure(
        generated.canvases.numpy().swapaxes(0, 1),
        out / "sample_sequences.png",
        windows=windows_for(generated, spec.model, reads=False),
        steps=steps,
        title="Generating (rows: samples): canvas sigma(c_t) and the write window (red)",
    )
    inferred = model.trace_reconstruction(test[:8])
    draw_report.sequence_figure(
        inferred.canvases.numpy().swapaxes(0, 1),
        out / "reconstruction_sequences.png",
        windows=windows_for(inferred, spec.model, reads=True),
        steps=steps,
        title="Reconstructing test images (rows): canvas, read (green) and write (red) windows",
    )


# -- the study -------------------------------------------------------------------------------------


def check_outputs(name: str, metrics: dict, model: draw.DRAW, spec: DRAWRun) -> None:
    """For smoke runs: every number finite and in its range, images in [0, 1], the last canvas of a
    generated sequence equal to the sample it ends at."""
    bound = metrics["test_bound"]
    problems = [f"{key} = {value}" for key, value in bound.items() if not np.isfinite(value)]
    if bound["kl"] < 0 or bound["reconstruction"] <= 0:
        problems.append(f"bound terms out of range: {bound}")
    if not 0 <= metrics["test_reconstruction_mse"] <= 1:
        problems.append(f"reconstruction MSE {metrics['test_reconstruction_mse']}")
    if "test_nll_importance_weighted" in metrics and not (
        0 < metrics["test_nll_importance_weighted"] <= bound["bound"] + 5
    ):
        problems.append(
            f"importance-weighted NLL {metrics['test_nll_importance_weighted']} vs bound "
            f"{bound['bound']}"
        )
    labels = np.arange(4) if spec.model.num_classes is not None else None
    z = evaluate.shared_codes(4, model.latent_dim, 0)
    samples = np.asarray(model.decode(z, labels))
    trace = model.trace_generation(z, labels)
    if (
        samples.min() < 0
        or samples.max() > 1
        or not np.allclose(trace.canvases[-1], samples, atol=1e-5)
    ):
        problems.append("samples out of [0, 1] or unequal to the last canvas of their sequence")
    if problems:
        raise AssertionError(f"{name}: " + "; ".join(problems))


def run_model(
    name: str,
    config: Figure10Config,
    splits: data.DatasetSplits,
    evaluator: evaluate.Evaluator | str,
) -> dict:
    started = time.perf_counter()
    spec = config.spec(name)
    outcome = train_draw(name, config, splits)
    out = config.run.results(f"{config.name}/{name}")
    metrics = measure(name, outcome.model, config, splits, evaluator)
    if config.check_outputs:
        check_outputs(name, metrics, outcome.model, spec)
    draw_figures(name, outcome.model, spec, splits, out, config.seed)
    curve = outcome.log_csv.parent / "test_bound.csv"
    if spec.binarized and curve.exists():
        (out / "test_bound.csv").write_text(curve.read_text())
        draw_report.learning_curve(
            {spec.title: out / "test_bound.csv"},
            out / "learning_curve.png",
            title="Test bound per epoch (one fixed binarisation of the test images)",
        )
    record_run(
        out,
        outcome,
        config={"study": config, "model": spec},
        metrics=metrics,
        started=started,
        data_source=splits.source,
        loss_title=f"{spec.title}: negative bound and its terms",
    )
    return metrics


def run(config: Figure10Config, splits: data.DatasetSplits | None = None) -> dict:
    """Trains and measures each model of `config.models` into results/<name>/<model>/."""
    splits = splits or config.run.load("mnist")
    evaluator = evaluate.evaluator_or_skip(config.require_evaluator)
    return {name: run_model(name, config, splits, evaluator) for name in config.models}
