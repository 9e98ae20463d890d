"""Semi-supervised M2 on MNIST with 1000 or 600 labels: the rows of Table 1 of Chen, Fang, Ju (2016).

The labelled examples are a class-balanced subset of the 55,000 TF1 training images chosen by a seed; the
other 54,000 (or 54,400) are the unlabelled set; validation error on the 5,000 TF1 validation images and
test error on the 10,000 test images, classifying with argmax q(y|x). Pixels in [0, 1] as Sec. 4.2 says
(Bernoulli cross-entropy on grey values). Two protocols (see `vaegan_tf.models.m2`): `kingma`, mixed
minibatches, and `paper`, the authors' code (labelled batches, then unlabelled batches, each epoch; two
optimizers; soft y). The "convolutional with GAN" row is the SSL-VAE-GAN of Sec. 3.3
(`vaegan_tf.models.ssl_vae_gan`): the conv M2 of the conv row, under the same protocol and learning rate,
plus the CVAE-GAN discriminator (Adam 1e-4, Sec. 4), so the two rows differ by the GAN alone.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np
import tensorflow as tf

from vaegan_tf import data, records, training
from vaegan_tf.studies.common import RunSettings
from vaegan_tf.models.m2 import M2Config, build_m2, for_labels
from vaegan_tf.models.ssl_vae_gan import SSLVAEGANConfig, build_ssl_vae_gan


@dataclasses.dataclass(frozen=True)
class SSLStudyConfig:
    name: str = "m2_fc_1000"
    model: M2Config | SSLVAEGANConfig = M2Config()
    num_labelled: int = 1000
    epochs: int = 100
    batch_size: int = 100  # Sec. 4: unlabelled images per step
    labelled_batch_size: int = 100  # labelled pairs per step (the labelled set is cycled)
    preprocessing: str = "unit"  # Sec. 4.2: pixel values in [0, 1]
    seed: int = 0  # picks the labelled subset and seeds training
    run: RunSettings = RunSettings()  # its steps_per_epoch, if set, overrides one pass over the unlabelled set


def split_labels(splits: data.DatasetSplits, num_labelled: int, seed: int) -> tuple[data.Split, data.Split]:
    """(labelled subset, the rest as unlabelled) of the training images."""
    chosen = data.balanced_subset(splits.train.labels, num_labelled, seed=seed, num_classes=splits.num_classes)
    rest = np.setdiff1d(np.arange(len(splits.train)), chosen)
    return splits.train.subset(chosen), splits.train.subset(rest)


def preset(architecture: str, protocol: str) -> M2Config | SSLVAEGANConfig:
    """The model config each protocol trains with: Kingma et al.'s lr 3e-4, or the authors' code (lr 1e-3;
    their conv run: z = 100, lr 5e-4 decayed 0.99 every 1000 steps). `conv+gan`: the conv M2 with a GAN;
    `conv+gan+pixel`: the same, keeping M2's Bernoulli reconstruction beside the feature distance."""
    if architecture in ("conv+gan", "conv+gan+pixel"):
        return SSLVAEGANConfig(m2=preset("conv", protocol), pixel_reconstruction=architecture.endswith("+pixel"))
    config = M2Config(architecture=architecture, protocol=protocol)
    if protocol == "kingma":
        return config
    if architecture == "conv":
        return dataclasses.replace(config, latent_dim=100, learning_rate=5e-4, learning_rate_decay=0.99)
    return dataclasses.replace(config, learning_rate=1e-3)


def alternating_stream(labelled: data.Split, unlabelled: data.Split, config: SSLStudyConfig):
    """(x, y, is_labelled) batches: each epoch every labelled batch, then every unlabelled batch (the
    authors' code). Returns the stream and its steps per epoch."""
    def tagged(split, seed, flag):
        stream = data.pipeline(split, batch_size=config.batch_size, preprocessing=config.preprocessing,
                               shuffle=True, seed=seed, drop_remainder=True)
        return stream.map(lambda x, y: (x, y, tf.fill(tf.shape(y), flag)))

    labelled_steps = data.steps_per_epoch(labelled, config.batch_size, drop_remainder=True)
    unlabelled_steps = data.steps_per_epoch(unlabelled, config.batch_size, drop_remainder=True)
    order = tf.data.Dataset.from_tensor_slices(
        tf.constant([0] * labelled_steps + [1] * unlabelled_steps, tf.int64)).repeat()
    stream = tf.data.Dataset.choose_from_datasets(
        [tagged(labelled, config.seed + 1, 1), tagged(unlabelled, config.seed + 2, 0)], order)  # int: bool
    # batch elements fail to aggregate under MirroredStrategy
    return stream, labelled_steps + unlabelled_steps


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


def m2_part(model: M2Config | SSLVAEGANConfig) -> M2Config:
    return model.m2 if isinstance(model, SSLVAEGANConfig) else model


def for_cell(model: M2Config | SSLVAEGANConfig, num_labelled: int, num_total: int, seed: int):
    """The model config with the classification weight for these labels and the cell's seed."""
    m2 = dataclasses.replace(for_labels(m2_part(model), num_labelled, num_total), seed=seed)
    return dataclasses.replace(model, m2=m2) if isinstance(model, SSLVAEGANConfig) else m2


def train_cell(config: SSLStudyConfig, splits: data.DatasetSplits) -> training.TrainingOutcome:
    """Trains M2 (or the SSL-VAE-GAN) on `config.num_labelled` balanced labels of `splits.train`."""
    labelled, unlabelled = split_labels(splits, config.num_labelled, config.seed)
    model_config = for_cell(config.model, len(labelled), len(splits.train), config.seed)
    build = build_ssl_vae_gan if isinstance(model_config, SSLVAEGANConfig) else build_m2
    if m2_part(model_config).protocol == "paper":
        stream, steps = alternating_stream(labelled, unlabelled, config)
    else:
        stream = mixed_stream(labelled, unlabelled, config)
        steps = data.steps_per_epoch(unlabelled, config.batch_size, drop_remainder=True)
    run = config.run.training_run(config.name, config.epochs, config.seed, steps, model_config=model_config)
    validation = data.pipeline(splits.validation, batch_size=500, preprocessing=config.preprocessing)
    # a finished cell is loaded, not retrained: `make table1` interrupted after some cells picks up where it was
    return training.train(run, lambda: build(model_config), stream, validation, reuse_finished=True)


def train_and_measure(config: SSLStudyConfig, splits: data.DatasetSplits | None = None) -> dict:
    """Trains M2; returns validation and test error, epochs and wall time."""
    splits = splits or config.run.load("mnist")
    outcome = train_cell(config, splits)
    return {
        "validation_error": error_rate(outcome.model, splits.validation, config.preprocessing),
        "test_error": error_rate(outcome.model, splits.test, config.preprocessing),
        "epochs": outcome.epochs_trained, "wall_seconds": outcome.wall_seconds,
        "num_labelled": config.num_labelled, "seed": config.seed, "protocol": m2_part(config.model).protocol,
        "loaded_finished_run": outcome.reused_finished,
    }


# Table 1 of Chen, Fang, Ju (2016) (test error) and the poster's validation / test pairs; Kingma et al. M2.
PAPER_TEST_ERROR = {("fc", 1000): 0.051, ("fc", 600): 0.120, ("conv", 1000): 0.048, ("conv", 600): 0.062,
                    ("conv+gan", 1000): 0.081, ("conv+gan", 600): 0.092}
POSTER_VALIDATION_ERROR = {("fc", 1000): 0.047, ("fc", 600): 0.115, ("conv", 1000): 0.042, ("conv", 600): 0.070}
KINGMA_M2_TEST_ERROR = {1000: 0.0360, 600: 0.0494}
ROWS = ("fc", "conv", "conv+gan")
# not the paper's: the SSL-VAE-GAN that keeps M2's pixel likelihood (as the paper's DRAW-GAN, Sec. 4.6), an
# attempt at the conv+GAN row no worse than conv; `make table1 ARGS=--rows=conv+gan+pixel` runs it.
EXTRA_ROWS = ("conv+gan+pixel",)


@dataclasses.dataclass(frozen=True)
class Table1Config:
    rows: tuple[str, ...] = ROWS
    labels: tuple[int, ...] = (1000, 600)
    seeds: tuple[int, ...] = (0,)
    protocol: str = "kingma"  # or "paper", the authors' code (see `preset` and experiments/table1.py)
    epochs: dict = dataclasses.field(  # conv: the authors' 30
        default_factory=lambda: {"fc": 100, "conv": 30, "conv+gan": 30, "conv+gan+pixel": 30})
    base: SSLStudyConfig = SSLStudyConfig()  # its `run` says where every cell runs and writes
    name: str = "table1"


def cell_identity(study: SSLStudyConfig) -> str:
    """What makes two cells one measurement: model, schedule, batches, labels, seed and the evaluation
    images; not its name, nor where it ran or wrote."""
    settings = study.run
    what = dataclasses.replace(study, name="", run=RunSettings(steps_per_epoch=settings.steps_per_epoch,
                                                               evaluation_images=settings.evaluation_images))
    return training.signature(what)


def run_table1(config: Table1Config, splits: data.DatasetSplits | None = None,
               after_each_cell: Callable[[list[dict]], None] | None = None, earlier: list[dict] = ()) -> list[dict]:
    """Trains every cell; returns one record per (row, labels, seed). `after_each_cell` sees all records
    after each cell, the untrained ones with status "pending", so a table can be written as cells finish.
    A cell measured in `earlier` (the records of a table written before, maybe by another session on
    another machine) with the same `cell_identity` is kept as it is, with the commit that measured it:
    the full schedule can then be filled a few cells at a time."""
    splits = splits or config.base.run.load("mnist")
    cells = [{"row": row, "labels": labels, "seed": seed, "status": "pending"}
             for row in config.rows for labels in config.labels for seed in config.seeds]
    for index, cell in enumerate(cells):
        study = dataclasses.replace(
            config.base, name=f"{config.name}_{cell['row']}_{cell['labels']}_s{cell['seed']}",
            num_labelled=cell["labels"], seed=cell["seed"], epochs=config.epochs[cell["row"]],
            model=preset(cell["row"], config.protocol))
        identity = cell_identity(study)
        kept = next((c for c in earlier if c.get("status") == "measured" and c.get("identity") == identity), None)
        cells[index] = ({**kept, "kept_from_earlier_table": True} if kept else
                        {**cell, "status": "measured", "identity": identity, "commit": records.START_COMMIT,
                         **train_and_measure(study, splits)})
        if after_each_cell:
            after_each_cell(list(cells))
    return cells
