import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp
from conftest import losses_on_a_fixed_batch

from vaegan_tf import data
from vaegan_tf.models.cvae import CVAEConfig, build_cvae, condition_vector

tfd = tfp.distributions
TINY_CONV = CVAEConfig(width_scale=0.25, latent_dim=4)
TINY_FC = CVAEConfig(architecture="fc", fc_hidden_units=(16, 16), latent_dim=4)


def binary_images(count, shape=(28, 28, 1), seed=1):
    return tf.cast(tf.random.uniform((count, *shape), seed=seed) < 0.5, tf.float32)


def band_images(count, rng):
    """Class k lights rows 2k + 4 and 2k + 5 of an otherwise black 28x28 image."""
    labels = rng.integers(0, 10, count)
    images = np.zeros((count, 28, 28, 1), np.float32)
    for i, label in enumerate(labels):
        images[i, 2 * label + 4 : 2 * label + 6] = 1.0
    return images, labels


@pytest.mark.parametrize(
    "config, first_filters",
    [
        (CVAEConfig(), 28),  # Sec. 4.3, MNIST
        (CVAEConfig(image_shape=(32, 32, 3), width_scale=8 / 7), 32),  # SVHN: round(28 * 8/7)
        (CVAEConfig(architecture="fc"), None),  # Sec. 4.4
    ],
)
def test_output_shapes_and_widths(config, first_filters):
    model = build_cvae(config)
    shape = config.image_shape
    x, labels = binary_images(3, shape), tf.constant([0, 4, 9])
    assert model((x, labels), training=False).shape == (3, *shape)
    samples = model.sample(len(labels), labels).numpy()
    assert samples.shape == (3, *shape) and samples.min() >= 0 and samples.max() <= 1
    assert model.encode_mean(x, labels).shape == (3, 50)
    if first_filters is None:
        assert [layer.units for layer in model.encoder_head.layers if hasattr(layer, "units")] == [
            200,
            200,
            100,
        ]
    else:
        filters = [layer.filters for layer in model.features.layers if hasattr(layer, "filters")]
        assert filters == [first_filters, config.scaled(56), config.scaled(108)]
        assert model.decoder.layers[0].units == (shape[0] // 4) * (shape[1] // 4) * config.scaled(
            128
        )
        assert model.decoder.layers[-1].filters == shape[-1]


@pytest.mark.parametrize("config", [TINY_CONV, TINY_FC], ids=["conv", "fc"])
def test_training_steps_update_every_weight_and_descend_the_negative_elbo(config):
    keras.utils.set_random_seed(0)
    model = build_cvae(config)
    model.draw_noise = lambda shape: tf.zeros(shape)  # the same z each step: a deterministic loss
    before = [w.numpy().copy() for w in model.trainable_weights]
    batch = (binary_images(8), tf.range(8) % 10)
    logs = model.train_step(batch)
    assert set(logs) == {"loss", "reconstruction", "kl"}
    np.testing.assert_allclose(
        float(logs["loss"]), float(logs["reconstruction"]) + float(logs["kl"]), rtol=1e-5
    )
    assert all(
        not np.allclose(b, w.numpy()) for b, w in zip(before, model.trainable_weights, strict=True)
    )
    losses = losses_on_a_fixed_batch(model, batch, steps=5)
    assert losses[-1] < losses[0], losses  # the steps descend the loss (a flipped sign ascends)


@pytest.mark.parametrize("config", [TINY_CONV, TINY_FC], ids=["conv", "fc"])
def test_loss_is_the_negative_conditional_elbo_of_its_distributions(config):
    """Recompute the per-example terms from the model's distributions with the noise fixed."""
    model = build_cvae(config)
    x, labels = binary_images(3), tf.constant([1, 5, 7])
    model.draw_noise = lambda shape: tf.zeros(shape)
    reconstruction, kl = model.per_example_terms(x, labels, training=False)
    posterior = model.posterior(x, labels, training=False)
    likelihood = model.likelihood(posterior.mean(), labels, training=False)
    np.testing.assert_allclose(reconstruction, -likelihood.log_prob(x), rtol=1e-5)
    np.testing.assert_allclose(kl, tfd.kl_divergence(posterior, model.prior()), rtol=1e-5)
    assert reconstruction.shape == kl.shape == (3,)


@pytest.mark.parametrize("config", [TINY_CONV, TINY_FC], ids=["conv", "fc"])
def test_encoder_and_decoder_both_see_the_condition(config):
    model = build_cvae(config)
    x = tf.repeat(binary_images(1), 2, axis=0)
    labels = tf.constant([2, 8])
    means = model.encode_mean(x, labels).numpy()
    assert not np.allclose(means[0], means[1])
    model.draw_noise = lambda shape: tf.zeros(shape)
    images = model.sample(len(labels), labels).numpy()
    assert not np.allclose(images[0], images[1])


def test_generated_images_follow_their_label():
    """Trained on images that are a function of the label, sample(count, y) lights the band of y.
    (200 steps: after 50 the code z still carried the band and generations ignored y.)"""
    keras.utils.set_random_seed(0)
    images, labels = band_images(1000, np.random.default_rng(0))
    stream = (
        tf.data.Dataset.from_tensor_slices((images, labels)).batch(50).repeat()
    )  # int64 labels, in graph
    model = build_cvae(CVAEConfig(architecture="fc", fc_hidden_units=(32, 32), learning_rate=1e-2))
    model.fit(stream, epochs=1, steps_per_epoch=200, verbose=0, shuffle=False)
    generated = model.sample(50, tf.repeat(tf.range(10), 5)).numpy()[
        ..., 0
    ]  # [50, 28, 28], 5 per label
    bands = (
        generated.reshape(10, 5, 28, 28)[:, :, 4:24].reshape(10, 5, 10, 2 * 28).mean(-1)
    )  # [label, sample, band]
    own = bands[np.arange(10), :, np.arange(10)]  # [label, sample]
    others = np.where(np.eye(10, dtype=bool)[:, None, :], -np.inf, bands).max(-1)
    assert (own > 0.5).all() and (others < 0.2).all(), (own.min(), others.max())


def test_condition_vector_one_hot_labels_and_flat_halves():
    np.testing.assert_array_equal(condition_vector(tf.constant([2, 0]), 3), [[0, 0, 1], [1, 0, 0]])
    np.testing.assert_array_equal(condition_vector(np.array([1], np.int64), 2), [[0, 1]])
    left, _ = data.left_right_halves(np.arange(2 * 28 * 28, dtype=np.float32).reshape(2, 28, 28, 1))
    flat = condition_vector(left, 392).numpy()
    assert flat.shape == (2, 392) and flat.dtype == np.float32
    np.testing.assert_array_equal(
        flat[1, :14], np.arange(784, 798)
    )  # row 0 of image 1, left 14 pixels
    np.testing.assert_array_equal(flat[1, 14:16], [812, 813])  # row 1 starts 28 pixels on
    already_flat = tf.ones((2, 392))
    np.testing.assert_array_equal(condition_vector(already_flat, 392), already_flat)


def test_left_half_condition_trains_end_to_end_with_the_fc_network():
    keras.utils.set_random_seed(0)
    model = build_cvae(
        CVAEConfig(architecture="fc", condition_dim=392, fc_hidden_units=(16, 16), latent_dim=4)
    )
    x = binary_images(6)
    left, _ = data.left_right_halves(x)
    model.draw_noise = lambda shape: tf.zeros(shape)  # z = 0: a deterministic loss and completion
    losses = losses_on_a_fixed_batch(model, (x, left), steps=5)
    assert losses[-1] < losses[0], losses
    completed = model.sample(len(left), left).numpy()  # Sec. 4.4.1: the image from its left half
    assert completed.shape == (6, 28, 28, 1) and 0 <= completed.min() and completed.max() <= 1
    # the completion reads its left half: at the same z, another left half completes otherwise
    assert np.abs(completed[0] - completed[1]).max() > 1e-4


def test_bad_configs_are_rejected():
    with pytest.raises(ValueError, match="architecture 'mlp'"):
        CVAEConfig(architecture="mlp")
    with pytest.raises(ValueError, match="divisible by 4"):
        CVAEConfig(image_shape=(30, 30, 1))
    CVAEConfig(architecture="fc", image_shape=(30, 30, 1))  # the fc networks take any size
