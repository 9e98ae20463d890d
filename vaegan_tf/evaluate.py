"""Measures what the documents judged by eye: sample quality against a frozen classifier, and likelihood.

- The evaluator: a LeNet-style CNN (LeCun et al. 1998, with ReLU, max pooling, dropout and small random
  shifts) trained once on the 55,000 MNIST training images. Its weights are part of the suite
  (vaegan_tf/assets/evaluator/, with their SHA-256 fingerprint and test accuracy), not rebuilt per
  machine: the same recipe trained on two CPUs gives two sets of weights and so two sets of FD / KID,
  and every committed number should be read by one evaluator. `make evaluator` re-measures it and the
  real-vs-real baseline; `make evaluator ARGS=--retrain` trains a new one (then every result must be
  rescored). One below 99.2% test accuracy, or whose weights do not match their fingerprint, is refused.
- Sample quality (`sample_quality`): Frechet distance and KID on its 128-d penultimate features, the
  Inception-score analogue on its logits, conditional accuracy of class-conditional samples, and the
  Laplacian sharpness ratio to real images. A real-vs-real baseline (test vs train) is reported beside
  every model (`real_baseline`).
- Likelihood: the importance-weighted bound of Burda et al. (2015), log (1/k) sum_i p(x, z_i) / q(z_i | x),
  for any model with `posterior(x, training)`, `likelihood(z, training)` and `prior()`; k = 1 is the
  ELBO in expectation, and it tightens towards log p(x) as k grows.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import warnings
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from vaegan_tf import data, distribute, records, sample_metrics, training

ACCURACY_FLOOR = 0.992
DEFAULT_SAMPLES = 10_000


@dataclasses.dataclass(frozen=True)
class EvaluatorConfig:
    epochs: int = 15
    batch_size: int = 128
    learning_rate: float = 1e-3
    max_shift: float = (
        0.1  # random translations of up to 10% of the size: augmentation, training only
    )
    feature_units: int = 128
    seed: int = 0


# the reference row every sample-quality table carries beside the models
REAL_IMAGES = "real training images"


def build_classifier(
    config: EvaluatorConfig = EvaluatorConfig(),
    image_shape=(28, 28, 1),
    num_classes: int = 10,
    total_steps: int | None = None,
) -> keras.Sequential:
    """Compiled LeNet-style classifier; its layer `features` is the embedding for FD / KID. With
    `total_steps`, the learning rate follows a cosine decay to zero over them."""
    model = keras.Sequential(
        [
            keras.Input(image_shape),
            keras.layers.RandomTranslation(
                config.max_shift, config.max_shift, fill_mode="constant", seed=config.seed
            ),
            keras.layers.Conv2D(32, 5, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(64, 5, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Flatten(),
            keras.layers.Dropout(0.25, seed=config.seed),
            keras.layers.Dense(config.feature_units, activation="relu", name="features"),
            keras.layers.Dropout(0.5, seed=config.seed),
            keras.layers.Dense(num_classes, name="logits"),
        ],
        name="evaluator",
    )
    rate = (
        keras.optimizers.schedules.CosineDecay(config.learning_rate, total_steps)
        if total_steps
        else config.learning_rate
    )
    model.compile(
        optimizer=keras.optimizers.Adam(rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


class EvaluatorUnavailable(RuntimeError):
    """No usable cached evaluator: never built, or below the accuracy floor."""


class Evaluator:
    """A frozen classifier seen as (penultimate features, logits) of images in [0, 1]."""

    def __init__(self, classifier: keras.Model, info: dict | None = None):
        self.classifier, self.info = classifier, info or {}
        outputs = [classifier.get_layer("features").output, classifier.get_layer("logits").output]
        self._embed = keras.Model(classifier.inputs, outputs)

    def embed(self, images: np.ndarray, batch_size: int = 500) -> tuple[np.ndarray, np.ndarray]:
        images = np.asarray(images, np.float32)
        if images.ndim != 4 or images.min() < -1e-3 or images.max() > 1 + 1e-3:
            raise ValueError(
                "the evaluator takes [N, H, W, C] images in [0, 1]; map GAN output from [-1, 1]"
            )
        features, logits = self._embed.predict(images, batch_size=batch_size, verbose=0)
        return features.astype(np.float64), logits.astype(np.float64)

    def accuracy(self, images: np.ndarray, labels: np.ndarray) -> float:
        return sample_metrics.class_accuracy(self.embed(images)[1], labels)

    @functools.cached_property
    def fingerprint(self) -> str:
        """The first 12 hex digits of the SHA-256 of its weights. Two evaluators trained apart (another
        machine, a lost cache) differ in their weights and so in every FD and KID they measure: results
        compared across directories should come from the same fingerprint."""
        digest = hashlib.sha256()
        for weight in self.classifier.weights:
            digest.update(np.ascontiguousarray(keras.ops.convert_to_numpy(weight)).tobytes())
        return digest.hexdigest()[:12]


COMMITTED_DIR = Path(__file__).parent / "assets" / "evaluator"
WEIGHTS, INFO = "classifier.weights.h5", "info.json"


def evaluator_dir() -> Path:
    """Where the evaluator lives: the suite's committed one, or `$VAEGAN_TF_EVALUATOR_DIR` (tests, or a
    user who trains their own and keeps the committed one intact)."""
    return Path(os.environ.get("VAEGAN_TF_EVALUATOR_DIR", COMMITTED_DIR))


def save_evaluator(evaluator: Evaluator, directory: Path | None = None) -> Path:
    """Writes the weights and `info.json` (config, test accuracy, fingerprint) to `directory`."""
    directory = Path(directory or evaluator_dir())
    directory.mkdir(parents=True, exist_ok=True)
    evaluator.classifier.save_weights(directory / WEIGHTS)
    info = {**evaluator.info, "fingerprint": evaluator.fingerprint}
    (directory / INFO).write_text(
        json.dumps(records.jsonable(info), indent=2, sort_keys=True) + "\n"
    )
    return directory


def train_evaluator(
    splits: data.DatasetSplits,
    config: EvaluatorConfig = EvaluatorConfig(),
    *,
    strategy: str = "auto",
    work_root: str = "work",
    save: bool = True,
) -> Evaluator:
    """Trains the classifier on `splits.train`, measures it on `splits.test`, caches it if `save`."""
    steps = data.steps_per_epoch(splits.train, config.batch_size)
    run = training.RunConfig(
        "evaluator",
        config.epochs,
        seed=config.seed,
        strategy=strategy,
        work_root=work_root,
        steps_per_epoch=steps,
    )
    train_data = data.pipeline(
        splits.train, batch_size=config.batch_size, shuffle=True, seed=config.seed
    )
    validation = data.pipeline(splits.validation, batch_size=500) if splits.validation else None
    outcome = training.train(
        run,
        lambda: build_classifier(
            config, splits.image_shape, splits.num_classes, total_steps=steps * config.epochs
        ),
        train_data,
        validation,
    )
    evaluator = Evaluator(outcome.model)
    info = {
        "test_accuracy": evaluator.accuracy(splits.test.images / 255.0, splits.test.labels),
        "trained_on": f"{splits.name} {splits.source}, {len(splits.train)} training images",
        "epochs": outcome.epochs_trained,
        "wall_seconds": outcome.wall_seconds,
        "distribution": distribute.describe(outcome.strategy),
        "config": dataclasses.asdict(config),
    }
    evaluator.info = info
    if save:
        save_evaluator(evaluator)
    return evaluator


def load_evaluator() -> Evaluator:
    """The evaluator of `evaluator_dir()`; a clear error if it is missing, below the accuracy floor, or
    its weights are not the ones its fingerprint names."""
    directory = evaluator_dir()
    weights, info_path = directory / WEIGHTS, directory / INFO
    if not weights.exists() or not info_path.exists():
        raise EvaluatorUnavailable(
            f"no evaluator classifier in {directory}: run `make evaluator ARGS=--retrain`"
        )
    info = json.loads(info_path.read_text())
    if info["test_accuracy"] < ACCURACY_FLOOR:
        raise EvaluatorUnavailable(
            f"the evaluator in {directory} has test accuracy {info['test_accuracy']:.4f} < "
            f"{ACCURACY_FLOOR}; train a better one with `make evaluator ARGS=--retrain`"
        )
    config = EvaluatorConfig(**info["config"]) if "config" in info else EvaluatorConfig()
    classifier = build_classifier(config)
    with (
        warnings.catch_warnings()
    ):  # the optimizer of `build_classifier` is never used on a loaded evaluator
        warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
        classifier.load_weights(weights)
    evaluator = Evaluator(classifier, info)
    if info.get("fingerprint") not in (None, evaluator.fingerprint):
        raise EvaluatorUnavailable(
            f"{weights} has fingerprint {evaluator.fingerprint}, not the {info['fingerprint']} "
            "its info.json records: restore it with `git checkout -- "
            f"{weights}`"
        )
    return evaluator


def evaluator_or_skip(required: bool) -> Evaluator | str:
    """The cached evaluator; if there is none, raise when `required`, else say why its metrics are skipped."""
    try:
        return load_evaluator()
    except EvaluatorUnavailable as missing:
        if required:
            raise
        return f"skipped: {missing}"


def sample_quality(
    evaluator: Evaluator,
    samples: np.ndarray,
    reference: np.ndarray,
    sample_labels: np.ndarray | None = None,
    *,
    seed: int = 0,
) -> dict:
    """FD, KID, Inception-score analogue and sharpness of `samples` against `reference` images (both in
    [0, 1]); with `sample_labels` (the classes asked for), conditional accuracy too."""
    sample_features, sample_logits = evaluator.embed(samples)
    reference_features, _ = evaluator.embed(reference)
    kid_mean, kid_std = sample_metrics.kernel_inception_distance(
        sample_features, reference_features, seed=seed
    )
    score_mean, score_std = sample_metrics.inception_score(sample_logits)
    scores = {
        "count": len(samples),
        "frechet_distance": sample_metrics.frechet_distance(sample_features, reference_features),
        "kid": kid_mean,
        "kid_std": kid_std,
        "inception_score": score_mean,
        "inception_score_std": score_std,
        "sharpness_ratio": sample_metrics.sharpness_ratio(samples, reference),
        "evaluator": evaluator.fingerprint,
    }
    if sample_labels is not None:
        scores["conditional_accuracy"] = sample_metrics.class_accuracy(sample_logits, sample_labels)
    return scores


def per_class_quality(
    evaluator: Evaluator,
    samples: np.ndarray,
    sample_labels: np.ndarray,
    reference: np.ndarray,
    reference_labels: np.ndarray,
    *,
    seed: int = 0,
) -> list[dict]:
    """For each class c: conditional accuracy of the samples asked to be c, their Frechet distance to the
    reference images of class c, and their diversity (mean pairwise feature distance) relative to those
    references. A collapsed class shows as a high FD with a diversity ratio well below 1."""
    sample_features, sample_logits = evaluator.embed(samples)
    reference_features, _ = evaluator.embed(reference)
    rows = []
    for c in np.unique(sample_labels):
        mine, theirs = (
            sample_features[sample_labels == c],
            reference_features[reference_labels == c],
        )
        rows.append(
            {
                "class": int(c),
                "count": int(len(mine)),
                "conditional_accuracy": sample_metrics.class_accuracy(
                    sample_logits[sample_labels == c], sample_labels[sample_labels == c]
                ),
                "frechet_distance": sample_metrics.frechet_distance(mine, theirs),
                "diversity_ratio": (
                    sample_metrics.mean_pairwise_distance(mine, seed=seed)
                    / sample_metrics.mean_pairwise_distance(theirs, seed=seed)
                ),
            }
        )
    return rows


def decode_in_chunks(
    model, z: np.ndarray, labels: np.ndarray | None = None, chunk: int = 1000
) -> np.ndarray:
    """`model.decode` over many codes (the suite's generative interface), a chunk at a time: [N, H, W, C]."""
    pieces = [
        model.decode(z[i : i + chunk], None if labels is None else labels[i : i + chunk])
        for i in range(0, len(z), chunk)
    ]
    return np.concatenate([np.asarray(piece) for piece in pieces])


def reconstruction_mse(
    model, split: data.Split, conditional: bool, batch_size: int = 1000
) -> float:
    """Mean squared pixel error of `model.reconstruct` (decoded from the posterior mean code) on a split's
    grey images in [0, 1]; `conditional` models get each image's label."""
    errors = []
    for x, y in data.pipeline(split, batch_size=batch_size):
        rebuilt = model.reconstruct(x, y if conditional else None)
        errors.append(np.mean((np.asarray(rebuilt) - np.asarray(x)) ** 2, axis=(1, 2, 3)))
    return float(np.concatenate(errors).mean())


def shared_codes(count: int, latent_dim: int, seed: int) -> np.ndarray:
    """z ~ N(0, I) [count, latent_dim] from `seed`: the same codes for every model compared."""
    return np.random.default_rng(seed).standard_normal((count, latent_dim)).astype(np.float32)


def measure_samples(
    evaluator: Evaluator,
    models: dict,
    splits: data.DatasetSplits,
    *,
    count: int,
    seed: int,
    conditional: bool = False,
    per_class: bool = False,
) -> dict:
    """Sample quality of each model of `models` ({name: generative model}) decoding the same `count`
    codes (and, if `conditional`, the same labels, `count / classes` of each), beside real training
    images of the same count, all against the first `count` test images. With `per_class`, each block
    also has `per_class_quality` rows (accuracy, FD and diversity per class)."""
    latent_dim = next(iter(models.values())).latent_dim
    labels = (
        np.repeat(np.arange(splits.num_classes), count // splits.num_classes)
        if conditional
        else None
    )
    z = shared_codes(count if labels is None else len(labels), latent_dim, seed + 1)
    test_images = splits.test.images / 255.0
    reference = test_images[: len(z)]
    quality = {}
    for name, model in models.items():
        samples = decode_in_chunks(model, z, labels)
        quality[name] = sample_quality(evaluator, samples, reference, labels, seed=seed)
        if per_class:
            quality[name]["per_class"] = per_class_quality(
                evaluator, samples, labels, test_images, splits.test.labels, seed=seed
            )
    chosen = np.sort(np.random.default_rng(seed).choice(len(splits.train), len(z), replace=False))
    real = splits.train.subset(chosen)
    quality[REAL_IMAGES] = sample_quality(
        evaluator, real.images / 255.0, reference, real.labels, seed=seed
    )
    if per_class:
        quality[REAL_IMAGES]["per_class"] = per_class_quality(
            evaluator, real.images / 255.0, real.labels, test_images, splits.test.labels, seed=seed
        )
    return quality


def real_baseline(
    evaluator: Evaluator, splits: data.DatasetSplits, count: int = DEFAULT_SAMPLES, seed: int = 0
) -> dict:
    """The scores real training images get against the test images: the floor any model is read against."""
    chosen = np.random.default_rng(seed).choice(
        len(splits.train), min(count, len(splits.train)), replace=False
    )
    real = splits.train.subset(np.sort(chosen))
    scores = sample_quality(
        evaluator, real.images / 255.0, splits.test.images[:count] / 255.0, real.labels, seed=seed
    )
    return scores


def write_readme(out: Path) -> Path:
    """results/evaluator/README.md from the metrics and environment that `make evaluator` wrote."""
    metrics, env = (
        json.loads((out / "metrics.json").read_text()),
        json.loads((out / "environment.json").read_text()),
    )
    real = metrics["real_vs_real"]
    lines = [
        "# evaluator: the frozen MNIST classifier every sample-quality number is read with",
        "",
        records.provenance(env, "make evaluator"),
        f"Test accuracy **{metrics['test_accuracy']:.4f}** (floor {metrics['accuracy_floor']}).",
        "",
        f"Real-vs-real baseline ({real['count']} training images against the test images): the scores a perfect "
        "generator would get, to be read beside every model.",
        "",
        "| Frechet distance | KID (std) | Inception-score analogue (std) | sharpness ratio | classifier accuracy |",
        "|---|---|---|---|---|",
        f"| {real['frechet_distance']:.3f} | {real['kid']:.4f} ({real['kid_std']:.4f}) | "
        f"{real['inception_score']:.2f} ({real['inception_score_std']:.2f}) | {real['sharpness_ratio']:.3f} | "
        f"{real['conditional_accuracy']:.4f} |",
        "",
        "LeNet-style: conv5-32, pool, conv5-64, pool, dropout 0.25, FC-128 (the features), dropout 0.5, FC-10; "
        "random shifts of up to 10% while training; Adam 1e-3 with cosine decay to 0, batch 128, on the 55,000 TF1 training images. "
        "Its features are not Inception's: FD, KID and IS here are comparable within this suite only.",
    ]
    if "evaluator" in real:
        lines += [
            "",
            f"Weights fingerprint `{real['evaluator']}`: every result's sample-quality block names the "
            "fingerprint of the evaluator that measured it; numbers from different fingerprints are not "
            "comparable to the last digit (a rebuilt evaluator has other weights).",
        ]
    (out / "README.md").write_text("\n".join(lines) + "\n")
    return out / "README.md"


def binarized(split: data.Split, seed: int) -> np.ndarray:
    """One fixed Bernoulli binarization of `split` (held-out likelihoods must all score the same bits)."""
    probabilities = split.images.astype(np.float32) / 255.0
    return (
        np.random.default_rng(seed).random(probabilities.shape, np.float32) < probabilities
    ).astype(np.float32)


@tf.function(reduce_retracing=True)
def _log_weights(model, x, count, seed):
    """log p(x, z_i) - log q(z_i | x) for `count` posterior draws: [count, B]."""
    posterior = model.posterior(x, training=False)
    z = posterior.sample(count, seed=seed)
    flat_z = tf.reshape(z, [-1, z.shape[-1]])
    likelihood = model.likelihood(flat_z, training=False)
    repeated_x = tf.reshape(tf.repeat(x[None], count, axis=0), [-1, *x.shape[1:]])
    log_px_z = tf.reshape(likelihood.log_prob(repeated_x), [count, -1])
    return log_px_z + model.prior().log_prob(z) - posterior.log_prob(z)


def importance_weighted_log_likelihood(
    model, x: np.ndarray, num_samples: int, *, chunk: int = 250, seed: int = 0
) -> np.ndarray:
    """log p(x) estimates [B] from `num_samples` importance samples (Burda et al. 2015, eq. 8)."""
    if num_samples < 1:
        raise ValueError("num_samples must be at least 1")
    x = tf.convert_to_tensor(x, tf.float32)
    parts, start = [], 0
    while start < num_samples:
        count = min(chunk, num_samples - start)
        draw_seed = tf.constant([seed, start], tf.int32)
        parts.append(
            tf.reduce_logsumexp(_log_weights(model, x, tf.constant(count), draw_seed), axis=0)
        )
        start += count
    return (tf.reduce_logsumexp(tf.stack(parts), axis=0) - np.log(num_samples)).numpy()


def heldout_nll(
    model, images: np.ndarray, num_samples: int, *, batch_size: int = 100, seed: int = 0
) -> float:
    """Mean -log p(x) in nats over binarized `images`, by importance sampling with `num_samples`."""
    estimates = [
        importance_weighted_log_likelihood(
            model, images[i : i + batch_size], num_samples, seed=seed + i
        )
        for i in range(0, len(images), batch_size)
    ]
    return float(-np.mean(np.concatenate(estimates)))


def heldout_elbo(model, images: np.ndarray, *, batch_size: int = 500) -> dict:
    """The model's `test_step` metrics (mean negative ELBO and its terms) over `images`."""
    dataset = tf.data.Dataset.from_tensor_slices((images, np.zeros(len(images), np.int32))).batch(
        batch_size
    )
    return {k: float(v) for k, v in model.evaluate(dataset, verbose=0, return_dict=True).items()}
