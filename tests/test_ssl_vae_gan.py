import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from vaegan_tf import losses
from vaegan_tf.models.layers import BatchNormalization
from vaegan_tf.models.m2 import M2Config
from vaegan_tf.models.ssl_vae_gan import SSLVAEGANConfig, build_ssl_vae_gan


def tiny(architecture="fc", **overrides):
    keras.utils.set_random_seed(0)
    m2 = M2Config(architecture=architecture, hidden_units=16, latent_dim=3)
    return build_ssl_vae_gan(SSLVAEGANConfig(m2=m2, **overrides))


def binary_images(count, seed):
    return tf.cast(tf.random.uniform((count, 28, 28, 1), seed=seed) < 0.3, tf.float32)


def test_soft_cross_entropy_by_hand():
    logits = tf.math.log(tf.constant([[0.5, 0.2, 0.3]]))  # two real classes and the fake one
    np.testing.assert_allclose(
        losses.soft_class_cross_entropy(tf.constant([[0.0, 1.0]]), logits),
        [-math.log(0.2)],
        rtol=1e-6,
    )
    np.testing.assert_allclose(
        losses.soft_class_cross_entropy(tf.constant([[0.5, 0.5]]), logits),
        [-0.5 * math.log(0.5) - 0.5 * math.log(0.2)],
        rtol=1e-6,
    )
    np.testing.assert_allclose(
        losses.soft_class_cross_entropy(tf.constant([[1.0, 0.0]]), logits),
        losses.class_cross_entropy(tf.constant([0]), logits),
        rtol=1e-6,
    )


@pytest.mark.parametrize("discriminator", [True, False])
def test_unlabelled_terms_are_q_weighted_sums_of_one_label_at_a_time(discriminator):
    """Sec. 3.3: every term that needs a label is averaged over q(y|x); checked against ten separate
    passes."""
    model = tiny()
    model.m2.draw_noise = lambda shape: tf.zeros(shape)  # the same z in both computations
    x = binary_images(3, seed=1)
    h = model.m2.trunk(x, training=False)
    q = tf.nn.softmax(tf.random.normal((3, 10), seed=2))
    every_label = model._every_label(x, h, training=False, discriminator=discriminator)
    summed = (
        tf.reduce_sum(q * every_label, -1)
        if discriminator
        else model.unlabelled_generator_loss(every_label, q)
    )
    by_label = []
    for label in range(10):
        terms = model._pairs(
            x, h, tf.one_hot([label] * 3, 10), training=False, discriminator=discriminator
        )
        by_label.append(terms if discriminator else terms.total)
    expected = tf.reduce_sum(q * tf.stack(by_label, axis=1), axis=1)
    np.testing.assert_allclose(summed, expected, rtol=1e-5)


@pytest.mark.parametrize("architecture", ["fc", "conv"])
def test_every_label_terms_read_h_once_with_the_same_values_and_gradients(
    architecture, monkeypatch
):
    """The shared first layer of the mean network (the default) against h tiled K times.

    Keras' batch norm path: the fused kernel's rounding (tests/test_layers.py checks it against
    float64) moves activations by ~1e-5, enough to flip a ReLU input that sits 2e-6 from its kink
    in this tiny conv net, and a ReLU net's gradient jumps there. The algebra is what is tested."""
    monkeypatch.setattr(BatchNormalization, "use_fused_kernel", False)
    model = tiny(architecture=architecture)
    noise = tf.random.normal((10 * 3, 3), seed=9)
    model.m2.draw_noise = lambda shape: noise  # the same z in both computations
    x = binary_images(3, seed=10)
    variables = model.m2.trainable_variables + model.discriminator.trainable_variables

    def terms(shared, discriminator):
        with tf.GradientTape() as tape:
            h = model.m2.trunk(x, training=True)
            found = model._every_label(x, h, True, discriminator, shared_first_layer=shared)
            total = tf.reduce_mean(found if discriminator else found.total)
        return found, tape.gradient(total, variables)

    for discriminator in (True, False):
        (fast, fast_gradients), (tiled, tiled_gradients) = (
            terms(True, discriminator),
            terms(False, discriminator),
        )
        for a, b in zip(tf.nest.flatten(fast), tf.nest.flatten(tiled), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
        for a, b in zip(fast_gradients, tiled_gradients, strict=True):
            assert (a is None) == (b is None)
            if a is not None:  # float32 sums in another order: tolerance on the gradient's scale
                np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-5 * max(1.0, np.abs(b).max()))


def test_generator_pair_term_is_kl_plus_feature_distance_plus_two_cross_entropies():
    model = tiny(similarity_weight=2.0, gan_weight=3.0)
    model.m2.draw_noise = lambda shape: tf.zeros(shape)
    x, y = binary_images(2, seed=3), tf.one_hot([4, 7], 10)
    h = model.m2.trunk(x, training=False)
    kl, pixel, rebuilt, generated = model._images(x, h, y, training=False)
    total, similarity, gan, prior_gan, pair_kl = model.generator_terms(
        x, y, kl, pixel, rebuilt, generated, training=False
    )
    feature_gap = model.discriminator(x)[1] - model.discriminator(rebuilt)[1]
    np.testing.assert_allclose(similarity, tf.reduce_sum(feature_gap**2, -1), rtol=1e-5)
    cross_entropy = losses.class_cross_entropy(
        [4, 7], model.discriminator(generated)[0]
    ) + losses.class_cross_entropy([4, 7], model.discriminator(rebuilt)[0])
    np.testing.assert_allclose(gan, cross_entropy, rtol=1e-5)
    np.testing.assert_allclose(total, kl + 2.0 * similarity + 3.0 * gan, rtol=1e-5)
    np.testing.assert_allclose(
        prior_gan,
        3.0 * losses.class_cross_entropy([4, 7], model.discriminator(generated)[0]),
        rtol=1e-5,
    )


@pytest.mark.parametrize("learns", [True, False])
def test_q_learns_from_prior_samples_only_in_the_papers_sum(learns):
    """The unlabelled G is sum_y q G_y either way; without `q_learns_from_prior_samples` its
    gradient in q(y|x) lacks the prior-sample GAN term, which does not depend on x."""
    model = tiny(q_learns_from_prior_samples=learns)
    model.m2.draw_noise = lambda shape: tf.zeros(shape)
    x = binary_images(3, seed=6)
    every_label = model._every_label(
        x, model.m2.trunk(x, training=False), training=False, discriminator=False
    )
    q = tf.nn.softmax(tf.random.normal((3, 10), seed=7))
    with tf.GradientTape() as tape:
        tape.watch(q)
        total = model.unlabelled_generator_loss(every_label, q)
    np.testing.assert_allclose(total, tf.reduce_sum(q * every_label.total, -1), rtol=1e-5)
    expected = every_label.total if learns else every_label.total - every_label.prior_gan
    np.testing.assert_allclose(tape.gradient(total, q), expected, rtol=1e-4)
    assert float(tf.reduce_min(every_label.prior_gan)) > 0.1  # the two cases differ


def test_larsen_split_keeps_the_gan_out_of_the_encoder_and_classifier():
    """encoder_learns_from_gan=False: the encoder's and q's gradients are those of the loss without
    GAN terms (here: the same model with gan_weight 0); the decoder's still carry the GAN."""
    x, labels = binary_images(6, seed=8), tf.constant([0, 1, 2, 3, 4, 5])
    data = ((x[:4], labels[:4]), (x, labels))

    def gradients(**overrides):
        model = tiny(architecture="conv", **overrides)
        model.m2.draw_noise = lambda shape: tf.zeros(shape)
        found, variables, _ = model._generator_gradients(lambda: model._kingma_losses(data, False))
        decoder = {
            id(v)
            for part in (model.m2.decoder, model.m2.decoder_head)
            if part is not None
            for v in part.trainable_variables
        }
        return (
            [g for g, v in zip(found, variables, strict=True) if id(v) not in decoder],
            [g for g, v in zip(found, variables, strict=True) if id(v) in decoder],
        )

    split_encoder, split_decoder = gradients(encoder_learns_from_gan=False)
    no_gan_encoder, no_gan_decoder = gradients(gan_weight=0.0)
    full_encoder, _ = gradients()
    for mine, theirs in zip(split_encoder, no_gan_encoder, strict=True):
        np.testing.assert_allclose(
            mine, theirs, rtol=1e-4, atol=1e-4
        )  # float sums in another order
    assert not all(
        np.allclose(a, b, atol=1e-6) for a, b in zip(split_encoder, full_encoder, strict=True)
    )  # the GAN reached it
    assert not all(
        np.allclose(a, b, atol=1e-6) for a, b in zip(split_decoder, no_gan_decoder, strict=True)
    )  # still trains D's way


def test_pixel_reconstruction_adds_exactly_the_bernoulli_term():
    """`conv+gan+pixel` (and DRAW-GAN, Sec. 4.6) keep M2's -log p(x|z,y) beside the feature
    distance."""
    model = tiny(pixel_reconstruction=True)
    model.m2.draw_noise = lambda shape: tf.zeros(shape)
    x, y = binary_images(2, seed=5), tf.one_hot([1, 8], 10)
    kl, pixel, rebuilt, generated = model._images(
        x, model.m2.trunk(x, training=False), y, training=False
    )
    with_pixels = model.generator_terms(x, y, kl, pixel, rebuilt, generated, training=False)[0]
    model.config = SSLVAEGANConfig(m2=model.config.m2, pixel_reconstruction=False)
    without = model.generator_terms(x, y, kl, pixel, rebuilt, generated, training=False)[0]
    assert float(tf.reduce_min(pixel)) > 100  # 784 Bernoulli pixels of an untrained decoder
    np.testing.assert_allclose(with_pixels - without, pixel, rtol=1e-5)


@pytest.mark.parametrize("encoder_learns_from_gan", [True, False])
def test_one_step_updates_the_discriminator_and_the_m2(encoder_learns_from_gan):
    model = tiny(architecture="conv", encoder_learns_from_gan=encoder_learns_from_gan)
    x, labels = binary_images(6, seed=4), tf.constant([0, 1, 2, 3, 4, 5])
    data = ((x[:4], labels[:4]), (x, labels))
    before = {id(w): w.numpy().copy() for w in model.trainable_weights}
    logs = model.train_step(data)
    assert {"generator_loss", "discriminator_loss", "similarity", "gan"} <= set(logs)
    assert all(np.isfinite(float(v)) for v in logs.values())
    for part in (model.m2, model.discriminator):
        kernels = [w for w in part.trainable_weights if w.ndim >= 2]
        assert all(not np.allclose(before[id(w)], w.numpy()) for w in kernels), part.name
    assert set(model.test_step((x, labels))) == {"error"}
