import dataclasses
import math

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp
from conftest import losses_on_a_fixed_batch

from vaegan_tf import losses
from vaegan_tf.models.vae import VAEConfig, build_vae

tfd = tfp.distributions
TINY = VAEConfig(image_shape=(4, 4, 1), hidden_units=(8,), latent_dim=2)


def test_reconstruction_nll_matches_hand_computed_bernoulli():
    x = tf.constant([[1.0, 0.0], [1.0, 1.0]])
    logits = tf.constant([[0.0, math.log(3.0)], [math.log(3.0), 0.0]])  # p = 1/2, 3/4 and 3/4, 1/2
    likelihood = tfd.Independent(tfd.Bernoulli(logits=logits, dtype=tf.float32), 1)
    expected = [-(math.log(0.5) + math.log(0.25)), -(math.log(0.75) + math.log(0.5))]
    np.testing.assert_allclose(losses.reconstruction_nll(x, likelihood), expected, rtol=1e-6)


def test_kl_matches_closed_form():
    mean, std = np.array([[0.5, -1.0]]), np.array([[2.0, 0.5]])
    posterior = tfd.Independent(tfd.Normal(mean, std), 1)
    prior = tfd.Independent(tfd.Normal(np.zeros(2), 1.0), 1)
    expected = 0.5 * np.sum(mean**2 + std**2 - np.log(std**2) - 1)  # Kingma & Welling, appendix B
    np.testing.assert_allclose(losses.kl_to_prior(posterior, prior), [expected], rtol=1e-6)
    np.testing.assert_allclose(losses.negative_elbo(tf.constant([2.0]), tf.constant([0.5])), [2.5])


def test_training_steps_update_every_weight_and_descend_the_negative_elbo():
    keras.utils.set_random_seed(0)
    model = build_vae(TINY)
    model.draw_noise = lambda shape: tf.zeros(shape)  # the same z each step: a deterministic loss
    before = [w.numpy().copy() for w in model.trainable_weights]
    x = tf.cast(tf.random.uniform((8, 4, 4, 1)) < 0.5, tf.float32)
    logs = model.train_step((x, tf.zeros(8, tf.int32)))
    assert set(logs) == {"loss", "reconstruction", "kl"}
    np.testing.assert_allclose(
        float(logs["loss"]), float(logs["reconstruction"]) + float(logs["kl"]), rtol=1e-5
    )
    weights = model.trainable_weights
    changed = [not np.allclose(b, w.numpy()) for b, w in zip(before, weights, strict=True)]
    assert all(changed), [w.path for w, c in zip(weights, changed, strict=True) if not c]
    losses = losses_on_a_fixed_batch(model, (x, tf.zeros(8, tf.int32)), steps=10)
    assert losses[-1] < losses[0], losses  # the steps descend the loss (a flipped sign ascends)


def test_samples_and_reconstructions_are_probabilities():
    model = build_vae(TINY)
    samples = model.sample(5).numpy()
    assert samples.shape == (5, 4, 4, 1) and samples.min() >= 0 and samples.max() <= 1
    assert model(tf.zeros((3, 4, 4, 1)), training=False).shape == (3, 4, 4, 1)


def test_loss_is_the_negative_elbo_of_its_distributions():
    """Recompute the per-example loss from the model's distributions with the noise fixed."""
    model = build_vae(TINY)
    x = tf.cast(tf.random.uniform((3, 4, 4, 1), seed=1) < 0.5, tf.float32)
    model.draw_noise = lambda shape: tf.zeros(shape)
    reconstruction, kl = model.per_example_terms(x, training=False)
    posterior = model.posterior(x, training=False)
    likelihood = model.likelihood(posterior.mean(), training=False)
    np.testing.assert_allclose(reconstruction, -likelihood.log_prob(x), rtol=1e-5)
    np.testing.assert_allclose(kl, tfd.kl_divergence(posterior, model.prior()), rtol=1e-5)


def test_deconv_decoder_upsamples_a_quarter_sized_start_to_the_image():
    keras.utils.set_random_seed(0)
    model = build_vae(dataclasses.replace(TINY, decoder="deconv"))
    shapes = [
        layer.output.shape[1:]
        for layer in model.decoder.layers
        if isinstance(layer, keras.layers.Reshape)
    ]
    assert shapes == [(1, 1, 128)]  # 4 // 4: Sec. 4.3's FC start at side / 4
    assert model.sample(3).shape == (3, 4, 4, 1)
    model.draw_noise = lambda shape: tf.zeros(shape)
    x = tf.cast(tf.random.uniform((8, 4, 4, 1), seed=2) < 0.5, tf.float32)
    losses = losses_on_a_fixed_batch(model, (x, tf.zeros(8, tf.int32)), steps=10)
    assert losses[-1] < losses[0], losses  # the deconv decoder trains


def test_unknown_decoder_is_refused():
    with pytest.raises(ValueError, match="unknown VAE decoder 'lstm'"):
        VAEConfig(decoder="lstm")
