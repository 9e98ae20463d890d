import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from vaegan_tf import distribute
from vaegan_tf.models.vae import VAE, VAEConfig, build_vae

CONFIG = VAEConfig(image_shape=(4, 4, 1), hidden_units=(16, 8), latent_dim=3)  # batch norm on, as in the paper


class NoiselessVAE(VAE):
    """Posterior noise is the one per-replica difference a one-device run would not have."""

    def draw_noise(self, shape):
        return tf.zeros(shape)


def one_step(strategy, x):
    keras.utils.set_random_seed(0)
    with strategy.scope():
        model = NoiselessVAE(CONFIG)
        model.compile(optimizer=keras.optimizers.Adam(1e-2))
        model.build_for_training()
    dataset = tf.data.Dataset.from_tensor_slices((x, np.zeros(len(x), np.int32))).batch(len(x))
    history = model.fit(dataset, epochs=1, verbose=0, shuffle=False)
    return history.history, [w.numpy() for w in model.weights]


def test_mirrored_step_on_two_cpus_matches_one_device():
    x = (np.random.default_rng(0).random((8, 4, 4, 1)) < 0.5).astype(np.float32)
    mirrored = distribute.make_strategy("mirrored")  # the suite's own: the two logical CPUs of conftest
    assert mirrored.num_replicas_in_sync == 2
    single_logs, single_weights = one_step(tf.distribute.OneDeviceStrategy("/cpu:0"), x)
    mirrored_logs, mirrored_weights = one_step(mirrored, x)
    np.testing.assert_allclose(mirrored_logs["loss"], single_logs["loss"], rtol=1e-5)
    for single, replicated in zip(single_weights, mirrored_weights):
        np.testing.assert_allclose(replicated, single, rtol=1e-4, atol=1e-6)


def test_strategy_choices():
    assert isinstance(distribute.make_strategy("cpu"), tf.distribute.OneDeviceStrategy)
    assert isinstance(distribute.make_strategy("auto"), tf.distribute.OneDeviceStrategy)  # no GPU here
    assert distribute.make_strategy("mirrored").num_replicas_in_sync == 2  # the two logical CPUs
    assert distribute.describe(distribute.make_strategy("cpu"))["replicas"] == 1
    with pytest.raises(ValueError, match="unknown strategy"):
        distribute.make_strategy("tpu")
    if not tf.config.list_logical_devices("GPU"):
        with pytest.raises(ValueError, match="no GPU"):
            distribute.make_strategy("gpu")


def test_multiworker_needs_tf_config(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match="TF_CONFIG"):
        distribute.make_strategy("multiworker")


def test_two_mirrored_runs_in_one_process(splits, tmp_path):
    """table1 builds a strategy per cell in one process; over CPUs, collective all-reduce keys of a
    second MirroredStrategy clashed with the first (seen in CI). Two runs must both train."""
    from vaegan_tf import data, training

    stream = data.pipeline(splits.train, batch_size=20, preprocessing="dynamic_binarize", shuffle=True)
    for name in ("first", "second"):
        run = training.RunConfig(name, 1, strategy="mirrored", work_root=str(tmp_path), steps_per_epoch=2, verbose=0)
        outcome = training.train(run, lambda: build_vae(VAEConfig(hidden_units=(8,), latent_dim=2)), stream)
        assert np.isfinite(outcome.history["loss"][0])
