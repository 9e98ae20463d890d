"""Semi-supervised M2 on MNIST with 1000 or 600 labels: the rows of Table 1 of Chen, Fang, Ju (2016).

The labelled examples are a class-balanced subset of the 55,000 TF1 training images chosen by a seed; the
other 54,000 (or 54,400) are the unlabelled set; validation error on the 5,000 TF1 validation images and
test error on the 10,000 test images, classifying with argmax q(y|x). Pixels in [0, 1] as Sec. 4.2 says
(Bernoulli cross-entropy on grey values). Training uses Kingma et al.'s mixed minibatches (see
`vaegan_tf.models.m2`). Leaves out, for now: the authors'-code protocol and the SSL-VAE-GAN row.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf

from vaegan_tf import data, training
from vaegan_tf.models.m2 import M2Config, build_m2, for_labels


@dataclasses.dataclass(frozen=True)
class SSLStudyConfig:
    name: str = "m2_fc_1000"
    model: M2Config = M2Config()
    num_labelled: int = 1000
    epochs: int = 100
    batch_size: int = 100  # Sec. 4: unlabelled images per step
    labelled_batch_size: int = 100  # labelled pairs per step (the labelled set is cycled)
    preprocessing: str = "unit"  # Sec. 4.2: pixel values in [0, 1]
    seed: int = 0  # picks the labelled subset and seeds training
    strategy: str = "auto"
    source: str = "auto"
    data_dir: str | None = None
    work_root: str = "work"
    steps_per_epoch: int | None = None  # None: one pass over the unlabelled set


def split_labels(splits: data.DatasetSplits, num_labelled: int, seed: int) -> tuple[data.Split, data.Split]:
    """(labelled subset, the rest as unlabelled) of the training images."""
    chosen = data.balanced_subset(splits.train.labels, num_labelled, seed=seed, num_classes=splits.num_classes)
    rest = np.setdiff1d(np.arange(len(splits.train)), chosen)
    return splits.train.subset(chosen), splits.train.subset(rest)


def mixed_stream(labelled: data.Split, unlabelled: data.Split, config: SSLStudyConfig) -> tf.data.Dataset:
    """((x_l, y_l), (x_u, y_u)) per step; y_u is never read by the model."""
    return tf.data.Dataset.zip((
        data.pipeline(labelled, batch_size=config.labelled_batch_size, preprocessing=config.preprocessing,
                      shuffle=True, seed=config.seed + 1, drop_remainder=True),
        data.pipeline(unlabelled, batch_size=config.batch_size, preprocessing=config.preprocessing,
                      shuffle=True, seed=config.seed + 2, drop_remainder=True)))


def error_rate(model, split: data.Split, preprocessing: str) -> float:
    evaluation = data.pipeline(split, batch_size=500, preprocessing=preprocessing)
    return float(model.evaluate(evaluation, verbose=0, return_dict=True)["error"])


def train_m2(config: SSLStudyConfig, splits: data.DatasetSplits) -> training.TrainingOutcome:
    """Trains M2 on `config.num_labelled` balanced labels of `splits.train`."""
    labelled, unlabelled = split_labels(splits, config.num_labelled, config.seed)
    model_config = dataclasses.replace(for_labels(config.model, len(labelled), len(splits.train)), seed=config.seed)
    steps = config.steps_per_epoch or data.steps_per_epoch(unlabelled, config.batch_size, drop_remainder=True)
    run = training.RunConfig(config.name, config.epochs, seed=config.seed, strategy=config.strategy,
                             work_root=config.work_root, steps_per_epoch=steps)
    validation = data.pipeline(splits.validation, batch_size=500, preprocessing=config.preprocessing)
    return training.train(run, lambda: build_m2(model_config), mixed_stream(labelled, unlabelled, config),
                          validation)


def train_and_measure(config: SSLStudyConfig, splits: data.DatasetSplits | None = None) -> dict:
    """Trains M2; returns validation and test error, epochs and wall time."""
    splits = splits or data.load("mnist", split="tf1", source=config.source, data_dir=config.data_dir)
    outcome = train_m2(config, splits)
    return {
        "validation_error": error_rate(outcome.model, splits.validation, config.preprocessing),
        "test_error": error_rate(outcome.model, splits.test, config.preprocessing),
        "epochs": outcome.epochs_trained, "wall_seconds": outcome.wall_seconds,
        "num_labelled": config.num_labelled, "seed": config.seed, "protocol": "kingma",
    }
