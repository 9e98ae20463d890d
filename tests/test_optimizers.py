"""The suite's Adam (TensorFlow's fused kernel) against Keras' Adam and against Adam by hand: the
same weights after several steps, on one device and on two mirrored ones, with a schedule, and a
checkpoint of either resumes in the other."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from vaegan_tf import distribute, optimizers


def train(optimizer, steps=5, strategy=None, seed=0):
    """A small net with batch norm trained `steps` full-batch steps under `strategy`; its weights."""
    strategy = strategy or tf.distribute.OneDeviceStrategy("/cpu:0")
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(16, 6)).astype(np.float32)
    y = rng.normal(size=(16, 2)).astype(np.float32)
    keras.utils.set_random_seed(seed)
    with strategy.scope():
        model = keras.Sequential(
            [
                keras.Input((6,)),
                keras.layers.Dense(8, activation="tanh"),
                keras.layers.BatchNormalization(synchronized=True),  # as the suite's models
                keras.layers.Dense(2),
            ]
        )
        model.compile(optimizer=optimizer(), loss="mse")
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(16).repeat()
    model.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0)
    return model


def weights(model):
    return [w.numpy() for w in model.trainable_weights]


def adam_by_hand(w, gradients, rate, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    """Kingma & Ba's Algorithm 1, epsilon outside the bias-corrected square root (Keras')."""
    m, v = np.zeros_like(w), np.zeros_like(w)
    for t, g in enumerate(gradients, start=1):
        m = beta_1 * m + (1 - beta_1) * g
        v = beta_2 * v + (1 - beta_2) * g * g
        w = w - rate * np.sqrt(1 - beta_2**t) / (1 - beta_1**t) * m / (np.sqrt(v) + epsilon)
    return w


def test_updates_follow_adam_by_hand():
    start = np.array([0.5, -1.0, 2.0], np.float32)
    gradients = [np.array(g, np.float32) for g in ([1.0, -2.0, 0.1], [0.5, 0.5, -3.0], [2, 0, 1])]
    variable = keras.Variable(start)
    optimizer = optimizers.Adam(0.1, beta_1=0.8, beta_2=0.95, epsilon=1e-3)
    for g in gradients:
        optimizer.apply_gradients([(tf.constant(g), variable)])
    expected = adam_by_hand(start, gradients, 0.1, beta_1=0.8, beta_2=0.95, epsilon=1e-3)
    np.testing.assert_allclose(variable.numpy(), expected, rtol=1e-6, atol=1e-7)
    # the moments Keras keeps are the ones the kernel wrote: a checkpoint holds them
    assert int(optimizer.iterations.numpy()) == 3
    assert np.abs(optimizer.variables[2].numpy()).sum() > 0  # m


def op_types(function, *specs) -> set[str]:
    """Every op type of the traced `function`, the functions it calls included."""
    graph_def = function.get_concrete_function(*specs).graph.as_graph_def()
    nodes = [*graph_def.node, *(n for f in graph_def.library.function for n in f.node_def)]
    return {node.op for node in nodes}


def test_the_step_runs_the_fused_kernel_not_the_element_wise_chain():
    variable = keras.Variable(np.zeros((4, 3), np.float32))
    for optimizer, fused in ((optimizers.Adam(1e-3), True), (keras.optimizers.Adam(1e-3), False)):

        @tf.function
        def apply(gradient, optimizer=optimizer):
            optimizer.apply_gradients([(gradient, variable)])

        assert ("ResourceApplyAdam" in op_types(apply, tf.TensorSpec((4, 3)))) == fused


@pytest.mark.parametrize(
    "make",
    [
        lambda cls: cls(1e-2),
        lambda cls: cls(1e-2, beta_1=0.5, beta_2=0.9, epsilon=1e-8),
        lambda cls: cls(keras.optimizers.schedules.ExponentialDecay(1e-2, 2, 0.5, staircase=True)),
        lambda cls: cls(1e-2, global_clipnorm=0.1),
    ],
    ids=["default", "gan_betas", "schedule", "clipnorm"],
)
def test_weights_match_keras_adam_after_five_steps(make):
    fused = weights(train(lambda: make(optimizers.Adam)))
    reference = weights(train(lambda: make(keras.optimizers.Adam)))
    for mine, theirs in zip(fused, reference, strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=1e-5, atol=1e-6)
    assert not np.allclose(fused[0], weights(train(lambda: make(optimizers.Adam), steps=1))[0])


def test_mirrored_on_two_cpus_matches_one_device():
    mirrored = distribute.make_strategy("mirrored")
    assert mirrored.num_replicas_in_sync == 2
    single = weights(train(lambda: optimizers.Adam(1e-2)))
    replicated = weights(train(lambda: optimizers.Adam(1e-2), strategy=mirrored))
    for one, two in zip(single, replicated, strict=True):
        np.testing.assert_allclose(two, one, rtol=1e-4, atol=1e-6)


def test_amsgrad_takes_keras_update():
    fused = weights(train(lambda: optimizers.Adam(1e-2, amsgrad=True)))
    reference = weights(train(lambda: keras.optimizers.Adam(1e-2, amsgrad=True)))
    for mine, theirs in zip(fused, reference, strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=1e-6)


@pytest.mark.parametrize("saved, loaded", [("keras", "fused"), ("fused", "keras")])
def test_a_checkpoint_of_either_resumes_in_the_other(tmp_path, saved, loaded):
    """Runs trained before the fused update resume after it: the optimizer's variables are
    Keras' own, by name and shape."""
    kinds = {"keras": keras.optimizers.Adam, "fused": optimizers.Adam}
    first = train(lambda: kinds[saved](1e-2), steps=3)
    checkpoint = tf.train.Checkpoint(model=first, optimizer=first.optimizer)
    path = checkpoint.save(str(tmp_path / "ckpt"))
    second = train(lambda: kinds[loaded](1e-2), steps=1, seed=1)
    tf.train.Checkpoint(model=second, optimizer=second.optimizer).restore(path).assert_consumed()
    assert int(second.optimizer.iterations.numpy()) == 3
    for a, b in zip(first.optimizer.variables, second.optimizer.variables, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
