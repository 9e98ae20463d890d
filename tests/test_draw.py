"""DRAW, conditional DRAW and DRAW-GAN: the attention filterbanks against hand-computed values, the
loop's bookkeeping (KL over steps, canvases, importance weights) against closed forms, one training
step of each model, and a mirrored step equal to a one-device step."""

import dataclasses
import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from vaegan_tf import distribute
from vaegan_tf.models import attention, draw
from vaegan_tf.models.interface import GenerativeModel

TINY = draw.DRAWConfig(
    image_shape=(8, 8, 1),
    steps=3,
    read_glimpse=2,
    write_glimpse=3,
    code_size=4,
    encoder_units=12,
    decoder_units=10,
)
TINY_FULL = dataclasses.replace(TINY, read_glimpse=None, write_glimpse=None)
TINY_CONDITIONAL = dataclasses.replace(TINY, num_classes=10)


def window(center_x, center_y, stride, variance, intensity=1.0) -> attention.Window:
    return attention.Window(
        *(
            tf.constant([value], tf.float32)
            for value in (center_x, center_y, stride, variance, intensity)
        )
    )


def binary_images(count, shape=(8, 8, 1), seed=0):
    return (np.random.default_rng(seed).random((count, *shape)) < 0.4).astype(np.float32)


# -- attention ---------------------------------------------------------------------------------


def test_one_filter_at_the_centre_with_sigma_one_reads_the_hand_computed_weighted_average():
    """A 1 x 1 glimpse centred on pixel (3, 3) of a 5 x 5 image, sigma = 1: each axis weighs pixel a
    by exp(-(a - 3)^2 / 2) / Z with Z = 1 + 2 exp(-1/2) + 2 exp(-2) (not the authors' exp(-((a - 3)
    / 2)^2))."""
    z = 1 + 2 * math.exp(-0.5) + 2 * math.exp(-2)
    weights = np.array([math.exp(-2), math.exp(-0.5), 1, math.exp(-0.5), math.exp(-2)]) / z
    rows = attention.filter_rows(tf.constant([3.0]), tf.constant([1.0]), tf.constant([1.0]), 1, 5)
    np.testing.assert_allclose(rows.numpy()[0, 0], weights, rtol=1e-6)
    image = np.zeros((1, 5, 5, 1), np.float32)
    image[0, 2, 3, 0] = 1.0  # row 3, column 4 (1-based)
    image[0, 0, 0, 0] = 2.0  # row 1, column 1
    glimpse = attention.read(tf.constant(image), window(3.0, 3.0, 1.0, 1.0, intensity=1.5), 1)
    expected = 1.5 * (weights[2] * weights[3] + 2 * weights[0] * weights[0])
    np.testing.assert_allclose(glimpse.numpy().ravel(), [expected], rtol=1e-6)


def test_filter_rows_sum_to_one_and_the_grid_is_centred_on_the_window():
    np.testing.assert_allclose(attention.grid_offsets(5), [-2, -1, 0, 1, 2])
    np.testing.assert_allclose(attention.grid_offsets(2), [-0.5, 0.5])
    rows = attention.filter_rows(
        tf.constant([4.5, 2.0]), tf.constant([1.7, 3.0]), tf.constant([0.8, 4.0]), 4, 8
    )
    np.testing.assert_allclose(tf.reduce_sum(rows, -1), np.ones((2, 4)), rtol=1e-6)
    centred = attention.filter_rows(
        tf.constant([10.5]), tf.constant([2.0]), tf.constant([1.0]), 4, 20
    )[0].numpy()
    np.testing.assert_allclose(
        centred, centred[::-1, ::-1], atol=1e-7
    )  # symmetric about pixel 10.5 of 1..20
    means = centred @ np.arange(1, 21)  # far from the edges, each filter's mean is its mu^i
    np.testing.assert_allclose(means, [7.5, 9.5, 11.5, 13.5], rtol=1e-5)  # 10.5 + (i - 2.5) * 2


def test_window_parameters_follow_the_draw_paper():
    """Raw outputs 0 put a full-image grid on the centre: g = (W + 1) / 2, delta = (max(H, W) - 1) /
    (N - 1), sigma^2 = gamma = 1 (Gregor et al. eqs. 21-24)."""
    got = attention.window_from_parameters(
        tf.constant([[0.0, 0.0, 0.0, 0.0, 0.0], [1.0, -1.0, math.log(2.0), math.log(0.5), 1.0]]),
        5,
        10,
        28,
    )
    np.testing.assert_allclose(
        [v.numpy() for v in got],
        [[14.5, 29.0], [5.5, 0.0], [6.75, 3.375], [1.0, 2.0], [1.0, math.e]],
        rtol=1e-6,
    )
    with pytest.raises(ValueError, match="N >= 2"):
        attention.window_from_parameters(tf.zeros((1, 5)), 1, 28, 28)


def test_read_then_write_of_a_full_size_window_with_stride_one_gives_back_the_image():
    """An N x N grid with N = H = W, stride 1, centred, puts one filter on every pixel. Normalised
    Gaussians of finite sigma blur neighbouring pixels, so F^T F is not the identity and
    write(read(x)) is a blurred x; the identity holds as sigma -> 0, and with sigma^2 = 1e-4 the
    off-pixel weights are exp(-5000), zero in float32: write(read(x)) = x exactly, whatever gamma
    (read scales by gamma, write by 1 / gamma). For any window, read and write are adjoint:
    <read(x), w> = gamma^2 <x, write(w)>."""
    images = tf.constant(np.random.default_rng(0).random((2, 6, 6, 3)), tf.float32)
    raw = tf.constant([[0.0, 0.0, math.log(1e-4), 0.0, 0.7]] * 2)
    full = attention.window_from_parameters(raw, 6, 6, 6)
    np.testing.assert_allclose(full.stride, [1.0, 1.0])
    rebuilt = attention.write(attention.read(images, full, 6), full, 6, 6)
    np.testing.assert_allclose(rebuilt, images, rtol=1e-6, atol=1e-6)

    blurred = window(3.2, 4.1, 1.3, 1.7, intensity=0.6)
    image = images[:1]
    patch = tf.constant(np.random.default_rng(1).random((1, 3, 3, 3)), tf.float32)
    left = tf.reduce_sum(attention.read(image, blurred, 3) * patch)
    right = tf.reduce_sum(image * attention.write(patch, blurred, 6, 6))
    np.testing.assert_allclose(left, 0.6**2 * right, rtol=1e-5)


# -- the loop ----------------------------------------------------------------------------------


def fixed_posterior(model: draw.DRAW, mean, log_scale) -> None:
    """Makes Q(z_t | h_enc_t) = N(mean, exp(log_scale)^2) at every step, whatever the input."""
    kernel, _ = model.posterior_head.get_weights()
    model.posterior_head.set_weights(
        [np.zeros_like(kernel), np.concatenate([mean, log_scale]).astype(np.float32)]
    )


def test_kl_is_summed_over_steps_and_the_importance_weights_are_hand_computed():
    """With Q fixed at N(m, s^2) every step, L^z = T * 0.5 sum_j (m^2 + s^2 - log s^2 - 1) (T = 3
    differs from the code size 4, where the authors' "- T/2" would be wrong), and with z_t = m + s
    eps_t, sum_t log N(z_t; 0, I) - log N(z_t; m, s^2) = sum_t sum_j (eps^2 - z^2) / 2 + log s."""
    keras.utils.set_random_seed(0)
    model = draw.build_draw(TINY)
    mean, log_scale = np.array([0.5, -1.0, 0.0, 2.0]), np.array([0.3, -0.2, 0.0, 0.1])
    fixed_posterior(model, mean, log_scale)
    noise = np.random.default_rng(0).standard_normal((3, 2, 4)).astype(np.float32)
    inference = model.infer(binary_images(2), noise=tf.constant(noise))
    scale = np.exp(log_scale)
    kl = 3 * 0.5 * np.sum(mean**2 + scale**2 - 2 * log_scale - 1)
    np.testing.assert_allclose(inference.kl, [kl, kl], rtol=1e-5)
    z = mean + scale * noise
    ratio = np.sum((noise**2 - z**2) / 2 + log_scale, axis=(0, 2))
    np.testing.assert_allclose(inference.log_prior_ratio, ratio, rtol=1e-5)


def test_loss_terms_are_the_bernoulli_nll_of_the_final_canvas_and_the_kl():
    keras.utils.set_random_seed(0)
    model = draw.build_draw(TINY)
    x = binary_images(3)
    noise = tf.constant(np.random.default_rng(2).standard_normal((3, 3, 4)), tf.float32)
    reconstruction, kl = model.per_example_terms(x, noise=noise)
    inference = model.infer(x, noise=noise)
    p = tf.sigmoid(inference.logits).numpy()
    expected = -np.sum(x * np.log(p) + (1 - x) * np.log(1 - p), axis=(1, 2, 3))
    np.testing.assert_allclose(reconstruction, expected, rtol=1e-4)
    np.testing.assert_allclose(kl, inference.kl, rtol=1e-6)


@pytest.mark.parametrize("config", [TINY, TINY_FULL], ids=["attention", "no_attention"])
def test_canvas_sequence_ends_at_the_returned_images(config):
    keras.utils.set_random_seed(0)
    model = draw.build_draw(config)
    x = binary_images(4)
    trace = model.trace_reconstruction(x)
    assert trace.canvases.shape == (3, 4, 8, 8, 1)
    np.testing.assert_allclose(trace.canvases[-1], model.reconstruct(x), rtol=1e-5, atol=1e-6)
    assert np.abs(trace.canvases[0] - trace.canvases[1]).max() > 1e-4  # each step writes something
    z = np.random.default_rng(3).standard_normal((5, model.latent_dim)).astype(np.float32)
    generated = model.trace_generation(z)
    np.testing.assert_allclose(generated.canvases[-1], model.decode(z), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.decode(z), model.decode(z))  # deterministic
    if config.write_glimpse:
        assert generated.write_windows.center_x.shape == (
            3,
            5,
        ) and trace.read_windows.variance.shape == (3, 4)
    else:
        assert generated.write_windows is None and trace.read_windows is None


def test_unrolled_loop_computes_what_the_while_loop_does():
    keras.utils.set_random_seed(0)
    model = draw.build_draw(TINY)
    x, noise = (
        binary_images(2),
        tf.constant(np.random.default_rng(4).standard_normal((3, 2, 4)), tf.float32),
    )
    looped, unrolled = (model.infer(x, noise=noise, unroll=unroll) for unroll in (False, True))
    for a, b in zip(looped[:3], unrolled[:3], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    z = np.random.default_rng(5).standard_normal((2, model.latent_dim)).astype(np.float32)
    np.testing.assert_allclose(
        model.generate(z)[0], model.generate(z, unroll=True)[0], rtol=1e-5, atol=1e-5
    )


def test_projected_lstm_step_is_the_keras_cell_step():
    cell = keras.layers.LSTMCell(5)
    rng = np.random.default_rng(6)
    inputs = tf.constant(rng.standard_normal((3, 4)), tf.float32)
    state = [tf.constant(rng.standard_normal((3, 5)), tf.float32) for _ in range(2)]
    cell(inputs, state)  # builds the weights
    cell.bias.assign(rng.standard_normal(cell.bias.shape))  # not the zero-and-one initial bias
    weights = [cell.kernel, cell.recurrent_kernel, cell.bias]
    results = []
    for projected in (False, True):
        with tf.GradientTape() as tape:
            if projected:
                h, (_, c) = draw.lstm_step_projected(cell, inputs @ cell.kernel, state)
            else:
                h, (_, c) = draw.lstm_step(cell, inputs, state)
            loss = tf.reduce_sum(h**2) + tf.reduce_sum(tf.sin(c))
        results.append([h, c, *tape.gradient(loss, weights)])
    for keras_step, projected_step in zip(*results, strict=True):
        np.testing.assert_allclose(projected_step, keras_step, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("config", [TINY_FULL, dataclasses.replace(TINY_FULL, num_classes=10)])
def test_hoisted_image_projection_computes_the_whole_kernels_step(config):
    """Without attention the projection of x is computed once per batch: the bound, its terms and
    every gradient equal those of the loop multiplying [x, x^_t, h_dec, y] at each step."""
    keras.utils.set_random_seed(0)
    model = draw.build_draw(config)
    for variable in model.trainable_variables:  # nonzero biases, so every term counts
        variable.assign(np.random.default_rng(7).normal(0, 0.3, variable.shape))
    x = binary_images(2)
    labels = tf.constant([3, 8]) if config.num_classes else None
    noise = tf.constant(np.random.default_rng(4).standard_normal((3, 2, 4)), tf.float32)
    outputs = {}
    for hoist in (False, True):
        model.hoist_image_projection = hoist
        with tf.GradientTape() as tape:
            inference = model.infer(x, labels, noise)
            loss = tf.reduce_sum(inference.logits**2) + tf.reduce_sum(inference.kl)
        outputs[hoist] = [*inference[:3], *tape.gradient(loss, model.trainable_variables)]
    assert len(outputs[True]) == 3 + len(model.trainable_variables)
    for whole, hoisted in zip(outputs[False], outputs[True], strict=True):
        np.testing.assert_allclose(hoisted, whole, rtol=1e-4, atol=1e-4)


def test_generation_follows_the_codes_of_each_step():
    """Step t reads z[:, t * code_size:(t + 1) * code_size]: changing the last step's code leaves
    the canvases before it unchanged."""
    keras.utils.set_random_seed(0)
    model = draw.build_draw(TINY)
    z = np.random.default_rng(5).standard_normal((2, model.latent_dim)).astype(np.float32)
    changed = z.copy()
    changed[:, -4:] += 1.0
    before, after = model.trace_generation(z).canvases, model.trace_generation(changed).canvases
    np.testing.assert_allclose(before[:2], after[:2])
    assert np.abs(before[2] - after[2]).max() > 1e-4


def test_importance_weights_belong_to_their_images_and_average_to_the_estimate():
    """A model that paints every pixel dark (write bias -1 a step) gives an all-black image a far
    higher likelihood than an all-white one: weights [k, B] in the wrong order would swap them.
    Drawn from the same noise, the estimate is log mean exp of the weights, above their mean (the
    bound, by Jensen)."""
    keras.utils.set_random_seed(0)
    model = draw.build_draw(TINY_FULL)
    kernel, bias = model.write_head.get_weights()
    model.write_head.set_weights([kernel, bias - 1.0])
    x = np.stack([np.zeros((8, 8, 1)), np.ones((8, 8, 1)), np.zeros((8, 8, 1))]).astype(np.float32)
    start = model.noise.state.numpy()
    weights = model.log_importance_weights(tf.constant(x), None, tf.constant(50)).numpy()
    model.noise.state.assign(start)
    estimate = model.importance_weighted_log_likelihood(x, 50, chunk=50)
    reconstruction, kl = model.per_example_terms(x)
    assert weights.shape == (50, 3) and weights[:, 1].mean() < weights[:, 0].mean() - 100
    np.testing.assert_allclose(weights.mean(axis=0), -(reconstruction + kl).numpy(), atol=10.0)
    np.testing.assert_allclose(estimate, tf.reduce_logsumexp(weights, 0) - math.log(50), rtol=1e-6)
    assert np.all(estimate > weights.mean(axis=0))


def test_interface_and_bad_labels():
    keras.utils.set_random_seed(0)
    model, conditional = draw.build_draw(TINY), draw.build_draw(TINY_CONDITIONAL)
    assert isinstance(model, GenerativeModel) and isinstance(
        draw.DRAWGAN(TEXT_GAN), GenerativeModel
    )
    assert model.latent_dim == 12 and model.sample(3).shape == (3, 8, 8, 1)
    samples = conditional.sample(4, labels=np.array([0, 1, 2, 3])).numpy()
    assert samples.min() >= 0 and samples.max() <= 1
    assert conditional.sample(5).shape == (5, 8, 8, 1)  # labels drawn uniformly
    z = np.zeros((2, 12), np.float32)
    assert not np.allclose(conditional.decode(z, [0, 0]), conditional.decode(z, [0, 7]))
    with pytest.raises(ValueError, match="unconditional"):
        model.decode(z, labels=[1, 2])
    with pytest.raises(ValueError, match="needs labels"):
        conditional.decode(z)
    with pytest.raises(ValueError, match="T \\* code_size"):
        model.decode(np.zeros((2, 5), np.float32))
    with pytest.raises(ValueError, match="at least 2"):
        draw.DRAWConfig(read_glimpse=1)


# -- training ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "config", [TINY, TINY_FULL, TINY_CONDITIONAL], ids=["draw", "no_attention", "conditional"]
)
def test_one_training_step_changes_the_weights_and_reports_finite_losses(config):
    keras.utils.set_random_seed(0)
    model = draw.build_draw(config)
    before = [w.numpy().copy() for w in model.trainable_weights]
    logs = model.train_step((tf.constant(binary_images(6)), tf.range(6)))
    assert set(logs) == {"loss", "reconstruction", "kl"}
    assert all(np.isfinite(float(v)) for v in logs.values())
    np.testing.assert_allclose(
        float(logs["loss"]), float(logs["reconstruction"]) + float(logs["kl"]), rtol=1e-5
    )
    changed = [
        not np.allclose(b, w.numpy()) for b, w in zip(before, model.trainable_weights, strict=True)
    ]
    assert all(changed), [
        w.path for w, c in zip(model.trainable_weights, changed, strict=True) if not c
    ]


def test_gradient_clipping_per_tensor_and_global():
    gradients = [
        tf.constant([3.0, 4.0]),
        tf.constant([0.3, 0.4]),
    ]  # norms 5 and 0.5, total sqrt(25.25)
    each = draw.clip_gradients(gradients, 1.0, each_tensor=True)
    np.testing.assert_allclose(each[0], [0.6, 0.8], rtol=1e-6)
    np.testing.assert_allclose(each[1], [0.3, 0.4], rtol=1e-6)
    total = draw.clip_gradients(gradients, 1.0, each_tensor=False)
    np.testing.assert_allclose(total[0], np.array([3.0, 4.0]) / math.sqrt(25.25), rtol=1e-5)


class NoiselessDRAW(draw.DRAW):
    """Posterior noise is the one per-replica difference a one-device run would not have."""

    def draw_noise(self, shape):
        return tf.zeros(shape)


def one_fit_step(strategy, build, x, labels):
    keras.utils.set_random_seed(0)
    with strategy.scope():
        model = build()
    dataset = tf.data.Dataset.from_tensor_slices((x, labels)).batch(len(x))
    history = model.fit(dataset, epochs=1, verbose=0, shuffle=False)
    return history.history, [w.numpy() for w in model.weights]


def assert_mirrored_equals_single(build, x, labels, loss_keys):
    mirrored = distribute.make_strategy("mirrored")
    assert mirrored.num_replicas_in_sync == 2
    single_logs, single_weights = one_fit_step(
        tf.distribute.OneDeviceStrategy("/cpu:0"), build, x, labels
    )
    mirrored_logs, mirrored_weights = one_fit_step(mirrored, build, x, labels)
    for key in loss_keys:
        np.testing.assert_allclose(mirrored_logs[key], single_logs[key], rtol=1e-5)
    for single, replicated in zip(single_weights, mirrored_weights, strict=True):
        np.testing.assert_allclose(replicated, single, rtol=1e-4, atol=1e-6)


def test_mirrored_draw_step_on_two_cpus_matches_one_device():
    """Conditional DRAW with a clip small enough to act on every tensor: clipping each replica's
    half of the gradient (Keras' clipnorm) would move the weights twice as far as one device does.
    Plain SGD, so the step is the clipped gradient. Two steps without attention, unrolled: a
    mirrored step is traced once per replica, and the loop's form and attention have their own
    tests."""
    config = dataclasses.replace(
        TINY_FULL, num_classes=10, steps=2, unroll=True, gradient_clip=1e-3
    )

    def build():
        model = NoiselessDRAW(config)
        model.compile(optimizer=keras.optimizers.SGD(1.0))
        return model.build_for_training()

    assert_mirrored_equals_single(build, binary_images(8), np.arange(8) % 10, ["loss", "kl"])


# -- DRAW-GAN --------------------------------------------------------------------------------------

GAN_DRAW = dataclasses.replace(TINY, gradient_clip=None, adam_beta1=0.9)
TEXT_GAN = dataclasses.replace(draw.PAPER_TEXT_GAN, draw=GAN_DRAW)
AUTHORS_GAN = dataclasses.replace(draw.AUTHORS_CODE_GAN, draw=GAN_DRAW)


def grey_images(count, seed=0):
    return np.random.default_rng(seed).random((count, 8, 8, 1)).astype(np.float32)


def noiseless(model):
    model.draw.draw_noise = lambda shape: tf.zeros(shape)
    return model


def test_two_class_discriminator_as_one_logit_is_its_softmax():
    keras.utils.set_random_seed(0)
    wrapped = draw.build_discriminator("cvae")
    x = tf.constant(grey_images(3))
    logit, features = wrapped(x, training=False)
    logits, _ = wrapped.discriminator(x, training=False)
    np.testing.assert_allclose(tf.sigmoid(logit), tf.nn.softmax(logits)[:, 0], rtol=1e-5)
    assert features.shape == (3, 500)
    authors_logit, authors_features = draw.build_discriminator("authors")(x, training=False)
    assert authors_logit.shape == (3,) and authors_features.shape == (3, 500)


def test_authors_generator_loss_is_summed_squared_error_kl_and_five_times_log_one_minus_d():
    """L_G = 256 ||x - x~||^2 + L^z + 5 log(1 - D(x_p)) per example (the authors' batch sum of
    squared errors beside batch means), D on the prior samples alone."""
    keras.utils.set_random_seed(0)
    model = noiseless(draw.build_draw_gan(AUTHORS_GAN))
    x = tf.constant(grey_images(4))
    total, reconstruction, kl, gan_term = model.generator_terms(x, training=False)
    rebuilt = model.reconstruct(x).numpy()  # z_t at their means: the zero noise of this model
    np.testing.assert_allclose(
        reconstruction, np.sum((x.numpy() - rebuilt) ** 2, axis=(1, 2, 3)), rtol=1e-4
    )
    generated = model.decode(np.zeros((4, model.latent_dim), np.float32))
    score = model.discriminator(generated, training=False)[0]
    np.testing.assert_allclose(
        gan_term, np.log(1 - tf.sigmoid(score).numpy()), rtol=1e-4, atol=1e-5
    )
    np.testing.assert_allclose(total, kl + 256 * reconstruction + 5 * gan_term, rtol=1e-5)
    d_loss, _, _ = model.discriminator_terms(x, training=False)
    real = model.discriminator(x, training=False)[0]
    expected = -np.log(tf.sigmoid(real).numpy()) - np.log(1 - tf.sigmoid(score).numpy())
    np.testing.assert_allclose(d_loss, expected, rtol=1e-4)


def test_text_reading_judges_prior_samples_and_reconstructions_in_one_call():
    """Eqs. 2-3: L_G = L^z + L^x - log D(x_p) - log D(x~), L_D = -log D(x) - log(1 - D(x_p))
    - log(1 - D(x~)), D's batch norm seeing x, x_p and x~ together (inference mode here)."""
    keras.utils.set_random_seed(0)
    model = noiseless(draw.build_draw_gan(TEXT_GAN))
    x = tf.constant(grey_images(3))
    total, reconstruction, kl, gan_term = model.generator_terms(x, training=False)
    rebuilt = model.reconstruct(x)
    generated = model.decode(np.zeros((3, model.latent_dim), np.float32))
    d = tf.sigmoid(
        model.discriminator(tf.concat([x, generated, rebuilt], 0), training=False)[0]
    ).numpy()
    d_real, d_generated, d_rebuilt = d[:3], d[3:6], d[6:]
    np.testing.assert_allclose(gan_term, -np.log(d_generated) - np.log(d_rebuilt), rtol=1e-4)
    p = rebuilt.numpy()
    bernoulli = -np.sum(x * np.log(p) + (1 - x) * np.log(1 - p), axis=(1, 2, 3))
    np.testing.assert_allclose(reconstruction, bernoulli, rtol=1e-4)
    np.testing.assert_allclose(total, kl + reconstruction + gan_term, rtol=1e-5)
    d_loss, real_correct, _ = model.discriminator_terms(x, training=False)
    expected = -np.log(d_real) - np.log(1 - d_generated) - np.log(1 - d_rebuilt)
    np.testing.assert_allclose(d_loss, expected, rtol=1e-4)
    np.testing.assert_array_equal(real_correct, (d_real > 0.5).astype(np.float32))


@pytest.mark.parametrize("config", [TEXT_GAN, AUTHORS_GAN], ids=["paper_text", "authors_code"])
def test_one_draw_gan_step_changes_both_players_and_reports_finite_losses(config):
    keras.utils.set_random_seed(0)
    model = draw.build_draw_gan(config)
    generator = [w.numpy().copy() for w in model.draw.trainable_weights]
    critic = [w.numpy().copy() for w in model.discriminator.trainable_weights]
    logs = model.train_step((tf.constant(grey_images(6)), tf.zeros(6, tf.int32)))
    assert all(np.isfinite(float(v)) for v in logs.values()), logs
    for before, weights in (
        (generator, model.draw.trainable_weights),
        (critic, model.discriminator.trainable_weights),
    ):
        changed = [not np.allclose(b, w.numpy()) for b, w in zip(before, weights, strict=True)]
        assert all(changed), [w.path for w, c in zip(weights, changed, strict=True) if not c]


def test_draw_gan_refuses_bad_settings():
    with pytest.raises(ValueError, match="generator_loss 'wasserstein'"):
        draw.DRAWGANConfig(generator_loss="wasserstein")
    with pytest.raises(ValueError, match="unconditional"):
        draw.DRAWGANConfig(draw=TINY_CONDITIONAL)


def test_mirrored_draw_gan_step_on_two_cpus_matches_one_device():
    """The paper's reading, whose discriminator has (synchronized) batch norm over x, x_p and x~.
    Plain SGD: Adam's first step, lr * g / (|g| + eps), magnifies float noise in gradients near eps.
    One DRAW step without attention keeps the graph, traced once per replica, small."""
    generator = dataclasses.replace(TINY_FULL, steps=1, unroll=True, gradient_clip=None)

    def build():
        model = noiseless(draw.DRAWGAN(dataclasses.replace(TEXT_GAN, draw=generator)))
        model.compile(
            generator_optimizer=keras.optimizers.SGD(1e-3),
            discriminator_optimizer=keras.optimizers.SGD(1e-2),
        )
        return model.build_for_training()

    assert_mirrored_equals_single(
        build, grey_images(8), np.zeros(8, np.int32), ["generator_loss", "discriminator_loss", "kl"]
    )
