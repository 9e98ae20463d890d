import dataclasses
import json
import math

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import fake_splits

from vaegan_tf import records
from vaegan_tf.models import gan, networks
from vaegan_tf.models.cvae import build_cvae
from vaegan_tf.models.vae import VAEConfig, build_vae
from vaegan_tf.studies import hw4, hw4_report
from vaegan_tf.studies.common import RunSettings


def test_the_reports_vaes():
    """FC: 784 -> 100 ReLU (BN) -> z = 2 and back; conv: two 3x3 stride-1 'same' convolutions
    first."""
    keras.utils.set_random_seed(0)
    fc, conv = build_vae(hw4.VAE), build_vae(hw4.CONV_VAE)
    dense = [layer for layer in fc.encoder.layers if isinstance(layer, keras.layers.Dense)]
    assert [layer.units for layer in dense] == [100, 4]  # the hidden layer, then mu and log sigma^2
    convolutions = [
        layer for layer in conv.encoder.layers if isinstance(layer, keras.layers.Conv2D)
    ]
    assert [(c.filters, c.kernel_size, c.strides, c.padding) for c in convolutions] == [
        (16, (3, 3), (1, 1), "same"),
        (32, (3, 3), (1, 1), "same"),
    ]
    assert conv.encoder.layers[-1].input.shape[-1] == 28 * 28 * 32  # stride 1 keeps 28x28
    assert [type(layer).__name__ for layer in conv.decoder.layers] == [
        type(layer).__name__ for layer in fc.decoder.layers
    ]  # the decoder did not change
    x = tf.cast(tf.random.uniform((3, 28, 28, 1), seed=1) < 0.3, tf.float32)
    assert conv.encode_mean(x).shape == (3, 2) and conv.decode(tf.zeros((3, 2))).shape == (
        3,
        28,
        28,
        1,
    )
    # the convolutions train: one step moves both kernels
    kernels = [c.kernel.numpy().copy() for c in convolutions]
    conv.train_step((x, tf.zeros(3, tf.int32)))
    assert all(
        not np.allclose(before, c.kernel.numpy())
        for before, c in zip(kernels, convolutions, strict=True)
    )
    assert not any(
        isinstance(layer, keras.layers.BatchNormalization)
        for layer in build_vae(hw4.PLAIN_VAE).layers
    )
    with pytest.raises(ValueError, match="encoder"):
        VAEConfig(encoder="rnn")


def test_default_vae_keeps_its_dense_encoder():
    keras.utils.set_random_seed(0)
    model = build_vae(VAEConfig(hidden_units=(8,), latent_dim=2))
    kinds = [type(layer).__name__ for layer in model.encoder.layers]
    assert kinds == ["Flatten", "Dense", "BatchNormalization", "Activation", "Dense"]


def test_coverage_by_hand():
    logits = np.eye(10)[[0, 0, 0, 1, 1, 2, 2, 2, 2, 2]] * 5.0
    shares = hw4.digit_shares(logits)
    np.testing.assert_allclose(shares, [0.3, 0.2, 0.5] + [0] * 7)
    measured = hw4.coverage(shares)
    assert measured["digits_covered"] == 3 and measured["largest_share"] == 0.5
    expected = math.exp(-(0.3 * math.log(0.3) + 0.2 * math.log(0.2) + 0.5 * math.log(0.5)))
    assert measured["effective_digits"] == pytest.approx(expected)
    assert hw4.coverage(np.full(10, 0.1))["effective_digits"] == pytest.approx(10.0)
    nearly_absent = np.array([0.19] + [0.09] * 9)
    nearly_absent[1] = 0.01  # below 2%: not covered
    nearly_absent[0] += 0.08
    assert hw4.coverage(nearly_absent)["digits_covered"] == 9


def test_labelled_likelihood_pairs_each_draw_with_its_images_label():
    """The estimator flattens draws draw-major ([count * B]): row c * B + b belongs to image b."""
    keras.utils.set_random_seed(0)
    cvae = build_cvae(dataclasses.replace(hw4.CVAE, fc_hidden_units=(8,)))
    bound = hw4.LabelledLikelihood(cvae)
    labels = np.array([3, 7], np.int32)
    bound.labels.assign(labels)
    z = tf.random.normal((3 * 2, 2), seed=2)
    means = bound.likelihood(z, training=False).mean()
    for row in range(6):
        expected = cvae.decode(z[row : row + 1], labels[row % 2 : row % 2 + 1])
        np.testing.assert_allclose(means[row : row + 1], expected, rtol=1e-5, atol=1e-6)


def test_labelled_nll_is_below_the_conditional_elbo():
    keras.utils.set_random_seed(0)
    cvae = build_cvae(dataclasses.replace(hw4.CVAE, fc_hidden_units=(8,)))
    images = (np.random.default_rng(0).random((6, 28, 28, 1)) < 0.2).astype(np.float32)
    labels = np.arange(6) % 10
    nll = hw4.LabelledLikelihood(cvae).heldout_nll(
        images, labels, num_samples=200, seed=0, batch_size=3
    )
    dataset = tf.data.Dataset.from_tensor_slices((images, labels.astype(np.int32))).batch(6)
    elbo = cvae.evaluate(dataset, verbose=0, return_dict=True)["loss"]
    assert (
        nll < elbo
    )  # 200 importance samples tighten the one-sample bound (Burda et al. Theorem 1)
    assert nll > elbo - 50  # and it is the same quantity, not some other number


class FakeGenerator:
    latent_dim = 3

    def decode(self, z, labels=None):
        return np.full((len(z), 28, 28, 1), 0.5, np.float32)


def test_epoch_snapshots_resume_and_restart(tmp_path):
    path = tmp_path / "epochs.npz"
    codes = (np.zeros((4, 3), np.float32), None)

    def session(first_epoch, last_epoch):
        snapshots = hw4.EpochSnapshots(path, codes, codes, None, None)
        snapshots.set_model(FakeGenerator())
        snapshots.on_train_begin()
        for epoch in range(first_epoch, last_epoch):
            snapshots.on_epoch_begin(epoch)
            snapshots.on_epoch_end(epoch)
        return snapshots.load()

    assert [row["epoch"] for row in session(0, 3)["rows"]] == [1, 2, 3]
    resumed = session(2, 4)  # a backup after epoch 2: epoch 3 is trained again
    assert [row["epoch"] for row in resumed["rows"]] == [1, 2, 3, 4] and sorted(
        resumed["grids"]
    ) == [1, 2, 3, 4]
    assert [row["epoch"] for row in session(0, 1)["rows"]] == [
        1
    ]  # a fresh start forgets the old run


def test_layer_gradients_cover_every_kernel():
    keras.utils.set_random_seed(0)
    model = gan.build_gan(dataclasses.replace(gan.WGAN_GP, image_shape=(28, 28, 1)))
    gradients = hw4.layer_gradients(model, tf.random.uniform((4, 28, 28, 1), -1, 1))
    kernels = {
        name: [v for v in net.trainable_variables if "kernel" in v.path]
        for name, net in (("generator", model.generator), ("critic", model.critic))
    }
    for name, layers in gradients.items():
        assert [values.size for values in layers.values()] == [
            int(np.prod(v.shape)) for v in kernels[name]
        ]
        assert all(np.isfinite(v).all() and np.abs(v).max() > 0 for v in layers.values())


def test_first_epoch_within():
    assert hw4_report.first_epoch_within([200, 150, 120, 119], 120.5) == 3
    assert hw4_report.first_epoch_within([200, 150], 100) is None


def _vae_entry(curve, elbo):
    return {"val_loss_by_epoch": curve, "test_negative_elbo": elbo, "title": "x"}


def _vae_metrics(bn_curve, plain_curve):
    entry = _vae_entry
    return {
        "models": {
            "vae": entry(bn_curve, 140.0),
            "vae_no_bn": entry(plain_curve, 141.0),
            "conv_vae": entry(bn_curve, 140.5),
            "cvae": entry(bn_curve, 130.0),
        }
    }


def test_batch_norm_claim_reads_the_curves():
    plain = [180, 160, 150] + [145] * 11 + [140] * 6  # reaches 140 at epoch 15
    claim = hw4_report.vae_claims(_vae_metrics([150, 140.5] + [139] * 18, plain))[0]
    assert (
        claim["verdict"] == "holds"
        and "at epoch 2" in claim["measured"]
        and "epoch 15" in claim["measured"]
    )
    claim = hw4_report.vae_claims(_vae_metrics(plain, [150, 140.5] + [139] * 18))[0]
    assert claim["verdict"] == "does not hold"


def test_brighter_needs_a_difference_one_can_see():
    def verdict(cvae_pixel):
        metrics = _vae_metrics([150] * 3, [150] * 3)
        quality = {"count": 100}
        metrics["models"]["vae"].update(mean_pixel=0.131, sample_quality=quality)
        metrics["models"]["cvae"].update(mean_pixel=cvae_pixel, sample_quality=quality)
        (claim,) = [c for c in hw4_report.vae_claims(metrics) if "brighter" in c["claim"]]
        return claim["verdict"]

    assert verdict(0.133) == "does not hold"  # +1.5%: invisible
    assert verdict(0.140) == "holds"  # +6.9%
    assert verdict(0.120) == "does not hold"


def _fd_rows(values):
    return [{"epoch": e, "frechet_distance": v} for e, v in values]


def test_gan_claims_compare_matched_epochs():
    rows = _fd_rows
    metrics = {
        "models": {
            "gan": {
                "title": "GAN",
                "epochs": 150,
                "seconds_per_epoch": 10,
                "by_epoch": rows([(150, 30.0)]),
            },
            "dcgan": {
                "title": "DCGAN",
                "epochs": 30,
                "seconds_per_epoch": 60,
                "by_epoch": rows([(20, 25.0)]),
            },
        }
    }

    def verdict(start):
        return next(
            c["verdict"] for c in hw4_report.gan_claims(metrics) if c["claim"].startswith(start)
        )

    assert verdict("The DCGAN at around epoch 20") == "holds"
    assert verdict("The DCGAN took much longer") == "holds"
    metrics["models"]["dcgan"]["by_epoch"] = rows([(20, 31.0)])
    assert verdict("The DCGAN at around epoch 20") == "does not hold"
    # "sharper": a lower FD and a sharpness ratio nearer real images' (speckle overshoots it)
    metrics["real_vs_real"] = {"sharpness_ratio": 1.01}
    metrics["models"]["gan"]["sample_quality"] = {"frechet_distance": 31.0, "sharpness_ratio": 1.23}
    dcgan = {"frechet_distance": 22.0, "sharpness_ratio": 1.02}
    metrics["models"]["dcgan"]["sample_quality"] = dcgan
    assert verdict("DCGAN images are much sharper") == "holds"
    dcgan["sharpness_ratio"] = 0.70  # blurrier than the GAN's speckle is sharp: farther from 1.01
    assert verdict("DCGAN images are much sharper") == "does not hold"
    dcgan.update(sharpness_ratio=1.02, frechet_distance=35.0)
    assert verdict("DCGAN images are much sharper") == "does not hold"


def test_the_readme_names_the_models_loaded_instead_of_trained():
    entry = {"title": "VAE", "loaded_from_finished_run": False, "trained_at_commit": None}
    metrics = {"models": {"vae": entry, "cvae": {**entry, "title": "CVAE"}}}
    assert hw4_report.loaded_models_lines(metrics) == []
    metrics["models"]["vae"] = {**entry, "loaded_from_finished_run": True}
    metrics["models"]["cvae"].update(loaded_from_finished_run=True, trained_at_commit="b" * 40)
    metrics["models"]["old"] = {"title": "old VAE", "loaded_from_finished_run": True}
    (line, _) = hw4_report.loaded_models_lines(metrics)
    assert (
        "config: VAE (trained at the same commit), CVAE (trained at commit `bbbbbbb`), old VAE (its "
        "training commit not recorded)." in line
    )


def _quality(fd):
    return {
        "frechet_distance": fd,
        "kid": 0.1,
        "inception_score": 5.0,
        "digits_covered": 10,
        "effective_digits": 9.5,
        "digit_shares": [0.1] * 10,
        "conditional_accuracy": 0.5,
    }


def test_table_lists_every_group_in_order_beside_real_images(tmp_path):
    quality = _quality
    real = {**quality(1.0), "conditional_accuracy": 0.99}
    gan_metrics = {
        "order": ["gan", "dcgan"],
        "claims": [],
        "real_vs_real": real,
        "models": {
            "dcgan": {
                "title": "DCGAN",
                "epochs": 30,
                "wall_seconds": 600,
                "sample_quality": quality(20.0),
            },
            "gan": {
                "title": "GAN",
                "epochs": 150,
                "wall_seconds": 1200,
                "sample_quality": quality(40.0),
            },
        },
    }
    (tmp_path / "hw4_gan").mkdir()
    records.write_json(tmp_path / "hw4_gan" / "metrics.json", gan_metrics)
    (tmp_path / "hw4_gan" / "README.md").write_text("# hw4_gan")
    readme = hw4_report.write_table(tmp_path, tmp_path).read_text()
    sources, table = readme.split("## Every claim")[0].split("| model |")
    assert "| [hw4_gan](../hw4_gan/README.md) |" in sources  # where each row comes from
    assert f"Joined by `make hw4_table` at commit `{records.START_COMMIT}`" in sources
    rows = [line for line in table.splitlines() if line.startswith("| ")]
    assert [row.split(" | ")[0] for row in rows] == ["| GAN", "| DCGAN", "| real training images"]
    assert "| 40.00 |" in rows[0] and "| 20.0 |" in rows[0]  # FD, then minutes of training
    assert json.loads((tmp_path / "table.json").read_text())["groups"] == ["gan"]


def test_smoke_checks_catch_a_wrong_interpolation(tmp_path):
    config = hw4.HW4Config(group="gan", smoke=True)
    strips = np.random.default_rng(0).random((6, 6, 28, 28))
    ends = np.stack([strips[:, 0], strips[:, -1]])
    arrays = {
        "interpolations": {"gan": strips},
        "interpolation_ends": {"gan": ends},
        "by_epoch": {},
    }
    hw4.check_outputs(config, {"models": {}}, arrays, tmp_path)
    arrays["interpolation_ends"]["gan"] = ends[::-1]  # z2 first: the strips run backwards
    with pytest.raises(hw4.OutputCheckFailed, match="G\\(z1\\)"):
        hw4.check_outputs(config, {"models": {}}, arrays, tmp_path)


def test_group_models_are_the_reports():
    config = hw4.HW4Config(group="wgan")
    specs = {spec.key: spec for spec in hw4.models_of(config)}
    assert specs["wgan_gp"].config.networks.critic_batch_norm is False  # Gulrajani et al.
    assert specs["wgan_gp_bn"].config.networks.critic_batch_norm is True
    assert (
        specs["wgan_clip"].config.clip_value == 0.01 and specs["wgan_clip"].config.critic_steps == 5
    )
    assert specs["wgan_clip_bn"].config.networks.critic_batch_norm is True
    gan_specs = {s.key: s for s in hw4.models_of(hw4.HW4Config(group="gan"))}
    assert gan_specs["gan"].epochs == 150 and gan_specs["gan"].config.networks.architecture == "fc"
    assert all(spec.conditional for spec in hw4.models_of(hw4.HW4Config(group="cgan")))
    with pytest.raises(ValueError, match="hw4 group"):
        hw4.HW4Config(group="pixelvae")
    assert networks.DCGAN.init_stddev == 0.02


def test_claims_table_cells_keep_their_pipes():
    row = hw4_report.claims_table(
        [{"claim": "lower -log p(x|y)", "measured": "|g| small", "verdict": "holds"}]
    )[-1]
    cells = [cell for cell in row.replace("\\|", "").split("|")[1:-1]]
    assert len(cells) == 3 and "p(x\\|y)" in row


def test_wgan_claims_state_and_apply_their_readings():
    def entry(title, fd, covered, effective, real, fake, generator, critic):
        quality = {
            **_quality(fd),
            "digits_covered": covered,
            "effective_digits": effective,
            "largest_share": 0.2,
        }
        return {
            "title": title,
            "sample_quality": quality,
            "critic_real_by_epoch": [real],
            "critic_fake_by_epoch": [fake],
            "gradient_median_abs": {
                "generator": {"dense": generator},
                "critic": {"conv": critic},
            },
        }

    metrics = {
        "models": {
            # -(real + fake) is the critic's W estimate: 2.0 without BN, 0.5 with it
            "wgan_clip": entry("clip", 100.0, 10, 9.5, -1.5, -0.5, 1e-4, 2e-3),
            "wgan_clip_bn": entry("clip bn", 150.0, 9, 8.0, -0.3, -0.2, 1e-4, 5e-4),
            "wgan_gp": entry("gp", 40.0, 10, 6.5, -1.0, -1.0, 1e-3, 1e-2),
            "wgan_gp_bn": entry("gp bn", 30.0, 10, 9.9, -0.1, 0.0, 1e-3, 1e-3),
        }
    }
    claims = hw4_report.wgan_claims(metrics)
    verdicts = {c["claim"].split(" (")[0]: c["verdict"] for c in claims}
    assert all("read:" in c["claim"] for c in claims)
    assert verdicts["clip: mode collapse, very similar samples"] == "does not hold"
    assert verdicts["clip bn: mode collapse, very similar samples"] == "holds"  # a digit uncovered
    assert verdicts["gp: mode collapse, very similar samples"] == "holds"  # 6.5 effective digits
    assert verdicts["clip bn: batch norm in the critic stops it from learning"] == "holds"
    # a smaller W estimate with BN but a better FD: not both, so it does not hold
    assert verdicts["gp bn: batch norm in the critic stops it from learning"] == "does not hold"
    assert verdicts["clip: most generator gradients are very small"] == "holds"  # 1/20
    assert verdicts["clip bn: most generator gradients are very small"] == "does not hold"  # 1/5
    assert (
        verdicts["gp: most generator gradients are very small"] == "does not hold"
    )  # exactly 1/10


def test_table_shows_the_seed_to_seed_spread_of_a_group_run_on_several_seeds(tmp_path):
    def vae_run(fd, elbo, verdict):
        return {
            "order": ["vae"],
            "claims": [
                {"claim": "The CVAE achieves a lower loss", "measured": "", "verdict": verdict}
            ],
            "models": {
                "vae": {
                    "title": "VAE",
                    "epochs": 30,
                    "wall_seconds": 60,
                    "sample_quality": _quality(fd),
                    "test_negative_elbo": elbo,
                }
            },
        }

    runs = {
        "hw4_vae": vae_run(150.0, 153.0, "holds"),
        "hw4_vae_seed1": vae_run(200.0, 155.0, "holds"),
        "hw4_vae_seed2": vae_run(175.0, 154.0, "does not hold"),
        # another precision's folder is no seed of this table
        "hw4_vae_mixed_bfloat16": vae_run(999.0, 999.0, "holds"),
    }
    for name, metrics in runs.items():
        records.write_json(tmp_path / name / "metrics.json", metrics)
    assert list(hw4_report.seed_folders(tmp_path, "vae")) == [0, 1, 2]
    readme = hw4_report.write_table(tmp_path, tmp_path / "hw4").read_text()
    spread = readme.split("## Seed to seed")[1]
    assert "| VAE | FD | 150.00 | 200.00 | 175.00 | 175.00 | 50.00 |" in spread
    assert "| VAE | test -ELBO | 153.00 | 155.00 | 154.00 | 154.00 | 2.00 |" in spread
    assert "| The CVAE achieves a lower loss | holds | holds | does not hold |" in spread
    assert "999" not in spread
    # a seed's own table (make hw4_table ARGS=--seed=1) has no spread section
    assert (
        "Seed to seed" not in hw4_report.write_table(tmp_path, tmp_path / "t", "_seed1").read_text()
    )


def test_the_conv_vae_learning_rate_probe_reports_where_a_rate_diverges():
    assert hw4.first_nonfinite_step([300.0, 250.0, float("nan"), float("inf")]) == 3
    assert hw4.first_nonfinite_step([300.0, 250.0]) is None
    splits = fake_splits(train=120, validation=20, test=20)
    config = hw4.HW4Config(batch_size=16, probe_steps=5, run=RunSettings(steps_per_epoch=2))
    probe = hw4.learning_rate_probe(config, splits)
    assert probe["steps"] == 2  # a short run's steps per epoch cap the probe
    for rate in ("0.01", "0.001"):
        assert probe[rate]["steps_run"] == 2 and probe[rate]["first_nonfinite_step"] is None
        assert np.isfinite(probe[rate]["mean_loss"])
    probe["0.01"] = {"first_nonfinite_step": 7, "steps_run": 7, "mean_loss": None}
    sentence = hw4_report.probe_sentence(probe)
    assert "at 0.01 its loss was not finite from step 7" in sentence
    assert f"at 0.001 its mean training loss was {probe['0.001']['mean_loss']:.5g}" in sentence
