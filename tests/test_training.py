import csv

import keras
import numpy as np
import pytest
import tensorflow as tf

from vaegan_tf import data, training
from vaegan_tf.models.vae import VAEConfig, build_vae

TINY = VAEConfig(image_shape=(28, 28, 1), hidden_units=(16,), latent_dim=2)


def dataset(splits, seed=0):
    return data.pipeline(splits.train, batch_size=50, preprocessing="dynamic_binarize", shuffle=True, seed=seed)


def run_config(tmp_path, name="run", epochs=2, seed=0):
    return training.RunConfig(name, epochs, seed=seed, work_root=str(tmp_path), verbose=0, nan_check_every=1,
                              steps_per_epoch=6)


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
    assert outcome.epochs_trained == 4 and outcome.wall_seconds > 0 and outcome.resumed_from_epoch == 2
    assert logged_epochs(outcome.log_csv) == [0, 1, 2, 3]
    assert not (run.work_dir / "backup").exists()


def test_fresh_run_starts_a_new_log(tmp_path, splits):
    run = run_config(tmp_path, epochs=1)
    training.train(run, lambda: build_vae(TINY), dataset(splits))
    outcome = training.train(run, lambda: build_vae(TINY), dataset(splits))
    assert logged_epochs(outcome.log_csv) == [0]


class PoisonWeights(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        weight = self.model.trainable_weights[0]
        weight.assign(tf.fill(weight.shape, float("nan")))


def test_nan_loss_stops_with_a_clear_error_and_keeps_the_last_good_epoch(tmp_path, splits):
    run = run_config(tmp_path, epochs=5)
    with pytest.raises(training.TrainingDiverged, match="diverged.*epoch 2, batch 1"):
        training.train(run, lambda: build_vae(TINY), dataset(splits), callbacks=[PoisonWeights()])
    assert (run.work_dir / "backup").exists()
    assert logged_epochs(run.work_dir / "log.csv") == [0, 1]  # stopped in epoch 2, not after all 5


def test_same_seed_same_first_epoch_loss(tmp_path, splits):
    losses = [training.train(run_config(tmp_path, f"seed{i}", epochs=1, seed=seed), lambda: build_vae(TINY),
                             dataset(splits, seed)).history["loss"][0] for i, seed in enumerate([3, 3, 4])]
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


def test_a_finished_run_is_reused_only_when_asked_and_only_for_its_schedule(tmp_path, splits):
    run = run_config(tmp_path, epochs=1)
    first = training.train(run, lambda: build_vae(TINY), dataset(splits))
    reused = training.train(run, lambda: build_vae(TINY), dataset(splits), reuse_finished=True)
    assert reused.reused_finished and reused.epochs_trained == 1
    assert reused.history["loss"] == pytest.approx(first.history["loss"])
    for mine, loaded in zip(first.model.weights, reused.model.weights):
        np.testing.assert_array_equal(mine.numpy(), loaded.numpy())
    longer = training.train(run_config(tmp_path, epochs=2), lambda: build_vae(TINY), dataset(splits),
                            reuse_finished=True)
    assert not longer.reused_finished and longer.epochs_trained == 2


def test_another_model_neither_resumes_nor_reuses_a_run_of_the_same_name(tmp_path, splits):
    import dataclasses

    signed = lambda config, epochs=1: dataclasses.replace(run_config(tmp_path, epochs=epochs),
                                                          model_signature=training.signature(config))
    wider = dataclasses.replace(TINY, hidden_units=(32,))
    training.train(signed(TINY), lambda: build_vae(TINY), dataset(splits))
    other = training.train(signed(wider), lambda: build_vae(wider), dataset(splits), reuse_finished=True)
    assert not other.reused_finished  # trained afresh, not loaded into the wrong network
    with pytest.raises(KeyboardInterrupt):
        training.train(signed(TINY, 3), lambda: build_vae(TINY), dataset(splits), callbacks=[InterruptAfter(0)])
    with pytest.raises(ValueError, match="model"):
        training.train(signed(wider, 3), lambda: build_vae(wider), dataset(splits))
    assert training.signature(TINY) == training.signature(dataclasses.replace(TINY))
