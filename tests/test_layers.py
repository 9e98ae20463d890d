"""The suite's batch norm: TensorFlow's fused kernel for a training pass over conv activations on
one replica, Keras' path everywhere else; the same normalisation, gradients, moving statistics and
weights as Keras' layer, and the global batch's statistics under a mirrored strategy."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from vaegan_tf import distribute
from vaegan_tf.models.layers import BatchNormalization, Network, population_statistics

SHAPE = (8, 5, 5, 4)


def pair(**kwargs):
    """The suite's layer and Keras' with the same (non-trivial) gamma and beta."""
    ours = BatchNormalization(momentum=0.9, **kwargs)
    keras_own = keras.layers.BatchNormalization(momentum=0.9, synchronized=True, **kwargs)
    for layer in (ours, keras_own):
        layer.build(SHAPE)
    rng = np.random.default_rng(1)
    if ours.scale:
        ours.gamma.assign(rng.normal(1.0, 0.3, SHAPE[-1]).astype(np.float32))
    if ours.center:
        ours.beta.assign(rng.normal(0.0, 0.5, SHAPE[-1]).astype(np.float32))
    keras_own.set_weights(ours.get_weights())
    return ours, keras_own


def activations(mean=3.0, scale=2.0, seed=0):
    return tf.constant(np.random.default_rng(seed).normal(mean, scale, SHAPE).astype(np.float32))


def forward_and_gradients(layer, x, weight):
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=True)
        loss = tf.reduce_sum(weight * y**2)  # a loss whose gradient depends on every output
    return y, tape.gradient(loss, [x, *layer.trainable_weights])


@pytest.mark.parametrize("center, scale", [(True, True), (False, True), (True, False)])
def test_fused_training_pass_equals_keras_and_algorithm_1(center, scale):
    ours, keras_own = pair(center=center, scale=scale)
    x = activations()
    weight = activations(0.0, 1.0, seed=5)
    y, gradients = forward_and_gradients(ours, x, weight)
    expected_y, expected_gradients = forward_and_gradients(keras_own, x, weight)
    # Algorithm 1 of Ioffe & Szegedy in float64, biased batch variance
    x64 = x.numpy().astype(np.float64)
    mu, var = x64.mean((0, 1, 2)), x64.var((0, 1, 2))
    gamma = ours.gamma.numpy() if scale else 1.0
    beta = ours.beta.numpy() if center else 0.0
    np.testing.assert_allclose(y, gamma * (x64 - mu) / np.sqrt(var + 1e-3) + beta, atol=2e-6)
    np.testing.assert_allclose(y, expected_y, rtol=2e-6, atol=2e-6)
    assert len(gradients) == len(expected_gradients) == 1 + center + scale
    for found, expected in zip(gradients, expected_gradients, strict=True):
        np.testing.assert_allclose(found, expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())
    # moving averages of the biased variance, as Keras keeps them (not the kernel's Bessel-corrected)
    np.testing.assert_allclose(ours.moving_mean, 0.1 * mu, rtol=1e-5)
    np.testing.assert_allclose(ours.moving_variance, 0.9 + 0.1 * var, rtol=1e-5)
    np.testing.assert_allclose(ours.moving_variance, keras_own.moving_variance, rtol=1e-6)


def operations(layer, x, training):
    graph = tf.function(lambda t: layer(t, training=training)).get_concrete_function(x).graph
    return {op.type for op in graph.get_operations()}


def test_the_kernel_runs_only_for_a_training_pass_over_conv_activations(monkeypatch):
    layer = BatchNormalization()
    layer.build(SHAPE)
    assert "FusedBatchNormV3" in operations(layer, activations(), training=True)
    with monkeypatch.context() as switched:
        switched.setattr(BatchNormalization, "use_fused_kernel", False)
        assert "FusedBatchNormV3" not in operations(layer, activations(), training=True)
    assert "FusedBatchNormV3" not in operations(layer, activations(), training=False)
    dense = BatchNormalization()
    dense.build((8, 4))
    assert "FusedBatchNormV3" not in operations(dense, tf.ones((8, 4)), training=True)
    # under mixed_bfloat16, Keras' path: it computes the moments of bfloat16 inputs in float32
    mixed = BatchNormalization(dtype="mixed_bfloat16")
    mixed.build(SHAPE)
    assert "FusedBatchNormV3" not in operations(
        mixed, tf.cast(activations(), tf.bfloat16), training=True
    )


def test_inference_and_2d_inputs_take_keras_path_with_equal_results():
    ours, keras_own = pair()
    x = activations()
    for layer in (ours, keras_own):
        layer(x, training=True)  # moving statistics away from their start
    np.testing.assert_allclose(
        ours(x, training=False), keras_own(x, training=False), rtol=2e-6, atol=2e-6
    )
    flat_ours, flat_keras = BatchNormalization(), keras.layers.BatchNormalization()
    flat = tf.reshape(x, [-1, SHAPE[-1]])
    np.testing.assert_allclose(
        flat_ours(flat, training=True), flat_keras(flat, training=True), rtol=1e-5, atol=1e-5
    )


def test_mirrored_replicas_normalise_with_the_global_batch():
    """Each replica's half is normalised with the statistics of all eight images: the fused kernel,
    which sees one replica's images only, must not run."""
    layer, reference = pair()
    x = activations()
    expected = reference(x, training=True)
    strategy = distribute.make_strategy("mirrored")
    assert strategy.num_replicas_in_sync == 2
    with strategy.scope():
        mirrored = BatchNormalization(momentum=0.9)
        mirrored.build(SHAPE)
        mirrored.set_weights(layer.get_weights())
    halves = strategy.experimental_distribute_dataset(
        tf.data.Dataset.from_tensor_slices(x).batch(8)
    )
    found = strategy.run(
        tf.function(lambda t: mirrored(t, training=True)), args=(next(iter(halves)),)
    )
    found = tf.concat(strategy.experimental_local_results(found), 0)
    # float32 rounding of the one-pass moments apart; one replica's own statistics are ~0.1 off
    np.testing.assert_allclose(found, expected, rtol=1e-5, atol=1e-5)


def test_weights_are_keras_weights_so_checkpoints_load_either_way(tmp_path):
    ours, keras_own = pair()
    x = activations()
    ours(x, training=True)
    assert [w.path.split("/")[-1] for w in ours.weights] == [
        w.path.split("/")[-1] for w in keras_own.weights
    ]
    model = keras.Sequential([keras.Input(SHAPE[1:]), ours])
    model.save_weights(tmp_path / "ours.weights.h5")
    restored = keras.Sequential([keras.Input(SHAPE[1:]), keras.layers.BatchNormalization()])
    restored.load_weights(tmp_path / "ours.weights.h5")
    for a, b in zip(model.weights, restored.weights, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("shape", [SHAPE, (8, 4)], ids=["conv-fused", "dense-keras"])
def test_population_statistics_average_the_batch_moments_then_restore(shape):
    layer = BatchNormalization(momentum=0.999)
    model = Network([layer])
    model.build(shape)
    layer.moving_mean.assign(np.full(shape[-1], 7.0, np.float32))  # a stale moving average
    layer.moving_variance.assign(np.full(shape[-1], 9.0, np.float32))
    rng = np.random.default_rng(3)
    batches = [
        rng.normal(mean, scale, shape).astype(np.float32)
        for mean, scale in ((0.0, 1.0), (2.0, 0.5), (-1.0, 3.0))
    ]
    axes = tuple(range(len(shape) - 1))
    with population_statistics(model, lambda x: model(x, training=True), batches):
        np.testing.assert_allclose(
            layer.moving_mean.numpy(), np.mean([b.mean(axes) for b in batches], 0), atol=1e-5
        )
        np.testing.assert_allclose(
            layer.moving_variance.numpy(), np.mean([b.var(axes) for b in batches], 0), rtol=1e-4
        )
    np.testing.assert_array_equal(layer.moving_mean.numpy(), 7.0)
    np.testing.assert_array_equal(layer.moving_variance.numpy(), 9.0)
    assert layer.momentum == 0.999
