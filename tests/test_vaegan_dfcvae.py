import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import assert_recorded_run, drawn_png, record_grids

from vaegan_tf import losses
from vaegan_tf.models.dfc_vae import DFCVAEConfig, build_dfc_vae, build_perceptual_network
from vaegan_tf.models.vae import VAEConfig
from vaegan_tf.models.vae_gan import FAKE, REAL, VAEGANConfig, build_vae_gan

TINY_VAE = VAEConfig(hidden_units=(16,), latent_dim=3)


def grey_images(count, seed):
    return tf.random.uniform((count, 28, 28, 1), seed=seed)


def test_feature_perceptual_loss_by_hand():
    real = tf.zeros((1, 2, 2, 2))
    rebuilt = tf.constant(
        [[[[1.0, 0.0], [0.0, 0.0]], [[0.0, 0.0], [0.0, 3.0]]]]
    )  # squares sum to 10 over 8
    np.testing.assert_allclose(
        losses.feature_perceptual_loss(real, rebuilt), [10 / (2 * 8)], rtol=1e-6
    )


def test_vae_gan_losses_are_equations_2_and_3():
    keras.utils.set_random_seed(0)
    model = build_vae_gan(VAEGANConfig(vae=TINY_VAE))
    x, rebuilt, generated = grey_images(2, 1), grey_images(2, 2), grey_images(2, 3)

    def prob_real(images):
        return tf.nn.softmax(model.discriminator(images)[0])[:, REAL]

    d_loss, real, prior, _ = model.discriminator_terms(x, rebuilt, generated, training=False)
    expected = (
        -tf.math.log(prob_real(x))
        - tf.math.log(1 - prob_real(generated))
        - tf.math.log(1 - prob_real(rebuilt))
    )
    np.testing.assert_allclose(d_loss, expected, rtol=1e-5)
    np.testing.assert_allclose(real, -tf.math.log(prob_real(x)), rtol=1e-5)
    np.testing.assert_allclose(prior, -tf.math.log(1 - prob_real(generated)), rtol=1e-5)
    similarity, gan = model.generator_terms(x, rebuilt, generated, training=False)
    np.testing.assert_allclose(
        gan, -tf.math.log(prob_real(generated)) - tf.math.log(prob_real(rebuilt)), rtol=1e-5
    )
    gap = model.discriminator(x)[1] - model.discriminator(rebuilt)[1]
    np.testing.assert_allclose(similarity, tf.reduce_sum(gap**2, -1), rtol=1e-5)
    assert model.discriminator(x)[0].shape == (2, FAKE + 1)


def test_vae_gan_keeps_the_gan_gradient_out_of_the_encoder():
    """Larsen et al.: the encoder follows KL + similarity only; the decoder gamma * similarity + gan."""
    keras.utils.set_random_seed(0)
    model = build_vae_gan(
        VAEGANConfig(
            vae=VAEConfig(hidden_units=(16,), latent_dim=3, batch_norm=False),
            reconstruction_weight=0.5,
        )
    )
    model.vae.draw_noise = lambda shape: tf.zeros(shape) + 0.3  # the same z in every pass
    x = grey_images(4, 4)
    gradients, variables, _, _ = model.generator_gradients(x)
    encoder = len(model.vae.encoder.trainable_variables)
    with tf.GradientTape(persistent=True) as tape:
        # x~ from z = mu + 0.3 sigma, x_p from z_p = 0.3 (the fixed noise), as Bernoulli means
        posterior = model.vae.posterior(x, training=True)
        normal = posterior.distribution
        rebuilt = model.vae.likelihood(normal.loc + 0.3 * normal.scale, training=True).mean()
        generated = model.vae.likelihood(tf.fill([4, 3], 0.3), training=True).mean()
        kl = losses.kl_to_prior(posterior, model.vae.prior())
        similarity, gan = model.generator_terms(x, rebuilt, generated, training=True)
        without_gan, with_gan = (
            tf.reduce_mean(kl + similarity),
            tf.reduce_mean(kl + similarity + gan),
        )
        decoder_loss = tf.reduce_mean(0.5 * similarity + gan)
    expected = tape.gradient(without_gan, variables[:encoder]) + tape.gradient(
        decoder_loss, variables[encoder:]
    )
    for mine, theirs in zip(gradients, expected, strict=False):
        np.testing.assert_allclose(mine, theirs, rtol=1e-4, atol=1e-7)
    leaky = tape.gradient(with_gan, variables[:encoder])
    assert not all(
        np.allclose(a, b) for a, b in zip(gradients[:encoder], leaky, strict=False)
    )  # the cut matters
    # the step's logged losses are eq. 2's per network: encoder KL + similarity, decoder
    # gamma * similarity + GAN (gamma = 0.5 here)
    logs = {k: float(v) for k, v in model.train_step((x, tf.zeros(4, tf.int32))).items()}
    assert logs["encoder_loss"] == pytest.approx(logs["kl"] + logs["similarity"], rel=1e-5)
    assert logs["decoder_loss"] == pytest.approx(0.5 * logs["similarity"] + logs["gan"], rel=1e-5)


@pytest.mark.parametrize(
    "real, prior, prior_rule, larsen, both_sure",
    [
        (0.7, 0.7, (True, True), (True, True), (True, True)),  # level: both players move
        (
            0.7,
            0.2,
            (False, True),
            (False, True),
            (True, True),
        ),  # sure of the prior samples only: D waits unless both_sure
        (
            0.2,
            0.7,
            (True, True),
            (False, True),
            (True, True),
        ),  # sure of the real images: D waits only by Larsen's rule
        (
            0.2,
            0.2,
            (False, True),
            (False, True),
            (False, True),
        ),  # sure of both: D waits by every rule
        (
            0.7,
            1.2,
            (True, False),
            (True, False),
            (True, False),
        ),  # D fooled by prior samples: the decoder waits
        (
            1.2,
            0.7,
            (True, True),
            (True, False),
            (True, True),
        ),  # unsure of real images: Larsen's decoder waits
        (
            0.2,
            1.2,
            (True, False),
            (True, True),
            (True, False),
        ),  # Larsen's rule: both fire, both move
    ],
)
def test_vae_gan_equilibrium_skips_the_stronger_player(real, prior, prior_rule, larsen, both_sure):
    for rule, expected in (("prior", prior_rule), ("larsen", larsen), ("both_sure", both_sure)):
        model = build_vae_gan(VAEGANConfig(vae=TINY_VAE, balance=rule))
        decided = model.balance(tf.fill([4], real), tf.fill([4], prior))
        assert tuple(bool(d) for d in decided) == expected, rule
    unbalanced = build_vae_gan(VAEGANConfig(vae=TINY_VAE, equilibrium=None))
    assert tuple(bool(d) for d in unbalanced.balance(tf.fill([4], real), tf.fill([4], prior))) == (
        True,
        True,
    )


def test_vae_gan_rejects_an_unknown_balance_rule():
    with pytest.raises(ValueError, match="balance"):
        VAEGANConfig(balance="fake")


def test_vae_gan_step_leaves_a_skipped_network_untouched():
    keras.utils.set_random_seed(0)
    model = build_vae_gan(VAEGANConfig(vae=TINY_VAE))
    model.balance = lambda real, prior: (tf.constant(False), tf.constant(True))
    x = grey_images(4, 6)

    def weights(network):
        return [w.numpy().copy() for w in network.trainable_weights]

    discriminator, encoder = weights(model.discriminator), weights(model.vae.encoder)
    logs = model.train_step((x, tf.zeros(4, tf.int32)))
    assert all(
        np.array_equal(a, b)
        for a, b in zip(discriminator, weights(model.discriminator), strict=False)
    )
    assert not all(
        np.array_equal(a, b) for a, b in zip(encoder, weights(model.vae.encoder), strict=False)
    )
    assert (
        int(model.discriminator_optimizer.iterations) == 0
        and int(model.decoder_optimizer.iterations) == 1
    )
    assert float(logs["discriminator_updated"]) == 0.0 and float(logs["decoder_updated"]) == 1.0


def test_dfc_vae_reconstruction_is_the_weighted_perceptual_loss():
    keras.utils.set_random_seed(0)
    network = build_perceptual_network()
    before = [w.numpy().copy() for w in network.weights]
    model = build_dfc_vae(DFCVAEConfig(vae=TINY_VAE, perceptual_weight=2.0), network)
    model.draw_noise = lambda shape: tf.zeros(shape)
    x = grey_images(3, 5)
    reconstruction, kl = model.per_example_terms(x, training=False)
    rebuilt = model.likelihood(model.posterior(x, False).mean(), False).mean()

    def maps(images):
        return [
            keras.Model(network.inputs, network.get_layer(n).output)(images)
            for n in ("relu1", "relu2", "relu3")
        ]

    expected = 2.0 * sum(
        losses.feature_perceptual_loss(a, b) for a, b in zip(maps(x), maps(rebuilt), strict=False)
    )
    np.testing.assert_allclose(reconstruction, expected, rtol=1e-4)
    model.train_step((x, tf.zeros(3, tf.int32)))
    for old, new in zip(before, network.weights, strict=False):
        np.testing.assert_array_equal(old, new.numpy())  # the pre-trained network stays fixed


@pytest.mark.parametrize("variant", ["vaegan", "dfcvae"])
@pytest.mark.usefixtures("eager_steps")
def test_variant_study_compares_with_the_plain_vae_from_the_same_z(
    tmp_path, splits, monkeypatch, variant
):
    import csv
    import dataclasses

    from vaegan_tf import evaluate, records
    from vaegan_tf.studies import vae_mnist, vaegan_dfcvae, vaegan_dfcvae_report
    from vaegan_tf.studies.common import RunSettings

    drawn = record_grids(monkeypatch)
    run = RunSettings(
        results_root=str(tmp_path / "results"), work_root=str(tmp_path / "work"), steps_per_epoch=2
    )
    baseline = vae_mnist.VAEStudyConfig(model=TINY_VAE, epochs=1)
    config = vaegan_dfcvae.VariantConfig(
        variant=variant,
        name=variant,
        epochs=1,
        run=run,
        baseline=baseline,
        perceptual_epochs=1,
        quality_samples=60,
        vae_gan=VAEGANConfig(
            vae=VAEConfig(hidden_units=(16,), latent_dim=3, learning_rate=1e-4, decoder="deconv"),
            balance="prior",
        ),
        dfc_vae=DFCVAEConfig(vae=TINY_VAE),
    )
    metrics = vaegan_dfcvae.run(
        config, splits, evaluator=evaluate.Evaluator(evaluate.build_classifier())
    )
    title = vaegan_dfcvae.TITLES[variant]
    # the VAE-GAN's conv decoder is not make vae's: a plain VAE with its networks joins the comparison
    same = {vaegan_dfcvae.SAME_NETWORK_TITLE} if variant == "vaegan" else set()
    assert set(metrics["sample_quality"]) == {"plain VAE", title, "real training images", *same}
    assert set(metrics["test_reconstruction_mse"]) == {"plain VAE", title, *same}
    out = tmp_path / "results" / variant
    assert_recorded_run(out, metrics, epochs=1)
    # the finished runs, loaded, in the study's order
    variant_model = vaegan_dfcvae.train_variant(config, splits)[0].model
    loaded_baseline = vae_mnist.train_vae(
        dataclasses.replace(baseline, run=run, seed=config.seed), splits
    )
    assert loaded_baseline.reused_finished
    models = {"plain VAE": loaded_baseline.model}
    if same:
        assert metrics["same_network_baseline"]["decoder"] == "deconv"
        loaded_same = vaegan_dfcvae.train_same_network_baseline(config, splits)
        models[vaegan_dfcvae.SAME_NETWORK_TITLE] = loaded_same.model
    models[title] = variant_model.vae if variant == "vaegan" else variant_model
    # samples: each model's decodings of the same 100 codes, white columns between the models
    z = evaluate.shared_codes(100, 3, config.seed)
    samples = drawn["samples.png"]
    assert samples.shape == (10, 11 * len(models) - 1, 28, 28)
    for i, model in enumerate(models.values()):
        decoded = np.asarray(model.decode(z)).reshape(10, 10, 28, 28)
        np.testing.assert_allclose(samples[:, 11 * i : 11 * i + 10], decoded, rtol=1e-5, atol=1e-6)
        if i:
            assert (samples[:, 11 * i - 1] == 1).all()
    # reconstructions: the first ten test images, then each model's posterior-mean reconstructions;
    # the table's error is the same reconstruction's over every test image
    test = (splits.test.images / 255.0).astype(np.float32)
    rows = drawn["reconstructions.png"]
    assert rows.shape == (1 + len(models), 10, 28, 28)
    np.testing.assert_allclose(rows[0], test[:10, ..., 0])
    for i, (name, model) in enumerate(models.items()):
        rebuilt = np.asarray(model.reconstruct(test))
        np.testing.assert_allclose(rows[1 + i], rebuilt[:10, ..., 0], rtol=1e-5, atol=1e-6)
        mse = np.mean((rebuilt - test) ** 2)
        assert metrics["test_reconstruction_mse"][name] == pytest.approx(mse, rel=1e-5), name
    for name in ("samples.png", "reconstructions.png"):
        drawn_png(out / name)
    with open(out / "table.csv", newline="") as stream:
        table = {row["images"]: row for row in csv.DictReader(stream)}
    assert set(table) == {*models, "real training images"}
    for name, row in table.items():
        fd = metrics["sample_quality"][name]["frechet_distance"]
        assert row["Frechet distance"] == f"{fd:.3f}", name
        mse = metrics["test_reconstruction_mse"].get(name)
        assert row["test reconstruction MSE"] == ("" if mse is None else f"{mse:.4f}"), name
    assert f"| {title} |" in (out / "table.md").read_text()
    assert ("perceptual_network" in metrics) == (variant == "dfcvae")
    readme = (out / "README.md").read_text()
    assert ("Share of steps that updated D" in readme) == (variant == "vaegan")
    # another balance rule than the default is named, with the command that reproduces it
    assert ("rule `prior`" in readme and "make vaegan ARGS='--balance=prior'" in readme) == (
        variant == "vaegan"
    )
    assert (
        "**Reading** (one seed of each model):" in readme
        and f"{metrics['test_reconstruction_mse'][title]:.4f}" in readme
    )
    assert ("against the plain VAE, same networks" in readme) == (variant == "vaegan")
    # the README says where each baseline's weights come from: trained here the first time ...
    assert "The plain VAE (1 epochs" in readme and "was trained here with" in readme
    if same:
        first = metrics["same_network_baseline"]
        assert first["loaded_from_finished_run"] is False and first["epochs"] == 1
        assert "trained here with this config; it differs" in readme
        # ... and, as a rerun records them (the loads above), loaded with their training commit
        assert loaded_same.summary()["loaded_from_finished_run"] is True
        records.write_json(
            out / "metrics.json",
            {
                **metrics,
                "baseline_training": loaded_baseline.summary() | {"trained_at_commit": "a" * 40},
                "same_network_baseline": loaded_same.summary() | {"decoder": "deconv"},
            },
        )
        readme = vaegan_dfcvae_report.write_readme(out).read_text()
        assert (
            "loaded from a finished run of `make vae`'s config in `work/` trained at commit `aaaaaaa`"
            in readme
        )
        assert readme.count("loaded from a finished run of") == 2
        assert "of this config in `work/` trained at the same commit;" in readme
        assert "trained here" not in readme
