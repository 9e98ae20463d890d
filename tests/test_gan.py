import dataclasses
import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from vaegan_tf import distribute
from vaegan_tf.models import gan, networks
from vaegan_tf.models.gan import GANConfig, build_gan

SHAPE = (8, 8, 1)
TINY_FC = dataclasses.replace(networks.FC, dropout=0.0)


def tiny(preset=gan.GAN, **overrides) -> GANConfig:
    return dataclasses.replace(preset, image_shape=SHAPE, latent_dim=3, **overrides)


def images(count, seed=0):
    return tf.random.stateless_uniform((count, *SHAPE), seed=(seed, 1), minval=-1.0, maxval=1.0)


# The losses against hand-computed values.


def test_gan_losses_by_hand():
    logits = tf.constant([0.0, math.log(3.0)])  # D = 1/2 and 3/4
    np.testing.assert_allclose(
        gan.discriminator_real_term(logits), [math.log(2), -math.log(0.75)], rtol=1e-6
    )
    np.testing.assert_allclose(
        gan.discriminator_fake_term(logits), [math.log(2), -math.log(0.25)], rtol=1e-6
    )
    np.testing.assert_allclose(
        gan.minimax_generator_loss(logits), [math.log(0.5), math.log(0.25)], rtol=1e-6
    )
    np.testing.assert_allclose(
        gan.non_saturating_generator_loss(logits), [math.log(2), -math.log(0.75)], rtol=1e-6
    )


def test_wasserstein_losses_by_hand():
    real, fake = tf.constant([2.0, -1.0]), tf.constant([0.5, 3.0])
    critic = gan.critic_real_term(real) + gan.critic_fake_term(fake)
    np.testing.assert_allclose(critic, [0.5 - 2.0, 3.0 + 1.0])
    np.testing.assert_allclose(gan.wasserstein_generator_loss(fake), [-0.5, -3.0])


def test_gradient_penalty_of_a_linear_critic_is_closed_form():
    """f(x) = <w, x> has input gradient w everywhere: the penalty is (||w|| - 1)^2 at any x^."""
    w = tf.reshape(tf.range(1.0, 1.0 + math.prod(SHAPE)) / 50.0, SHAPE)

    def critic(x):
        return tf.reduce_sum(x * w, axis=[1, 2, 3])

    penalty = gan.gradient_penalty(critic, images(3, 1), images(3, 2), tf.constant([0.0, 0.3, 1.0]))
    expected = (float(tf.norm(w)) - 1.0) ** 2
    np.testing.assert_allclose(penalty, [expected] * 3, rtol=1e-5)
    unit = gan.gradient_penalty(
        lambda x: critic(x) / tf.norm(w), images(2), images(2, 3), tf.constant([0.5, 0.5])
    )
    np.testing.assert_allclose(unit, [0.0, 0.0], atol=1e-6)


def test_gradient_penalty_is_taken_at_the_interpolate():
    """f(x) = sum(x^2) / 2 has gradient x: the penalty reads ||eps x + (1 - eps) x~||."""
    real, fake = tf.ones((2, *SHAPE)), tf.zeros((2, *SHAPE))

    def critic(x):
        return 0.5 * tf.reduce_sum(tf.square(x), axis=[1, 2, 3])

    epsilon = tf.constant([0.25, 1.0])
    side = math.sqrt(math.prod(SHAPE))
    np.testing.assert_allclose(
        gan.gradient_penalty(critic, real, fake, epsilon),
        [(0.25 * side - 1) ** 2, (side - 1) ** 2],
        rtol=1e-5,
    )


def test_model_losses_use_the_chosen_pair():
    keras.utils.set_random_seed(0)
    model = build_gan(tiny(networks=TINY_FC, loss="minimax"))
    real, fake = images(4, 1), images(4, 2)
    terms = model.critic_terms(real, fake, None, training=False)
    logits = model.critic(tf.concat([real, fake], 0))
    np.testing.assert_allclose(terms.real, tf.nn.softplus(-logits[:4]), rtol=1e-5)
    np.testing.assert_allclose(terms.fake, tf.nn.softplus(logits[4:]), rtol=1e-5)
    np.testing.assert_allclose(terms.total, terms.real + terms.fake, rtol=1e-6)
    assert not np.any(terms.penalty)


# Lipschitz constraints and the critic step ratio.


def test_clipping_keeps_every_critic_weight_in_range():
    keras.utils.set_random_seed(0)
    config = tiny(gan.WGAN_CLIP, critic_optimizer=gan.OptimizerConfig("rmsprop", learning_rate=0.5))
    model = build_gan(config)
    before = np.concatenate([v.numpy().ravel() for v in model.critic.trainable_variables])
    assert np.abs(before).max() > 0.01  # Keras' initialisers start outside [-c, c]
    model.train_step((images(10), tf.zeros(10, tf.int32)))
    after = [v.numpy() for v in model.critic.trainable_variables]
    assert max(np.abs(v).max() for v in after) <= 0.01 + 1e-7
    assert any(np.isclose(np.abs(v), 0.01).any() for v in after)  # the big step hit the bound


def test_critic_steps_per_generator_step():
    keras.utils.set_random_seed(0)
    model = build_gan(tiny(networks=TINY_FC, critic_steps=3))
    model.train_step((images(12), tf.zeros(12, tf.int32)))
    model.train_step((images(12, 5), tf.zeros(12, tf.int32)))
    assert (
        int(model.critic_optimizer.iterations) == 6
        and int(model.generator_optimizer.iterations) == 2
    )


def test_a_batch_norm_critic_scores_real_and_fake_in_batches_of_their_own_by_default():
    """Radford et al.'s and Arjovsky et al.'s released code: the critic's step scores a real-only
    and a fakes-only batch, and the generator's step a fakes-only batch, each normalised by its own
    statistics."""
    keras.utils.set_random_seed(0)
    real, fake = images(4, 1), images(4, 2)
    model = build_gan(tiny(gan.DCGAN), *tiny_networks(tiny(gan.DCGAN)))
    assert gan.DCGAN.critic_batches == "separate" and not model.joint_batches
    alone = model.critic(fake, None, training=True)
    mixed = model.critic(tf.concat([real, fake], 0), None, training=True)[4:]
    assert not np.allclose(mixed, alone, atol=1e-3)  # the statistics matter
    terms = model.critic_terms(real, fake, None, training=True)
    np.testing.assert_allclose(terms.fake, tf.nn.softplus(alone), rtol=1e-5)
    real_alone = model.critic(real, None, training=True)
    np.testing.assert_allclose(terms.real, tf.nn.softplus(-real_alone), rtol=1e-5)
    np.testing.assert_allclose(model.score_fakes(real, fake, None), alone, rtol=1e-5)


def test_joint_batches_score_the_generator_beside_real_images_as_the_critic_was_trained():
    """`critic_batches="joint"`: a batch-norm critic trained on mixed [real; fake] batches scores a
    fakes-only batch with other statistics (Hu's DCGAN ran with the critic's fake term and the
    generator's loss both near 0 when the two were mixed), so the generator's step scores its fakes
    inside a mixed batch too. A critic without batch norm scores them alone, the same numbers for
    less work."""
    keras.utils.set_random_seed(0)
    real, fake = images(4, 1), images(4, 2)
    joint = tiny(gan.DCGAN, critic_batches="joint")
    normalising = build_gan(joint, *tiny_networks(joint))
    assert normalising.joint_batches
    mixed = normalising.critic(tf.concat([real, fake], 0), None, training=True)
    terms = normalising.critic_terms(real, fake, None, training=True)
    np.testing.assert_allclose(terms.real, tf.nn.softplus(-mixed[:4]), rtol=1e-5)
    np.testing.assert_allclose(terms.fake, tf.nn.softplus(mixed[4:]), rtol=1e-5)
    np.testing.assert_allclose(normalising.score_fakes(real, fake, None), mixed[4:], rtol=1e-5)
    plain = build_gan(tiny(gan.WGAN_GP, critic_batches="joint"))
    assert not plain.joint_batches
    np.testing.assert_allclose(
        plain.score_fakes(real, fake, None), plain.critic(fake, None, training=True), rtol=1e-6
    )
    # and the training step takes the generator's scores from it
    scored = []
    original = normalising.score_fakes
    normalising.score_fakes = lambda *args: scored.append(args) or original(*args)
    normalising.train_step((images(4, 3), tf.zeros(4, tf.int32)))
    assert len(scored) == 1


def test_an_unknown_critic_batching_is_refused():
    with pytest.raises(ValueError, match="critic batches"):
        tiny(critic_batches="mixed")


def test_interleaved_batches_take_every_kth_row():
    batch = tf.reshape(tf.range(12), [6, 2])
    first, second, third = gan.interleaved_batches(batch, 3)
    np.testing.assert_array_equal(first, [[0, 1], [6, 7]])
    np.testing.assert_array_equal(third, [[4, 5], [10, 11]])


def test_gradient_penalty_enters_the_critic_loss():
    keras.utils.set_random_seed(0)
    model = build_gan(tiny(gan.WGAN_GP))
    model.draw_interpolation_weights = lambda count: tf.fill([count], 0.3)
    real, fake = images(4, 1), images(4, 2)
    terms = model.critic_terms(real, fake, None, training=False)

    def critic(x):
        return model.critic(x, None, training=False)

    expected = 10.0 * gan.gradient_penalty(critic, real, fake, tf.fill([4], 0.3))
    np.testing.assert_allclose(terms.penalty, expected, rtol=1e-5)
    np.testing.assert_allclose(terms.total, terms.real + terms.fake + terms.penalty, rtol=1e-5)
    assert float(tf.reduce_min(terms.penalty)) > 0


# Networks and the conditional wrappers.


@pytest.mark.parametrize("preset", [gan.GAN, gan.CGAN, gan.DCGAN, gan.CDCGAN])
def test_network_shapes(preset):
    keras.utils.set_random_seed(0)
    config = dataclasses.replace(preset, image_shape=(28, 28, 1))
    model = build_gan(config)
    labels = tf.constant([3, 7]) if config.num_classes else None
    generated = model.generator(tf.zeros((2, 100)), labels)
    assert generated.shape == (2, 28, 28, 1) and float(tf.reduce_max(tf.abs(generated))) <= 1.0
    assert model.critic(generated, labels).shape == (2,)
    extra = 10 if config.num_classes else 0
    assert model.generator.body.input_shape[1:] == (100 + extra,)  # [z, one_hot(y)]
    if config.networks.architecture == "fc":
        assert model.critic.body.input_shape[1:] == (784 + extra,)  # [flatten(x), one_hot(y)]
    else:
        assert model.critic.body.input_shape[1:] == (28, 28, 1 + extra)  # x with label maps


def test_label_maps_carry_the_label_to_every_pixel():
    body = keras.Sequential([keras.layers.Identity()])
    critic = networks.Critic(body, num_classes=3, label_maps=True)
    joined = critic.body(tf.zeros((1, 2, 2, 1)))  # built; check the join itself below
    assert joined.shape == (1, 2, 2, 1)
    seen = {}
    critic.body = lambda inputs, training=False: seen.setdefault("inputs", inputs)[..., :1]
    critic(tf.zeros((2, 2, 2, 1)), tf.constant([2, 0]))
    np.testing.assert_array_equal(seen["inputs"][0, :, :, 1:], np.tile([0, 0, 1], (2, 2, 1)))
    np.testing.assert_array_equal(seen["inputs"][1, :, :, 1:], np.tile([1, 0, 0], (2, 2, 1)))


def test_dcgan_critic_has_batch_norm_but_on_its_input_layer():
    body = networks.dcgan_critic_body(networks.DCGAN)
    kinds = [type(layer).__name__ for layer in body.layers]
    assert (
        kinds.index("BatchNormalization") > kinds.index("Conv2D") + 1
    )  # not right after the first conv
    assert kinds.count("BatchNormalization") == 1
    no_bn = networks.dcgan_critic_body(dataclasses.replace(networks.DCGAN, critic_batch_norm=False))
    assert "BatchNormalization" not in [type(layer).__name__ for layer in no_bn.layers]
    assert all(
        type(layer).__name__ != "BatchNormalization"
        for layer in gan.GANModel(gan.WGAN_GP).critic.body.layers
    )


# The suite's interface.


def test_interface_sample_and_decode():
    keras.utils.set_random_seed(0)
    model = build_gan(tiny(gan.CGAN, networks=networks.FC))  # dropout on: decode must switch it off
    samples = model.sample(5)
    assert samples.shape == (5, *SHAPE)
    assert float(tf.reduce_min(samples)) >= 0.0 and float(tf.reduce_max(samples)) <= 1.0
    z, labels = tf.random.normal((4, 3), seed=1), tf.constant([0, 1, 2, 3])
    np.testing.assert_allclose(model.decode(z, labels), model.decode(z, labels))
    np.testing.assert_allclose(
        model.decode(z, labels), (model.generator(z, labels) + 1) / 2, rtol=1e-6
    )
    assert model.sample(3, tf.constant([1, 1, 1])).shape == (3, *SHAPE)
    with pytest.raises(ValueError, match="conditional"):
        model.decode(z)
    with pytest.raises(NotImplementedError, match="no encoder"):
        model.reconstruct(samples)
    unconditional = build_gan(tiny(networks=TINY_FC))
    with pytest.raises(ValueError, match="unconditional"):
        unconditional.decode(z, labels)


def test_config_refuses_a_constraint_without_the_wasserstein_loss():
    with pytest.raises(ValueError, match="wasserstein"):
        GANConfig(clip_value=0.01)
    with pytest.raises(ValueError, match="critic_steps"):
        GANConfig(critic_steps=0)


# One step on two mirrored CPUs equals one step on one device.


class PatternNoiseGAN(gan.GANModel):
    """The one per-replica difference a one-device run would not have is the random draws: here z
    and eps repeat a fixed two-row pattern, so any split of a batch over replicas draws the same
    multiset."""

    def draw_noise(self, count):
        pattern = tf.constant([[0.5, -1.0, 0.2], [-0.3, 0.8, 1.1]])
        return tf.tile(pattern, [count // 2, 1])

    def draw_interpolation_weights(self, count):
        return tf.tile(tf.constant([0.2, 0.7]), [count // 2])


def tiny_networks(config: GANConfig):
    """The preset's networks at a few units wide (the builders' widths are arguments)."""
    net = config.networks
    if net.architecture == "fc":
        bodies = networks.fc_generator_body(SHAPE, net, (6,)), networks.fc_critic_body(net, (6, 4))
    else:
        bodies = (
            networks.dcgan_generator_body(SHAPE, net, (4, 3)),
            networks.dcgan_critic_body(net, (3, 4)),
        )
    return (
        networks.Generator(bodies[0], config.num_classes),
        networks.Critic(bodies[1], config.num_classes, label_maps=net.architecture == "dcgan"),
    )


def one_step(strategy, config, x, labels):
    keras.utils.set_random_seed(0)
    with strategy.scope():
        model = PatternNoiseGAN(config, *tiny_networks(config))
        model.compile(config.generator_optimizer.build(), config.critic_optimizer.build())
        model.build_for_training()
    dataset = tf.data.Dataset.from_tensor_slices((x, labels)).batch(len(x))
    history = model.fit(dataset, epochs=1, verbose=0, shuffle=False)
    return history.history, [w.numpy() for w in model.weights]


# Four presets cover every path a replica split can break: the fc and conv networks, conditional
# (cgan, cdcgan) and not (the WGANs, on DCGAN's networks), the GAN loss and both Wasserstein
# constraints, several critic steps per generator step. gan and dcgan are cgan and cdcgan
# without the labels.
@pytest.mark.parametrize("preset", ["cgan", "cdcgan", "wgan_clip", "wgan_gp"])
def test_mirrored_step_on_two_cpus_matches_one_device(preset):
    config = tiny(gan.PRESETS[preset])
    if config.networks.architecture == "fc":
        config = dataclasses.replace(config, networks=TINY_FC)  # dropout masks differ by replica
    if config.critic_steps > 1:
        config = dataclasses.replace(
            config, critic_steps=2
        )  # the ratio's split; fewer steps to trace
    m = 4  # two per replica
    x = images(m * config.critic_steps).numpy()
    labels = np.arange(len(x), dtype=np.int32) % 10
    mirrored = distribute.make_strategy("mirrored")
    assert mirrored.num_replicas_in_sync == 2
    single_logs, single_weights = one_step(
        tf.distribute.OneDeviceStrategy("/cpu:0"), config, x, labels
    )
    mirrored_logs, mirrored_weights = one_step(mirrored, config, x, labels)
    for name in single_logs:
        np.testing.assert_allclose(mirrored_logs[name], single_logs[name], rtol=1e-4, atol=1e-6)
    for single, replicated in zip(single_weights, mirrored_weights, strict=True):
        np.testing.assert_allclose(replicated, single, rtol=1e-4, atol=1e-6)


def test_replicas_draw_different_noise():
    """The seed generator's state is mirrored; folded with the replica id, each replica draws its
    own z."""
    strategy = distribute.make_strategy("mirrored")
    with strategy.scope():
        model = gan.GANModel(tiny(networks=TINY_FC), *tiny_networks(tiny(networks=TINY_FC)))
    draws = strategy.experimental_local_results(
        strategy.run(tf.function(lambda: model.draw_noise(2)))
    )
    assert draws[0].shape == (2, 3) and not np.allclose(draws[0], draws[1])
