import csv
import dataclasses
import json

import h5py
import keras
import numpy as np
import pytest
import tensorflow as tf

from vaegan_tf import data, training
from vaegan_tf.models.vae import VAEConfig, build_vae

BACKUP_FILE = "latest.weights.h5"
TINY = VAEConfig(image_shape=(28, 28, 1), hidden_units=(16,), latent_dim=2)


def dataset(splits, seed=0):
    return data.pipeline(
        splits.train, batch_size=50, preprocessing="dynamic_binarize", shuffle=True, seed=seed
    )


def run_config(tmp_path, name="run", epochs=2, seed=0):
    return training.RunConfig(
        name,
        epochs,
        seed=seed,
        work_root=str(tmp_path),
        verbose=0,
        nan_check_every=1,
        steps_per_epoch=6,
    )


class InterruptAfter(keras.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise KeyboardInterrupt


def logged_epochs(path):
    with open(path) as stream:
        return [int(row["epoch"]) for row in csv.DictReader(stream)]


def test_interrupted_run_resumes_from_last_epoch(tmp_path, splits):
    run = run_config(tmp_path, epochs=4)
    with pytest.raises(KeyboardInterrupt):
        training.train(run, lambda: build_vae(TINY), dataset(splits), callbacks=[InterruptAfter(1)])
    assert (run.work_dir / "backup").exists()
    outcome = training.train(run, lambda: build_vae(TINY), dataset(splits))
    assert len(outcome.history["loss"]) == 2  # only epochs 3 and 4 ran after the restart
    assert (
        outcome.epochs_trained == 4 and outcome.wall_seconds > 0 and outcome.resumed_from_epoch == 2
    )
    assert logged_epochs(outcome.log_csv) == [0, 1, 2, 3]
    assert not (run.work_dir / "backup").exists()


def test_a_backup_cut_off_while_being_written_is_ignored(tmp_path, splits):
    """A kill while an epoch is being saved leaves a half-written `backup.next`; the backup in use
    is untouched, and the rerun resumes from it."""
    run = run_config(tmp_path, epochs=3)
    with pytest.raises(KeyboardInterrupt):
        training.train(run, lambda: build_vae(TINY), dataset(splits), callbacks=[InterruptAfter(0)])
    half = run.work_dir / "backup.next"
    half.mkdir()
    (half / BACKUP_FILE).write_bytes(b"\x89HDF\r\n half a file")
    outcome = training.train(run, lambda: build_vae(TINY), dataset(splits))
    assert outcome.resumed_from_epoch == 1 and logged_epochs(outcome.log_csv) == [0, 1, 2]
    assert not half.exists()


def test_fresh_run_starts_a_new_log(tmp_path, splits):
    training.train(run_config(tmp_path, epochs=2), lambda: build_vae(TINY), dataset(splits))
    outcome = training.train(
        run_config(tmp_path, epochs=1), lambda: build_vae(TINY), dataset(splits)
    )
    assert not outcome.reused_finished and logged_epochs(outcome.log_csv) == [0]


class PoisonWeights(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        weight = self.model.trainable_weights[0]
        weight.assign(tf.fill(weight.shape, float("nan")))


def backup_epoch(run):
    return json.loads((run.work_dir / "backup" / "training_metadata.json").read_text())["epoch"]


def test_nan_loss_stops_with_a_clear_error_and_keeps_the_last_good_epoch(tmp_path, splits):
    run = run_config(tmp_path, epochs=5)
    with pytest.raises(
        training.TrainingDiverged, match="diverged.*epoch 2, batch 1.*keeps epoch 1"
    ):
        training.train(run, lambda: build_vae(TINY), dataset(splits), callbacks=[PoisonWeights()])
    assert (
        backup_epoch(run) == 1
        and training.count_nonfinite(run.work_dir / "backup" / BACKUP_FILE)[0] == 0
    )
    assert logged_epochs(run.work_dir / "log.csv") == [0, 1]  # stopped in epoch 2, not after all 5


class LearningRateFrom(keras.callbacks.Callback):
    """Sets the learning rate to `rate` from epoch `epoch` (0-based) on: a run driven to diverge."""

    def __init__(self, epoch, rate=1e9):
        super().__init__()
        self.epoch, self.rate = epoch, rate

    def on_epoch_begin(self, epoch, logs=None):
        if epoch >= self.epoch:
            self.model.optimizer.learning_rate.assign(self.rate)


class PoisonOptimizerSlot(keras.callbacks.Callback):
    """After the last step of epoch `epoch`, one Adam moment becomes NaN: the weights and the
    epoch's metrics are still finite, so only a check of what the backup stores can see it."""

    def __init__(self, epoch, last_step):
        super().__init__()
        self.epoch, self.last_step, self.current = epoch, last_step, 0

    def on_epoch_begin(self, epoch, logs=None):
        self.current = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.current == self.epoch and batch == self.last_step:
            first = self.model.trainable_weights[0]
            slot = next(
                v for v in self.model.optimizer.variables if tuple(v.shape) == tuple(first.shape)
            )
            slot.assign(tf.fill(slot.shape, float("nan")))


def test_an_epoch_with_a_non_finite_optimizer_slot_is_not_backed_up(tmp_path, splits):
    run = dataclasses.replace(run_config(tmp_path, epochs=4), nan_check_every=100)
    slot_size = 28 * 28 * 16  # the moment of the first kernel, 784 inputs to 16 units
    with pytest.raises(
        training.TrainingDiverged,
        match=rf"epoch 2 ended with {slot_size:,} of [\d,]+ stored "
        r"values non-finite.*keeps epoch 1",
    ):
        training.train(
            run,
            lambda: build_vae(TINY),
            dataset(splits),
            callbacks=[PoisonOptimizerSlot(epoch=1, last_step=run.steps_per_epoch - 1)],
        )
    stored = run.work_dir / "backup" / BACKUP_FILE
    assert backup_epoch(run) == 1 and training.count_nonfinite(stored)[0] == 0
    assert not (run.work_dir / "finished.json").exists()
    # the rerun resumes from the kept epoch, not from the poisoned one, and its log stays contiguous
    outcome = training.train(run, lambda: build_vae(TINY), dataset(splits))
    assert outcome.resumed_from_epoch == 1 and outcome.epochs_trained == 4
    assert logged_epochs(outcome.log_csv) == [0, 1, 2, 3]
    assert all(np.isfinite(w.numpy()).all() for w in outcome.model.weights)


def test_a_run_diverging_from_its_first_epoch_keeps_no_backup_and_says_so(tmp_path, splits):
    run = dataclasses.replace(run_config(tmp_path, epochs=3), nan_check_every=100)
    with pytest.raises(training.TrainingDiverged, match="No epoch ended with finite weights"):
        training.train(
            run, lambda: build_vae(TINY), dataset(splits), callbacks=[LearningRateFrom(0)]
        )
    assert not (run.work_dir / "backup").exists() and not (run.work_dir / "finished.json").exists()


def test_a_run_diverging_later_keeps_its_last_finite_epoch(tmp_path, splits):
    """The issue's case: learning rate 1e9 from epoch 2 on. The backup keeps epoch 1, every value
    finite."""
    run = dataclasses.replace(run_config(tmp_path, epochs=4), nan_check_every=100)
    with pytest.raises(
        training.TrainingDiverged, match="keeps epoch 1, the last with every weight"
    ):
        training.train(
            run, lambda: build_vae(TINY), dataset(splits), callbacks=[LearningRateFrom(1)]
        )
    assert backup_epoch(run) == 1
    assert training.count_nonfinite(run.work_dir / "backup" / BACKUP_FILE)[0] == 0


def test_a_non_finite_backup_is_refused_on_resume(tmp_path, splits):
    run = run_config(tmp_path, epochs=3)
    with pytest.raises(KeyboardInterrupt):
        training.train(run, lambda: build_vae(TINY), dataset(splits), callbacks=[InterruptAfter(0)])
    stored = run.work_dir / "backup" / BACKUP_FILE
    with h5py.File(stored, "r+") as weights:  # as an older harness left it after a diverged epoch
        slot = weights["optimizer/vars/2"]
        slot[...] = np.full(slot.shape, np.nan, slot.dtype)
        poisoned = slot.size
    bad, total = training.count_nonfinite(stored)
    assert bad == poisoned and total > bad
    with pytest.raises(
        training.ResumeRefused, match=f"holds {bad:,} non-finite values.*delete .*backup"
    ):
        training.train(run, lambda: build_vae(TINY), dataset(splits))


class StopAfter(keras.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            self.model.stop_training = True


def test_a_partly_trained_model_never_gets_finished_json(tmp_path, splits):
    run = run_config(tmp_path, epochs=3)
    with pytest.raises(training.TrainingIncomplete, match="after 1 of 3 epochs"):
        training.train(run, lambda: build_vae(TINY), dataset(splits), callbacks=[StopAfter(0)])
    assert (
        not (run.work_dir / "finished.json").exists()
        and not (run.work_dir / "final.weights.h5").exists()
    )
    assert backup_epoch(run) == 1  # and the epoch it did train is kept to resume


@pytest.mark.parametrize(
    "field, value",
    [
        ("epochs", 0),
        ("epochs", -3),
        ("steps_per_epoch", 0),
        ("seed", -1),
        ("seed", 1.5),
        ("nan_check_every", 0),
        ("strategy", "tpu"),
        ("name", ""),
    ],
)
def test_run_config_refuses_values_that_would_train_nothing(tmp_path, field, value):
    with pytest.raises(ValueError, match=field if field != "name" else "folder name"):
        dataclasses.replace(run_config(tmp_path), **{field: value})


def test_same_seed_same_first_epoch_loss(tmp_path, splits):
    losses = [
        training.train(
            run_config(tmp_path, f"seed{i}", epochs=1, seed=seed),
            lambda: build_vae(TINY),
            dataset(splits, seed),
        ).history["loss"][0]
        for i, seed in enumerate([3, 3, 4])
    ]
    assert losses[0] == losses[1]
    assert losses[0] != losses[2]


def test_endless_stream_needs_steps_per_epoch(tmp_path, splits):
    run = training.RunConfig("endless", 1, work_root=str(tmp_path))
    with pytest.raises(ValueError, match="steps_per_epoch"):
        training.train(run, lambda: build_vae(TINY), dataset(splits))


def test_a_backup_of_another_seed_is_refused_not_resumed(tmp_path, splits):
    run = run_config(tmp_path, epochs=3)
    with pytest.raises(KeyboardInterrupt):
        training.train(run, lambda: build_vae(TINY), dataset(splits), callbacks=[InterruptAfter(0)])
    other_seed = run_config(tmp_path, epochs=3, seed=5)
    with pytest.raises(ValueError, match="seed 0.*delete that folder"):
        training.train(other_seed, lambda: build_vae(TINY), dataset(splits))
    assert (run.work_dir / "backup").exists()  # nothing lost


def test_a_finished_run_is_reused_never_deleted_and_only_for_its_schedule(tmp_path, splits):
    run = run_config(tmp_path, epochs=1)
    first = training.train(run, lambda: build_vae(TINY), dataset(splits))
    weights = (run.work_dir / "final.weights.h5").read_bytes()
    reused = training.train(run, lambda: build_vae(TINY), dataset(splits), reuse_finished=False)
    assert reused.reused_finished and reused.epochs_trained == 1
    assert (run.work_dir / "final.weights.h5").read_bytes() == weights
    assert reused.history["loss"] == pytest.approx(first.history["loss"])
    for mine, loaded in zip(first.model.weights, reused.model.weights, strict=True):
        np.testing.assert_array_equal(mine.numpy(), loaded.numpy())
    longer = training.train(
        run_config(tmp_path, epochs=2),
        lambda: build_vae(TINY),
        dataset(splits),
        reuse_finished=True,
    )
    assert not longer.reused_finished and longer.epochs_trained == 2


def test_another_model_neither_resumes_nor_reuses_a_run_of_the_same_name(tmp_path, splits):
    def signed(config, epochs=1):
        return dataclasses.replace(
            run_config(tmp_path, epochs=epochs), model_signature=training.signature(config)
        )

    wider = dataclasses.replace(TINY, hidden_units=(32,))
    training.train(signed(TINY), lambda: build_vae(TINY), dataset(splits))
    other = training.train(
        signed(wider), lambda: build_vae(wider), dataset(splits), reuse_finished=True
    )
    assert not other.reused_finished  # trained afresh, not loaded into the wrong network
    with pytest.raises(KeyboardInterrupt):
        training.train(
            signed(TINY, 3), lambda: build_vae(TINY), dataset(splits), callbacks=[InterruptAfter(0)]
        )
    with pytest.raises(ValueError, match="model"):
        training.train(signed(wider, 3), lambda: build_vae(wider), dataset(splits))
    assert training.signature(TINY) == training.signature(dataclasses.replace(TINY))
