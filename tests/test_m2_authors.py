"""The port of the authors' SSL code (`vaegan_tf.models.m2_authors`, `--protocol=authors_code`): its
unlabelled term by hand, the batch norm on the class logits, m2gan's losses, the shared
learning-rate clock, each protocol's training step and the choice of the labelled subset."""

import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf

from vaegan_tf import losses
from vaegan_tf.models import m2_authors
from vaegan_tf.models.m2_authors import AuthorsM2Config, build_authors_m2, sharpening_term
from vaegan_tf.models.ssl_vae_gan import SSLVAEGANConfig
from vaegan_tf.studies import table1
from vaegan_tf.studies.common import RunSettings

TINY_DISCRIMINATOR = dict(discriminator_filters=(4, 4, 4), discriminator_units=(16, 8))


def tiny(architecture="fc", **overrides):
    keras.utils.set_random_seed(0)
    shrink = dict(
        hidden_units=16, latent_dim=3, **(TINY_DISCRIMINATOR if architecture == "conv+gan" else {})
    )
    config = dataclasses.replace(m2_authors.preset(architecture, 1000), **{**shrink, **overrides})
    return build_authors_m2(config)


def grey_images(count, seed):
    return tf.random.uniform((count, 28, 28, 1), seed=seed)


def softmax(logits):
    e = np.exp(logits - logits.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def test_sharpening_gradient_is_the_hand_computed_one_and_sharpens_q():
    """S = -log sum_k q_k sg(q_k): dS/dl_j = q_j (1 - q_j / sum_k q_k^2), which raises the largest
    q."""
    logits = np.array([[0.3, -1.2, 2.0, 0.1], [1.0, 0.9, -0.5, 0.0], [-2.0, 0.5, 0.4, 3.0]])
    q = softmax(logits)
    tensor = tf.constant(logits, tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(tensor)
        term = sharpening_term(tensor)
        summed = tf.reduce_sum(term)
    np.testing.assert_allclose(term, -np.log((q * q).sum(-1)), rtol=1e-6)
    expected = q * (1.0 - q / (q * q).sum(-1, keepdims=True))
    gradient = tape.gradient(summed, tensor).numpy()
    np.testing.assert_allclose(gradient, expected, rtol=1e-5, atol=1e-7)
    stepped = softmax(logits - 0.5 * gradient)
    assert np.all(stepped.max(-1) > q.max(-1))  # a descent step sharpens every row
    assert np.all(stepped.argmax(-1) == q.argmax(-1))
    # the opposite of M2's entropy term, whose descent step flattens q
    entropy_gradient = -q * (np.log(q) + (-(q * np.log(q)).sum(-1, keepdims=True)))  # d(-H)/dl
    assert np.all(softmax(logits + 0.5 * entropy_gradient).max(-1) < q.max(-1))


@pytest.mark.parametrize("architecture", ["fc", "conv"])
def test_unlabelled_reconstruction_and_kl_send_no_gradient_to_q(architecture):
    """q(y|x) reaches the mean branch and decoder as a constant: their terms have no gradient in q,
    and the class head's gradient on an unlabelled batch is that of the sharpening term alone."""
    model = tiny(architecture)
    model.draw_noise = lambda shape: tf.zeros(shape)  # the same z in every computation
    x, y = grey_images(6, seed=1), tf.constant([0, 1, 2, 3, 4, 5])
    unlabelled = tf.zeros((6, 1))
    h = model.trunk(x, training=True)
    q = tf.nn.softmax(model.class_head(h, training=True))
    with tf.GradientTape() as tape:
        tape.watch(q)
        reconstruction, kl = model.labelled_terms(
            x, h, model.labels_used(y, q, unlabelled), training=True
        )
        bound = tf.reduce_sum(reconstruction + kl)
    assert tape.gradient(bound, q) is None
    with tf.GradientTape(
        persistent=True
    ) as tape:  # the same bound with the soft label not held constant
        tape.watch(q)
        reconstruction, kl = model.labelled_terms(x, h, q, training=True)
        soft = tf.reduce_sum(reconstruction + kl)
    assert (
        float(tf.reduce_max(tf.abs(tape.gradient(soft, q)))) > 1e-3
    )  # so the first check can fail

    head = model.class_head.trainable_variables
    with tf.GradientTape() as tape:
        total = tf.reduce_mean(model.per_example_loss(x, y, unlabelled, training=True))
    with tf.GradientTape() as sharpening_tape:
        sharpening = tf.reduce_mean(sharpening_term(model(x, training=True)))
    expected_gradients = sharpening_tape.gradient(sharpening, head)
    for mine, expected in zip(tape.gradient(total, head), expected_gradients, strict=True):
        np.testing.assert_allclose(mine, expected, rtol=1e-4, atol=1e-7)


def test_unlabelled_loss_is_bound_at_the_soft_label_plus_sharpening_and_never_reads_y():
    model = tiny("fc", alpha=1e4)
    model.draw_noise = lambda shape: tf.zeros(shape)
    x = grey_images(4, seed=2)
    h = model.trunk(x, training=False)
    logits = model.class_head(h, training=False)
    reconstruction, kl = model.labelled_terms(x, h, tf.nn.softmax(logits), training=False)
    expected = losses.labelled_bound(reconstruction, kl, 10) + sharpening_term(logits)
    for labels in ([0, 1, 2, 3], [9, 9, 9, 9]):
        np.testing.assert_allclose(
            model.per_example_loss(x, tf.constant(labels), tf.zeros((4, 1)), training=False),
            expected,
            rtol=1e-5,
        )
    labelled = model.per_example_loss(x, tf.constant([0, 1, 2, 3]), tf.ones((4, 1)), training=False)
    reconstruction, kl = model.labelled_terms(x, h, tf.one_hot([0, 1, 2, 3], 10), training=False)
    np.testing.assert_allclose(
        labelled,
        losses.labelled_bound(reconstruction, kl, 10)
        + 1e4 * losses.classification_loss(tf.constant([0, 1, 2, 3]), logits),
        rtol=1e-5,
    )


@pytest.mark.parametrize("architecture", ["fc", "conv"])
def test_class_logits_are_batch_normalised_and_evaluated_in_inference_mode(architecture):
    model = tiny(architecture)
    norms = [
        layer
        for layer in model.class_head.layers
        if isinstance(layer, keras.layers.BatchNormalization)
    ]
    assert len(norms) == 1 and norms[0].momentum == pytest.approx(0.999)
    x, y = grey_images(8, seed=3), tf.constant([0, 1, 2, 3, 4, 5, 6, 7])
    for flag in (1, 0):
        model.train_step((x, y, tf.fill([8], flag)))
    norm = norms[0]
    assert float(tf.reduce_max(tf.abs(norm.moving_mean))) > 0  # training moved its statistics
    dense = model.class_head.layers[0](model.trunk(x, training=False))
    by_hand = (dense - norm.moving_mean) / tf.sqrt(
        norm.moving_variance + norm.epsilon
    ) * norm.gamma + norm.beta
    np.testing.assert_allclose(model(x, training=False), by_hand, rtol=1e-4, atol=1e-5)
    # inference mode: an image's logits do not depend on the rest of its batch (training: they do)
    np.testing.assert_allclose(
        model(x[:3], training=False), model(x, training=False)[:3], rtol=1e-4, atol=1e-5
    )
    assert not np.allclose(model(x[:3], training=True), model(x, training=True)[:3], atol=1e-3)
    model.test_step((x, y))
    wrong = np.mean(np.argmax(by_hand, -1) != y.numpy())
    assert float(model.trackers["error"].result()) == pytest.approx(wrong)


def test_m2gan_class_logits_have_no_batch_norm():
    model = tiny("conv+gan")
    assert not any(
        isinstance(layer, keras.layers.BatchNormalization) for layer in model.m2.class_head.layers
    )


def test_m2gan_losses_by_hand_and_the_unlabelled_gan_terms_vanish():
    """Labelled: G = KL + B * ||f(x) - f(x~)||^2 + CE(D(Dec(z_p, y)), y) + alpha CE(q, y), D =
    CE(D(x), y) + CE(D(Dec(z_p, y)), fake). Unlabelled: both GAN terms with q's truncated target
    vanish."""
    model = tiny("conv+gan", alpha=7.0, sigmoid_before_softmax=False)
    model.m2.draw_noise = lambda shape: tf.fill(
        shape, 0.3
    )  # z and z_p alike, known to both computations
    x, y = grey_images(5, seed=4), tf.constant([1, 3, 5, 7, 9])
    m2, k = model.m2, 10
    h = m2.trunk(x, training=False)
    logits = m2.class_head(h, training=False)
    for labelled in (1.0, 0.0):
        y_used = tf.one_hot(y, k) if labelled else tf.nn.softmax(logits)
        posterior = m2.posterior(h, y_used, training=False)
        z = tf.fill(tf.shape(posterior.distribution.loc), 0.3)
        rebuilt = m2.likelihood(
            posterior.distribution.loc + posterior.distribution.scale * z, y_used, False
        ).mean()
        generated = m2.likelihood(z, y_used, False).mean()
        real_scores, real_features = model.discriminator(x)
        generated_scores, _ = model.discriminator(generated)
        _, rebuilt_features = model.discriminator(rebuilt)
        kl = losses.kl_to_prior(posterior, m2.prior())
        distance = tf.reduce_sum(tf.square(real_features - rebuilt_features), -1)
        generator, discriminator, similarity, _ = model.per_example_losses(
            x, y, tf.fill((5, 1), labelled), False
        )
        np.testing.assert_allclose(similarity, distance, rtol=1e-4, atol=1e-6)
        fake = losses.class_cross_entropy(tf.fill([5], k), generated_scores)
        if labelled:
            expected_g = (
                kl
                + 5 * distance
                + losses.class_cross_entropy(y, generated_scores)
                + 7.0 * losses.classification_loss(y, logits)
            )
            expected_d = losses.class_cross_entropy(y, real_scores) + fake
        else:
            expected_g, expected_d = kl + 5 * distance + sharpening_term(logits), fake
        np.testing.assert_allclose(generator, expected_g, rtol=1e-4)
        np.testing.assert_allclose(discriminator, expected_d, rtol=1e-4)


def test_discriminator_keeps_the_authors_sigmoid_quirk_by_default():
    model = tiny("conv+gan")
    scores, features = model.discriminator(grey_images(3, seed=5))
    assert scores.shape == (3, 11) and features.shape == (3, 8)
    assert float(tf.reduce_min(scores)) > 0 and float(tf.reduce_max(scores)) < 1  # sigmoid outputs
    plain = tiny("conv+gan", sigmoid_before_softmax=False)
    assert plain.discriminator.head.layers[0].activation is keras.activations.linear


@pytest.mark.parametrize("architecture", ["fc", "conv+gan"])
def test_learning_rate_decays_on_steps_counted_over_both_kinds_of_batch(architecture):
    """Step k (from 0) runs at rate * decay^ceil(k / 1000), k counting labelled and unlabelled
    steps."""
    model = tiny(architecture, learning_rate=1e-3, learning_rate_decay=0.5)
    optimizers = [model.optimizer, model.unlabelled_optimizer] + (
        [model.discriminator_optimizer, model.unlabelled_discriminator_optimizer]
        if architecture == "conv+gan"
        else []
    )
    for labelled_steps, unlabelled_steps, expected in (
        (0, 0, 1e-3),
        (1, 0, 5e-4),
        (600, 400, 5e-4),
        (600, 401, 2.5e-4),
        (10, 2990, 1.25e-4),
    ):
        model.optimizer.iterations.assign(labelled_steps)
        model.unlabelled_optimizer.iterations.assign(unlabelled_steps)
        for optimizer in optimizers:
            assert float(optimizer.learning_rate) == pytest.approx(expected), (
                labelled_steps,
                unlabelled_steps,
            )
    assert float(tiny("fc").optimizer.learning_rate) == pytest.approx(1e-3)  # no decay: constant


def _tiny_preset(row, protocol, labels=1000):
    config = table1.preset(row, protocol, labels)
    if isinstance(config, SSLVAEGANConfig):
        return dataclasses.replace(
            config, m2=dataclasses.replace(config.m2, hidden_units=16, latent_dim=3)
        )
    extra = TINY_DISCRIMINATOR if isinstance(config, AuthorsM2Config) and row == "conv+gan" else {}
    return dataclasses.replace(config, hidden_units=16, latent_dim=3, **extra)


@pytest.mark.parametrize(
    "protocol, row, labels",
    [
        ("kingma", "fc", 1000),
        ("kingma", "conv", 1000),
        ("kingma", "conv+gan", 1000),
        ("authors_code", "fc", 1000),
        ("authors_code", "conv", 1000),
        ("authors_code", "conv", 600),
        ("authors_code", "conv+gan", 1000),
        ("authors_code", "conv+gan-bn-logits", 1000),
    ],
)
def test_one_training_step_of_each_protocol_and_row_changes_every_kernel(protocol, row, labels):
    keras.utils.set_random_seed(0)
    config = table1.for_cell(_tiny_preset(row, protocol, labels), labels, 55000, seed=0)
    model = table1.builder(config)(config)
    x, y = grey_images(6, seed=6), tf.constant([0, 1, 2, 3, 4, 5])
    batches = (
        [((x[:4], y[:4]), (x, y))]
        if protocol == "kingma"
        else [(x, y, tf.ones(6, tf.int32)), (x, y, tf.zeros(6, tf.int32))]
    )
    for batch in batches:
        before = {id(w): w.numpy().copy() for w in model.trainable_weights}
        logs = model.train_step(batch)
        assert all(np.isfinite(float(value)) for value in logs.values())
        kernels = [w for w in model.trainable_weights if w.ndim >= 2]
        unchanged = [w.path for w in kernels if np.allclose(before[id(w)], w.numpy())]
        assert not unchanged, unchanged
    if protocol == "authors_code":  # one Adam per kind of batch, one step each
        assert (
            int(model.optimizer.iterations) == 1 and int(model.unlabelled_optimizer.iterations) == 1
        )
    assert model(x, training=False).shape == (6, 10)


@pytest.mark.parametrize("architecture", ["fc", "conv+gan"])
def test_each_kind_of_batch_moves_only_its_own_adams(architecture):
    """Their two (four) Adams: a labelled batch moves only the labelled ones, and the other way
    round."""
    model = tiny(architecture)
    x, labels = grey_images(4, seed=8), tf.constant([0, 1, 2, 3])
    labelled = [model.optimizer] + (
        [model.discriminator_optimizer] if architecture == "conv+gan" else []
    )
    unlabelled = [model.unlabelled_optimizer] + (
        [model.unlabelled_discriminator_optimizer] if architecture == "conv+gan" else []
    )

    def state(optimizers):
        return [v.numpy().copy() for optimizer in optimizers for v in optimizer.variables]

    for flag, moved, kept in ((1, labelled, unlabelled), (0, unlabelled, labelled)):
        moved_before, kept_before = state(moved), state(kept)
        model.train_step((x, labels, tf.fill([4], flag)))
        assert all(np.array_equal(a, b) for a, b in zip(kept_before, state(kept), strict=True))
        assert not all(
            np.array_equal(a, b) for a, b in zip(moved_before, state(moved), strict=True)
        )


def test_authors_conv_networks_as_their_two_checkpoints():
    """1000 labels: the decoder never sees y (z alone in, the version behind 4.83%); 600: y after
    the last deconv, hidden 1024, z = 100."""
    thousand, six_hundred = m2_authors.preset("conv", 1000), m2_authors.preset("conv", 600)
    assert (thousand.decoder_sees_label, thousand.hidden_units, thousand.latent_dim) == (
        False,
        500,
        50,
    )
    assert (six_hundred.decoder_sees_label, six_hundred.hidden_units, six_hundred.latent_dim) == (
        True,
        1024,
        100,
    )
    model = tiny("conv")
    model.draw_noise = lambda shape: tf.zeros(shape)
    z = tf.random.normal((2, 3), seed=7)
    means = [
        model.likelihood(z, tf.one_hot([label] * 2, 10), training=False).mean() for label in (0, 8)
    ]
    np.testing.assert_allclose(means[0], means[1])  # y is ignored
    sees = tiny("conv", decoder_sees_label=True)
    means = [
        sees.likelihood(z, tf.one_hot([label] * 2, 10), training=False).mean() for label in (0, 8)
    ]
    assert not np.allclose(means[0], means[1], atol=1e-6)


def test_fc_weights_start_normal_with_variance_one_over_fan_in():
    model = build_authors_m2(AuthorsM2Config())
    kernel = model.trunk.layers[1].kernel.numpy()  # 784 -> 500
    assert kernel.shape == (784, 500)
    assert kernel.std() == pytest.approx(1 / np.sqrt(784), rel=0.02) and abs(kernel.mean()) < 1e-3
    assert np.abs(kernel).max() > 4 / np.sqrt(
        784
    )  # untruncated normal tails (a uniform would stop at ~0.06)


def test_labelled_subsets_first_random_and_balanced():
    labels = np.arange(300) % 10
    np.testing.assert_array_equal(
        table1.labelled_indices(labels, 40, seed=3, how="first"), np.arange(40)
    )
    first = table1.labelled_indices(labels, 100, seed=0, how="random")
    np.testing.assert_array_equal(first, table1.labelled_indices(labels, 100, seed=0, how="random"))
    assert not np.array_equal(first, table1.labelled_indices(labels, 100, seed=1, how="random"))
    assert len(np.unique(first)) == 100 and first.max() < 300
    assert len(set(np.bincount(labels[first], minlength=10))) > 1  # not class-balanced
    balanced = table1.labelled_indices(labels, 100, seed=0, how="balanced")
    assert set(np.bincount(labels[balanced], minlength=10)) == {10}


def test_label_subset_choice_reaches_the_split_and_the_cell_identity(splits):
    labelled, unlabelled = table1.split_labels(splits, 50, seed=0, how="first")
    np.testing.assert_array_equal(labelled.images, splits.train.images[:50])
    np.testing.assert_array_equal(unlabelled.images, splits.train.images[50:])
    study = table1.SSLStudyConfig(num_labelled=50)
    assert table1.cell_identity(study) != table1.cell_identity(
        dataclasses.replace(study, label_subset="random")
    )
    with pytest.raises(ValueError, match="label_subset"):
        table1.SSLStudyConfig(label_subset="stratified")


def tiny_fc_cell(tmp_path, strategy="auto") -> table1.SSLStudyConfig:
    """A one-epoch authors_code FC cell on the fake splits: 2 labelled and 4 unlabelled steps."""
    model = dataclasses.replace(table1.preset("fc", "authors_code"), hidden_units=8, latent_dim=2)
    return table1.SSLStudyConfig(
        model=model,
        num_labelled=100,
        batch_size=50,
        epochs=1,
        label_subset="random",
        run=RunSettings(strategy=strategy, work_root=str(tmp_path)),
    )


@pytest.mark.parametrize("strategy", ["cpu", "mirrored"])
def test_authors_protocol_trains_a_cell_with_one_adam_per_kind_of_batch(splits, tmp_path, strategy):
    config = tiny_fc_cell(tmp_path, strategy)
    outcome = table1.train_cell(config, splits)
    assert int(outcome.model.optimizer.iterations.numpy()) == 2
    assert int(outcome.model.unlabelled_optimizer.iterations.numpy()) == 4
    assert outcome.model.config.alpha == pytest.approx(5500)  # 55000 / 10 for any label count
    assert np.isfinite(outcome.history["labelled"][-1]) and np.isfinite(
        outcome.history["unlabelled"][-1]
    )


def test_authors_cells_also_report_the_error_at_population_batch_statistics(splits, tmp_path):
    config = tiny_fc_cell(tmp_path)
    measured = table1.train_and_measure(config, splits)
    for split in ("validation", "test"):
        assert 0.0 <= measured[f"{split}_error_recalibrated"] <= 1.0
    # the measurement leaves the trained model's moving statistics as they were
    outcome = table1.train_cell(config, splits)  # the finished run, loaded
    before = [v.numpy() for v in outcome.model.non_trainable_variables]
    table1.recalibrated_error_rates(outcome.model, splits, config)
    for old, new in zip(before, outcome.model.non_trainable_variables, strict=True):
        np.testing.assert_array_equal(old, new.numpy())
