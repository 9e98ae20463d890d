"""The one generative interface (`vaegan_tf.models.interface`): every model samples, decodes and
reconstructs the same way, so that one set of study helpers measures them all."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from vaegan_tf import evaluate
from vaegan_tf.models.cvae import CVAEConfig, build_cvae
from vaegan_tf.models.cvae_gan import PAPER, build_cvae_gan
from vaegan_tf.models.interface import GenerativeModel
from vaegan_tf.models.vae import VAEConfig, build_vae
from vaegan_tf.models.vae_gan import VAEGANConfig, build_vae_gan

TINY_VAE = VAEConfig(hidden_units=(8,), latent_dim=3)
TINY_CVAE = CVAEConfig(architecture="fc", fc_hidden_units=(8,), latent_dim=3)


def builders():
    return {
        "vae": lambda: build_vae(TINY_VAE),
        "cvae": lambda: build_cvae(TINY_CVAE),
        "cvae_gan": lambda: build_cvae_gan(PAPER.__class__(cvae=TINY_CVAE)),
        "vae_gan": lambda: build_vae_gan(VAEGANConfig(vae=TINY_VAE)),
    }


CONDITIONAL = {"cvae", "cvae_gan"}


@pytest.mark.parametrize("name", sorted(builders()))
def test_every_model_samples_decodes_and_reconstructs_alike(name):
    keras.utils.set_random_seed(0)
    model = builders()[name]()
    assert isinstance(model, GenerativeModel)
    labels = tf.constant([0, 3, 9, 9]) if name in CONDITIONAL else None
    samples = np.asarray(model.sample(4, labels))
    assert samples.shape == (4, 28, 28, 1) and samples.min() >= 0 and samples.max() <= 1
    z = np.random.default_rng(0).standard_normal((4, model.latent_dim)).astype(np.float32)
    np.testing.assert_array_equal(
        np.asarray(model.decode(z, labels)), np.asarray(model.decode(z, labels))
    )
    # different codes, different images: decode reads z
    assert not np.allclose(
        np.asarray(model.decode(z, labels)), np.asarray(model.decode(-z, labels))
    )
    x = tf.constant(samples)
    rebuilt = np.asarray(model.reconstruct(x, labels))
    assert rebuilt.shape == samples.shape
    np.testing.assert_array_equal(
        rebuilt, np.asarray(model.reconstruct(x, labels))
    )  # posterior mean: no noise


def test_reconstruct_decodes_the_posterior_mean():
    model = build_vae(TINY_VAE)
    x = tf.constant((np.random.default_rng(1).random((3, 28, 28, 1)) < 0.3).astype(np.float32))
    expected = model.likelihood(model.posterior(x, training=False).mean(), training=False).mean()
    np.testing.assert_allclose(np.asarray(model.reconstruct(x)), np.asarray(expected), rtol=1e-6)


def test_an_unconditional_model_refuses_labels():
    model = build_vae(TINY_VAE)
    with pytest.raises(ValueError, match="unconditional"):
        model.sample(2, tf.constant([1, 2]))


def test_a_conditional_model_given_no_labels_draws_every_class():
    """sample(count) of a label-conditional model is p(x) = sum_y p(y) p(x|y) with a uniform p(y): with
    z fixed at 0 the image depends on y alone, so 200 draws must show (nearly) all ten decodings."""
    keras.utils.set_random_seed(0)
    model = build_cvae(TINY_CVAE)
    model.draw_noise = lambda shape: tf.zeros(shape)
    images = np.asarray(model.sample(200)).reshape(200, -1)
    per_label = np.asarray(model.decode(np.zeros((10, 3), np.float32), tf.range(10))).reshape(
        10, -1
    )
    matched = {int(np.argmin(((per_label - image) ** 2).sum(1))) for image in images}
    assert len(matched) == 10


def test_reconstruction_mse_is_zero_for_a_perfect_autoencoder_and_positive_otherwise(splits):
    class Identity:
        latent_dim = 784

        def reconstruct(self, x, labels=None):
            return x

    class Blank(Identity):
        def reconstruct(self, x, labels=None):
            return tf.zeros_like(x)

    assert evaluate.reconstruction_mse(Identity(), splits.test, conditional=False) == 0.0
    expected = float(np.mean((splits.test.images / 255.0) ** 2))
    assert evaluate.reconstruction_mse(Blank(), splits.test, conditional=True) == pytest.approx(
        expected, rel=1e-6
    )
