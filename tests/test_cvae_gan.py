import dataclasses
import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from vaegan_tf import losses
from vaegan_tf.models import cvae_gan, discriminator
from vaegan_tf.models.cvae import CVAEConfig
from vaegan_tf.models.cvae_gan import AUTHORS_CODE, PAPER, build_cvae_gan
from vaegan_tf.models.discriminator import DiscriminatorConfig

TINY = dataclasses.replace(
    PAPER,
    cvae=CVAEConfig(width_scale=0.25, latent_dim=3, learning_rate=1e-4),
    discriminator=DiscriminatorConfig(filters=(4,), units=(8, 6)),
)


def test_feature_distance_and_class_cross_entropy_by_hand():
    np.testing.assert_allclose(
        losses.feature_distance(tf.constant([[1.0, 2.0]]), tf.constant([[0.0, 4.0]])), [5.0]
    )
    logits = tf.math.log(tf.constant([[0.5, 0.25, 0.25]]))
    np.testing.assert_allclose(
        losses.class_cross_entropy(tf.constant([2]), logits), [math.log(4)], rtol=1e-6
    )


@pytest.fixture
def model_and_batch():
    keras.utils.set_random_seed(0)
    model = build_cvae_gan(TINY)
    x = tf.cast(tf.random.uniform((6, 28, 28, 1), seed=1) < 0.3, tf.float32)
    return model, x, tf.constant([0, 1, 2, 3, 4, 5])


def test_discriminator_has_k_plus_one_classes_and_feature_layer(model_and_batch):
    model, x, _ = model_and_batch
    logits, features = model.discriminator(x, training=False)
    assert logits.shape == (6, 11) and features.shape == (6, 6) and model.config.fake_class == 10
    assert isinstance(
        model.discriminator, discriminator.Discriminator
    )  # the shared one, no second copy


def test_discriminator_config_of_sec_4_3_and_the_authors_code():
    assert PAPER.discriminator == DiscriminatorConfig(
        filters=(16, 32, 64),
        stride=2,
        units=(512, 500),
        activation="relu",
        num_classes=10,
        batch_norm=True,
    )
    assert AUTHORS_CODE.discriminator == dataclasses.replace(PAPER.discriminator, stride=1)
    strides = [
        layer.strides
        for layer in discriminator.Discriminator(AUTHORS_CODE.discriminator).trunk.layers
        if isinstance(layer, keras.layers.Conv2D)
    ]
    assert strides == [(1, 1)] * 3
    no_bn = discriminator.Discriminator(
        DiscriminatorConfig(filters=(4,), units=(8, 6), batch_norm=False)
    )
    no_bn(tf.zeros((1, 28, 28, 1)))
    assert not any(
        isinstance(layer, keras.layers.BatchNormalization)
        for part in (no_bn.trunk, no_bn.head)
        for layer in part.layers
    )


def test_the_class_count_is_the_discriminator_configs():
    config = dataclasses.replace(
        TINY, discriminator=dataclasses.replace(TINY.discriminator, num_classes=3)
    )
    assert config.fake_class == 3
    logits, features = cvae_gan.CVAEGAN(config).discriminator(tf.zeros((2, 28, 28, 1)))
    assert logits.shape == (2, 4) and features.shape == (2, 6)


def test_real_and_fake_images_share_the_discriminators_batch_statistics(model_and_batch):
    model, x, _ = model_and_batch

    def features(images):
        return model.discriminator(images, training=True)[1]

    # called apart, batch norm hides that every pixel doubled: a decoder could match f_l(x) without x
    np.testing.assert_allclose(features(x), features(2.0 * x), atol=1e-2)  # up to BN epsilon
    (_, real), (_, doubled), (_, few) = model.judge(x, 2.0 * x, x[:2], training=True)
    assert real.shape == (6, 6) and doubled.shape == (6, 6) and few.shape == (2, 6)
    assert np.abs(real - doubled).max() > 0.1


def test_discriminator_loss_is_the_papers_three_cross_entropies(model_and_batch):
    model, x, labels = model_and_batch
    rebuilt, generated = x * 0.5, 1.0 - x
    loss, _ = model.discriminator_terms(x, labels, rebuilt, generated, training=False)
    fake = tf.fill([6], 10)

    def logits(images):
        return model.discriminator(images, training=False)[0]

    expected = (
        losses.class_cross_entropy(labels, logits(x))
        + losses.class_cross_entropy(fake, logits(generated))
        + losses.class_cross_entropy(fake, logits(rebuilt))
    )
    np.testing.assert_allclose(loss, expected, rtol=1e-5)
    model.config = dataclasses.replace(
        model.config, reconstruction_in_discriminator=False
    )  # the authors' code
    without, _ = model.discriminator_terms(x, labels, rebuilt, generated, training=False)
    np.testing.assert_allclose(
        without, expected - losses.class_cross_entropy(fake, logits(rebuilt)), rtol=1e-5
    )
    assert AUTHORS_CODE.kl_weight == 10 and not AUTHORS_CODE.reconstruction_in_discriminator


def test_one_step_updates_both_networks_with_finite_losses(model_and_batch):
    model, x, labels = model_and_batch
    generator = [w.numpy().copy() for w in model.cvae.trainable_weights]
    discriminator = [w.numpy().copy() for w in model.discriminator.trainable_weights]
    logs = model.train_step((x, labels))
    assert all(np.isfinite(float(v)) for v in logs.values())
    assert any(
        not np.allclose(b, w.numpy())
        for b, w in zip(generator, model.cvae.trainable_weights, strict=False)
    )
    assert any(
        not np.allclose(b, w.numpy())
        for b, w in zip(discriminator, model.discriminator.trainable_weights, strict=False)
    )
    assert int(model.generator_optimizer.iterations.numpy()) == 1
    assert int(model.discriminator_optimizer.iterations.numpy()) == 1
    expected = (
        float(logs["kl"]) + float(logs["similarity"]) + float(logs["gan"])
    )  # unit weights (PAPER)
    assert float(logs["generator_loss"]) == pytest.approx(expected, rel=1e-4)
    assert model.sample(len(labels), labels).shape == (6, 28, 28, 1)
    assert set(model.test_step((x, labels))) == {
        "discriminator_loss",
        "kl",
        "similarity",
        "gan",
        "real_accuracy",
    }


@pytest.mark.usefixtures("eager_steps")
def test_trains_through_the_harness_and_resumes(splits, tmp_path):
    from vaegan_tf import data, training

    stream = data.pipeline(splits.train, batch_size=20, shuffle=True, seed=0, drop_remainder=True)
    run = training.RunConfig("cvae_gan", 2, work_root=str(tmp_path), steps_per_epoch=2, verbose=0)

    class Interrupt(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        training.train(run, lambda: build_cvae_gan(TINY), stream, callbacks=[Interrupt()])
    outcome = training.train(run, lambda: build_cvae_gan(TINY), stream)
    assert outcome.epochs_trained == 2 and len(outcome.history["generator_loss"]) == 1
    assert (
        int(outcome.model.discriminator_optimizer.iterations.numpy()) == 4
    )  # restored 2 + 2 new steps
