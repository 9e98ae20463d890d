"""The networks of Hu (2018) and Gaikwad (2020) as configs of the suite's GAN family and VAE: the
shapes and parameter counts their tables pin, the layers their texts name, the readings that differ
where the reports disagree, and one training step of each model."""

import dataclasses
import json
import shutil

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import fake_splits

from vaegan_tf import data, records
from vaegan_tf.models import course_reports as reports
from vaegan_tf.models import gan, networks, vae
from vaegan_tf.studies import course_reports_report

GANS = {k: v for k, v in reports.PRESETS.items() if isinstance(v, gan.GANConfig)}
VAES = {k: v for k, v in reports.PRESETS.items() if isinstance(v, vae.VAEConfig)}


def kinds(network) -> list[str]:
    return [type(layer).__name__ for layer in network.layers]


def output_shapes(body: keras.Sequential, input_shape) -> list[tuple]:
    """The output shape of every layer of a built Sequential, batch dimension dropped."""
    x, shapes = tf.zeros((1, *input_shape)), []
    for layer in body.layers:
        x = layer(x)
        shapes.append(tuple(x.shape[1:]))
    return shapes


def of_kind(shapes, body, kind) -> list[tuple]:
    return [s for s, k in zip(shapes, kinds(body), strict=True) if k == kind]


# Shapes: every preset makes 28x28 images, and the layers between are the tables'.


@pytest.mark.parametrize("name", sorted(GANS))
def test_every_gan_preset_maps_noise_to_images_and_images_to_one_score(name):
    config = GANS[name]
    model = gan.GANModel(config)
    images = model.generator(tf.zeros((3, config.latent_dim)))
    assert images.shape == (3, 28, 28, 1)
    assert model.critic(images).shape == (3,)


@pytest.mark.parametrize("name", sorted(VAES))
def test_every_vae_preset_encodes_to_its_latent_and_decodes_to_images(name):
    config = VAES[name]
    model = vae.build_vae(config)
    posterior = model.posterior(tf.zeros((3, 28, 28, 1)), training=False)
    assert posterior.mean().shape == (3, config.latent_dim)
    assert model.decode(tf.zeros((3, config.latent_dim))).shape == (3, 28, 28, 1)


def test_hu_dcgan_shapes_are_his_tables():
    """Table 4: 1x1x512 -> 3x3x256 -> 7x7x128 -> 14x14x64 -> 28x28x1; Table 3: 'same' stride-2
    convolutions of 64, 128, 256, 512 filters on 28x28 end at 2x2x512."""
    model = gan.GANModel(reports.HU_DCGAN)
    generator = model.generator.body
    shapes = output_shapes(generator, (100,))
    assert of_kind(shapes, generator, "Reshape") == [(1, 1, 512)]
    assert of_kind(shapes, generator, "Conv2DTranspose") == [
        (3, 3, 256),
        (7, 7, 128),
        (14, 14, 64),
        (28, 28, 1),
    ]
    assert all(layer.strides == (2, 2) for layer in generator.layers if "Conv" in str(type(layer)))
    critic = model.critic.body
    shapes = output_shapes(critic, (28, 28, 1))
    assert of_kind(shapes, critic, "Conv2D") == [
        (14, 14, 64),
        (7, 7, 128),
        (4, 4, 256),
        (2, 2, 512),
    ]
    assert of_kind(shapes, critic, "Flatten") == [(2048,)]
    # batch norm from the second convolution on, LeakyReLU after each
    critic_kinds = kinds(critic)
    assert critic_kinds.count("BatchNormalization") == 3
    assert critic_kinds[:2] == ["Conv2D", "Activation"]
    assert {
        layer.activation.__name__ for layer in critic.layers if kinds_is(layer, "Activation")
    } == {"leaky_relu"}


def kinds_is(layer, kind: str) -> bool:
    return type(layer).__name__ == kind


def test_gaikwad_cnn_nets_make_seven_fourteen_twenty_eight():
    """Table 3: 'the output size of CNNs (7,7), (14,14), (28,28)'; the CNN VAE's last deconvolution
    at stride 1 (Table 2's stride 2 would make 56x56)."""
    generator = gan.GANModel(reports.GAIKWAD_CNN_GAN).generator.body
    shapes = output_shapes(generator, (10,))
    assert of_kind(shapes, generator, "Reshape") == [(7, 7, 128)]
    assert of_kind(shapes, generator, "Conv2DTranspose") == [
        (14, 14, 64),
        (14, 14, 32),
        (28, 28, 1),
    ]
    critic = gan.GANModel(reports.GAIKWAD_CNN_GAN).critic.body
    shapes = output_shapes(critic, (28, 28, 1))
    assert of_kind(shapes, critic, "Conv2D") == [(14, 14, 32), (7, 7, 64), (4, 4, 128)]
    model = vae.build_vae(reports.GAIKWAD_CNN_VAE)
    decoder_shapes = output_shapes(model.decoder, (10,))
    assert of_kind(decoder_shapes, model.decoder, "Conv2DTranspose") == [
        (14, 14, 64),
        (14, 14, 32),
        (28, 28, 16),
        (28, 28, 1),
    ]
    encoder_shapes = output_shapes(model.encoder, (28, 28, 1))
    assert of_kind(encoder_shapes, model.encoder, "Conv2D") == [
        (14, 14, 32),
        (7, 7, 64),
        (4, 4, 128),
    ]
    assert encoder_shapes[-1] == (2 * 10,)  # Table 2's "Dense(1)" read as the two heads


# Parameter counts the tables pin (the widths fix them; worked out by hand).


def test_hu_vae_parameter_counts():
    model = vae.build_vae(reports.HU_VAE)
    # 784*512 + 512, 512*512 + 512, 512*40 + 40 (mean and log-variance of 20)
    assert model.encoder.count_params() == 401_920 + 262_656 + 20_520
    # 20*512 + 512, 2 x (512*512 + 512), 512*784 + 784
    assert model.decoder.count_params() == 10_752 + 2 * 262_656 + 402_192


def test_hu_dcgan_parameter_counts():
    model = gan.build_gan(reports.HU_DCGAN)
    # conv 5*5*1*64 + 64; 5*5*64*128, 5*5*128*256, 5*5*256*512 without bias, each with batch
    # norm's 4 per channel; FC 2*2*512 + 1
    critic = 1_664 + (204_800 + 512) + (819_200 + 1_024) + (3_276_800 + 2_048) + 2_049
    assert model.critic.count_params() == critic
    # FC 100*512 + BN; deconv 3*3*512*256 + BN; 3*3*256*128 + BN; 5*5*128*64 + BN; 5*5*64*1 + 1
    generator = (51_200 + 2_048) + (1_179_648 + 1_024) + (294_912 + 512) + (204_800 + 256) + 1_601
    assert model.generator.count_params() == generator


def test_gaikwad_dense_gan_parameter_counts():
    model = gan.build_gan(reports.GAIKWAD_DENSE_GAN)
    # 10*100, 100*300, 300*600 without bias, each + 4 per unit of batch norm; 600*784 + 784 (tanh)
    assert model.generator.count_params() == 1_400 + 31_200 + 182_400 + 471_184
    # 784*600, 600*300, 300*100 without bias + batch norm; 100 + 1
    assert model.critic.count_params() == 472_800 + 181_200 + 30_400 + 101


# The layers the texts name.


def test_hu_vae_has_dropout_at_rate_point_one_after_every_hidden_layer_and_his_activations():
    model = vae.build_vae(reports.HU_VAE)
    for network, activations in (
        (model.encoder, ["elu", "tanh"]),
        (model.decoder, ["tanh", "elu", "elu"]),
    ):
        layers = network.layers
        rates = [layer.rate for layer in layers if kinds_is(layer, "Dropout")]
        assert rates == [0.1] * len(activations)  # keep probability 0.9
        assert [
            layer.activation.__name__ for layer in layers if kinds_is(layer, "Activation")
        ] == activations
        assert "BatchNormalization" not in kinds(network)
        for i, layer in enumerate(layers):
            if kinds_is(layer, "Dropout"):
                assert kinds_is(layers[i - 1], "Activation")
    assert [
        layer.rate
        for layer in vae.build_vae(reports.HU_VAE_DROPOUT_AS_RATE).encoder.layers
        if kinds_is(layer, "Dropout")
    ] == [0.9, 0.9]


def test_hu_vae_dropout_is_on_in_training_and_off_when_decoding():
    keras.utils.set_random_seed(0)
    model = vae.build_vae(reports.HU_VAE)
    z = tf.random.normal((4, 20), seed=1)
    np.testing.assert_allclose(model.decode(z), model.decode(z))
    trained_a, trained_b = model.decoder(z, training=True), model.decoder(z, training=True)
    assert not np.allclose(trained_a, trained_b)


@pytest.mark.parametrize("name", ["gaikwad_dense_gan", "gaikwad_dense_gan_deep", "gaikwad_cnn_gan"])
def test_gaikwad_gans_batch_norm_and_relu_after_every_hidden_layer_of_both_networks(name):
    model = gan.GANModel(GANS[name])
    for network in (model.generator.body, model.critic.body):
        layers = network.layers
        weighted = [
            i
            for i, layer in enumerate(layers)
            if type(layer).__name__.startswith(("Dense", "Conv"))
        ]
        *hidden, output = weighted
        for i in hidden:  # the first critic layer too
            assert kinds(network)[i + 1 : i + 3] == ["BatchNormalization", "Activation"]
            assert layers[i + 2].activation.__name__ == "relu"
        assert "BatchNormalization" not in kinds(network)[output:]
        assert "Dropout" not in kinds(network)


def test_gaikwad_dense_nets_have_his_widths():
    def widths(network):
        return [layer.units for layer in network.layers if kinds_is(layer, "Dense")]

    model = gan.GANModel(reports.GAIKWAD_DENSE_GAN_DEEP)
    assert widths(model.generator.body) == [100, 200, 300, 400, 500, 600, 784]
    assert widths(model.critic.body) == [600, 500, 400, 300, 200, 100, 1]
    dense_vae = vae.build_vae(reports.GAIKWAD_DENSE_VAE)
    assert widths(dense_vae.encoder) == [600, 300, 100, 50, 2 * 4]
    assert widths(dense_vae.decoder) == [50, 100, 300, 600, 784]
    assert kinds(dense_vae.decoder).count("BatchNormalization") == 4


# The readings where the reports disagree: each a preset, differing where it should.


def test_reading_presets_differ_where_the_reports_disagree():
    assert (reports.GAIKWAD_DENSE_GAN.latent_dim, reports.GAIKWAD_DENSE_GAN_TEXT.latent_dim) == (
        10,
        392,
    )
    assert (
        reports.GAIKWAD_DENSE_GAN_DEEP.latent_dim,
        reports.GAIKWAD_DENSE_GAN_DEEP_TEXT.latent_dim,
    ) == (392, 10)
    assert [
        reports.GAIKWAD_DENSE_VAE.latent_dim,
        reports.GAIKWAD_DENSE_VAE_TEXT.latent_dim,
        reports.GAIKWAD_DENSE_VAE_TABLE3.latent_dim,
    ] == [4, 2, 10]
    assert (reports.GAIKWAD_CNN_VAE.latent_dim, reports.GAIKWAD_CNN_VAE_TEXT.latent_dim) == (10, 2)
    # everything else the same
    for table, text in (
        (reports.GAIKWAD_DENSE_GAN, reports.GAIKWAD_DENSE_GAN_TEXT),
        (reports.GAIKWAD_DENSE_GAN_DEEP, reports.GAIKWAD_DENSE_GAN_DEEP_TEXT),
        (reports.GAIKWAD_DENSE_VAE, reports.GAIKWAD_DENSE_VAE_TEXT),
        (reports.GAIKWAD_CNN_VAE, reports.GAIKWAD_CNN_VAE_TEXT),
    ):
        assert dataclasses.replace(text, latent_dim=table.latent_dim) == table
    # the CNN VAE mirroring the CNN GAN's generator drops the 16-filter deconvolution
    mirror = vae.build_vae(reports.GAIKWAD_CNN_VAE_GAN_MIRROR).decoder
    shapes = output_shapes(mirror, (10,))
    assert of_kind(shapes, mirror, "Conv2DTranspose") == [(14, 14, 64), (14, 14, 32), (28, 28, 1)]


def test_gaikwad_learning_rate_grid_sets_both_optimizers():
    assert reports.GAIKWAD_GAN_LEARNING_RATES == (1e-5, 1e-6, 1e-4)
    config = reports.with_learning_rate(reports.GAIKWAD_CNN_GAN, 1e-6)
    assert config.generator_optimizer.learning_rate == config.critic_optimizer.learning_rate == 1e-6
    assert config.networks == reports.GAIKWAD_CNN_GAN.networks
    model = gan.build_gan(config)
    assert float(model.generator_optimizer.learning_rate) == pytest.approx(1e-6)
    assert float(model.critic_optimizer.learning_rate) == pytest.approx(1e-6)


# Bad shapes fail at once, naming the fix.


def test_a_generator_that_does_not_make_the_image_is_refused():
    nets = dataclasses.replace(
        reports.HU_DCGAN_NETWORKS,
        generator_deconvs=((256, 5, 2, "same"), (128, 5, 2, "same"), (64, 5, 2, "same")),
    )
    with pytest.raises(ValueError, match="makes 16x16 images, not 28x28"):
        gan.GANModel(dataclasses.replace(reports.HU_DCGAN, networks=nets))
    with pytest.raises(ValueError, match="give both or neither"):
        networks.NetworkConfig("dcgan", generator_start=(7, 7, 128))
    with pytest.raises(ValueError, match="one per layer"):
        dataclasses.replace(reports.HU_VAE, encoder_activations=("elu",))
    with pytest.raises(ValueError, match="divisible by 8"):
        vae.build_vae(dataclasses.replace(reports.GAIKWAD_CNN_VAE, deconv_output_stride=2))


# One training step of each model of both reports, full size, on fake data.


def batch_of(splits, count, preprocessing):
    pipeline = data.pipeline(
        splits.train, batch_size=count, preprocessing=preprocessing, shuffle=True, seed=0
    )
    return next(iter(pipeline))


@pytest.mark.parametrize(
    "name",
    ["hu_vae", "hu_dcgan", "gaikwad_dense_gan", "gaikwad_dense_gan_deep", "gaikwad_cnn_gan"]
    + ["gaikwad_dense_vae", "gaikwad_cnn_vae"],
)
def test_one_training_step_of_each_model_changes_its_weights(name):
    keras.utils.set_random_seed(0)
    config = reports.PRESETS[name]
    is_gan = isinstance(config, gan.GANConfig)
    model = gan.build_gan(config) if is_gan else vae.build_vae(config)
    splits = fake_splits(train=16, validation=0, test=8)
    batch = batch_of(splits, 8, "symmetric" if is_gan else "dynamic_binarize")
    before = [np.array(w) for w in model.trainable_weights]
    logs = model.train_on_batch(*batch, return_dict=True)
    assert all(np.isfinite(value) for value in logs.values()), logs
    changed = [
        not np.allclose(a, np.array(b))
        for a, b in zip(before, model.trainable_weights, strict=True)
    ]
    assert all(changed), [
        w.path for w, c in zip(model.trainable_weights, changed, strict=True) if not c
    ]
    expected = {"generator_loss", "critic_loss"} if is_gan else {"loss", "reconstruction", "kl"}
    assert expected <= set(logs)


# The studies, end to end on fake data: every artifact, and the README's numbers are the metrics'.


def untrained_evaluator():
    from vaegan_tf import evaluate

    keras.utils.set_random_seed(0)
    return evaluate.Evaluator(evaluate.build_classifier())


@pytest.mark.slow  # full-size models trained and measured: 0.5 to 1.5 min each on a loaded CPU
@pytest.mark.parametrize("report", ["hu", "gaikwad"])
@pytest.mark.usefixtures("eager_steps")
def test_study_writes_the_table_figures_and_verdicts_from_its_numbers(
    tmp_path, monkeypatch, report
):
    from vaegan_tf import evaluate
    from vaegan_tf.studies import course_reports, hw4
    from vaegan_tf.studies.common import RunSettings

    splits = fake_splits(train=300, validation=50, test=100)
    monkeypatch.setattr(data, "load", lambda *args, **kwargs: splits)
    evaluator = untrained_evaluator()
    monkeypatch.setattr(evaluate, "evaluator_or_skip", lambda required: evaluator)
    config = course_reports.CourseReportConfig(
        report=report,
        batch_size=16,
        # Hu's verdict on training over epochs needs two; Gaikwad's models are cut to one epoch
        # and one learning rate (choosing among rates: test_best_rate_is_the_lowest_fd_run)
        vae_epochs=2 if report == "hu" else 1,
        gan_epochs=2 if report == "hu" else 1,
        learning_rates=(1e-4,),
        quality_samples=60,
        epoch_samples=30,
        importance_samples=3,
        test_images=40,
        pair_images=30,
        run=RunSettings(
            results_root=str(tmp_path / "results"),
            work_root=str(tmp_path / "work"),
            steps_per_epoch=2,
        ),
    )
    metrics = course_reports.run(config)
    out = tmp_path / "results" / report
    readme = (out / "README.md").read_text()
    assert f"One seed ({config.seed}) per model" in readme
    expected_models = (
        ["vae", "dcgan"]
        if report == "hu"
        else [f"{k}_lr0.0001" for k in ("dense_gan", "dense_gan_deep", "cnn_gan")]
        + ["dense_vae", "cnn_vae"]
    )
    assert metrics["order"] == expected_models
    figures = (
        ["fig1_vae_samples_by_epoch", "fig2_vae_real_vs_reconstructed"]
        + ["fig3_dcgan_samples_by_epoch", "fig4_dcgan_real_vs_generated"]
        if report == "hu"
        else ["fig1_gan_samples_lr0.0001", "fig3_vae_outputs_vs_real"]
    )
    for name in [*figures, "fd_by_epoch", "digit_shares"] + [
        f"loss_curves_{k}" for k in expected_models
    ]:
        assert (out / f"{name}.png").stat().st_size > 1000, name
    for key in expected_models:
        entry = metrics["models"][key]
        epochs = config.gan_epochs
        assert entry["epochs"] == epochs
        assert [row["epoch"] for row in entry["by_epoch"]] == list(range(1, epochs + 1))
        scores = entry["sample_quality"]
        assert scores["count"] == 60 and abs(sum(scores["digit_shares"]) - 1) < 1e-9
        # every table cell of this model is in the README, as the metrics have it
        row = "| " + " | ".join(course_reports.course_reports_report.table_row(entry)) + " |"
        assert row in readme
        assert f"{scores['frechet_distance']:.2f}" in row
        first, second = ("generator", "critic") if entry["is_gan"] else ("encoder", "decoder")
        parameters = entry["parameters"]
        assert f"| {parameters[first]:,} + {parameters[second]:,} |" in row
        if not entry["is_gan"]:
            assert (
                f"{entry['test_nll']:.2f}" in row
                and entry["test_nll"] <= entry["test_negative_elbo"] + 5
            )
    # each verdict is in the README with the number it was read from
    assert len(metrics["claims"]) == (5 if report == "hu" else 8)
    for claim in metrics["claims"]:
        assert claim["verdict"] in ("holds", "does not hold")
        assert f"**{claim['verdict']}**" in readme
        assert claim["measured"].replace("|", "\\|")[:60] in readme
    if report == "hu":
        vae_mse = metrics["models"]["vae"]["pairing"]["pixel_mse"]
        assert f"{vae_mse:.4f}" in claim_text(metrics, "mimics the real data")
    else:
        best = course_reports.course_reports_report.best_rate(metrics["models"], "cnn_gan")
        assert f"best at lr {best['learning_rate']:g}." in readme
        fd = {k: e["sample_quality"]["frechet_distance"] for k, e in metrics["models"].items()}
        pairs = [("dense_vae", f"{gan}_lr0.0001") for gan in ("dense_gan", "dense_gan_deep")]
        vae_wins = sum(fd[v] < fd[g] for v, g in [*pairs, ("cnn_vae", "cnn_gan_lr0.0001")])
        assert f"in {vae_wins} of 3 pairs" in claim_text(metrics, "GAN counterparts")
    # each model's cell, with where it was trained, is named in the README
    assert "## Where each model was trained and measured" in readme
    assert "Joined from cells trained apart (their commits below) by `make" in readme
    for key in expected_models:
        assert f"](models/{key}/) |" in readme
    # a later session, work/ gone: the staged run joins the same table from the cells, untrained
    shutil.rmtree(tmp_path / "work")

    def no_training(*args, **kwargs):
        raise AssertionError("a measured cell was trained again")

    monkeypatch.setattr(hw4, "train_group_model", no_training)
    with config.run.session(config.name):
        again = course_reports.run(config)
    assert again["models"] == metrics["models"] and again["claims"] == metrics["claims"]
    assert sorted(p.name for p in (out / "models").iterdir()) == sorted(expected_models)


def test_best_rate_is_the_lowest_fd_run_of_that_gan():
    from vaegan_tf.studies.course_reports_report import best_rate

    def run(fd, rate):
        return {"sample_quality": {"frechet_distance": fd}, "learning_rate": rate}

    models = {
        "cnn_gan_lr0.0001": run(5.0, 1e-4),
        "cnn_gan_lr1e-05": run(3.0, 1e-5),
        "cnn_gan_lr1e-06": run(4.0, 1e-6),
        "dense_gan_lr1e-06": run(1.0, 1e-6),  # another GAN's better run does not count
        "cnn_vae": run(0.5, None),
    }
    assert best_rate(models, "cnn_gan")["learning_rate"] == 1e-5
    assert best_rate(models, "dense_gan_deep") is None


def test_sharper_is_judged_only_against_gans_that_draw_digits():
    from vaegan_tf.studies.course_reports_report import gaikwad_claims

    def model(title, fd, inception, sharpness):
        quality = {"frechet_distance": fd, "inception_score": inception}
        quality |= {"sharpness_ratio": sharpness}
        return {"title": title, "sample_quality": quality, "pairing": {"pixel_mse": 0.1}}

    metrics = {
        "real_vs_real": {"inception_score": 9.8},
        "models": {
            "dense_gan_lr0.0001": model("DenseGAN", 250.0, 2.2, 7.5),  # noise: IS < 4.9
            "dense_gan_deep_lr1e-05": model("DenseGAN-Deep", 370.0, 1.0, 7.2),
            "cnn_gan_lr0.0001": model("CNNGAN", 4.0, 9.5, 1.04),
            "dense_vae": model("DenseVAE", 60.0, 8.0, 0.20),
            "cnn_vae": model("CNNVAE", 48.0, 8.5, 0.39),
        },
    }

    def hazier():
        return next(c for c in gaikwad_claims(metrics) if "hazier" in c["claim"])

    assert hazier()["verdict"] == "holds"
    assert hazier()["measured"].count("(no digits: noise, not judged)") == 2
    # the CNN pair alone decides: a CNN GAN blurrier than its VAE breaks the claim, whatever the
    # noise-drawing dense GANs' ratios are
    metrics["models"]["cnn_gan_lr0.0001"]["sample_quality"]["sharpness_ratio"] = 0.3
    assert hazier()["verdict"] == "does not hold"
    metrics["models"]["cnn_gan_lr0.0001"]["sample_quality"]["inception_score"] = 2.0
    assert hazier()["verdict"] == "not measured"  # no GAN draws digits


def test_a_cell_resumed_at_another_commit_names_both_commits_and_their_epochs():
    from vaegan_tf.studies.course_reports_report import trained_at

    cell = {"git_commit": "b" * 40, "resumed_from_commit": "a" * 40, "epochs": 50}
    resumed = {**cell, "resumed_from_epoch": 18, "reused_finished": False}
    assert trained_at(resumed) == "`aaaaaaa` (epochs 1-18), `bbbbbbb` (19-50)"
    # loaded finished: trained wholly at the first commit, measured at the second
    assert trained_at({**resumed, "reused_finished": True}) == "`aaaaaaa`"
    assert trained_at({"git_commit": "b" * 40, "resumed_from_commit": None}) == "`bbbbbbb`"


def claim_text(metrics, words):
    return next(c["measured"] for c in metrics["claims"] if words in c["claim"])


def _report_folder(root, name, models, evaluator="abc123", commit="0123456789abcdef"):
    folder = root / name
    metrics = {
        "order": list(models),
        "models": {
            key: {
                "title": title,
                "epochs": 3,
                "wall_seconds": 120,
                "parameters": {"generator": 10, "critic": 20},
                "sample_quality": {
                    "frechet_distance": fd,
                    "kid": 0.5,
                    "inception_score": 7.0,
                    "digits_covered": 10,
                    "effective_digits": 9.8,
                    "sharpness_ratio": 1.0,
                    "evaluator": evaluator,
                },
            }
            for key, (title, fd) in models.items()
        },
        "real_vs_real": {
            "frechet_distance": 0.58,
            "kid": 0.01,
            "inception_score": 9.8,
            "digits_covered": 10,
            "effective_digits": 10.0,
            "sharpness_ratio": 1.0,
        },
        "claims": [{"claim": f"{name} says so", "measured": "FD 1 | 2", "verdict": "holds"}],
    }
    records.write_json(folder / "metrics.json", metrics)
    records.write_json(
        folder / "environment.json",
        {
            "command": f"make {name}",
            "git_commit": commit,
            "epochs": "3",
            "wall_seconds": 240,
            "cpu": "Zen 9",
        },
    )
    (folder / "README.md").write_text(f"# {name}")
    return folder


def test_course_table_joins_both_reports_with_their_provenance(tmp_path):
    _report_folder(tmp_path, "hu", {"vae": ("VAE", 86.2), "dcgan": ("DCGAN", 30.2)})
    _report_folder(tmp_path, "gaikwad", {"cnn_gan": ("CNNGAN", 12.5)}, commit="fedcba9876543210")
    out = tmp_path / "course_reports"
    readme = course_reports_report.write_table(tmp_path, out).read_text()
    table, conclusions = readme.split("## The reports' conclusions")
    rows = [line for line in table.splitlines() if line.startswith("| Hu") or "real" in line]
    rows += [line for line in table.splitlines() if line.startswith("| Gaikwad")]
    assert [row.split(" | ")[1] for row in rows] == [
        "VAE",
        "DCGAN",
        "real training images",
        "CNNGAN",
    ]
    assert "| 86.20 |" in rows[0] and "| 2.0 |" in rows[0]  # FD, then minutes of training
    # every row's source: its folder, command, commit, epochs, minutes and CPU
    assert "| [hu](../hu/README.md) | `make hu` | `0123456` | 3 | 4.0 | Zen 9 | abc123 |" in readme
    assert "`fedcba9`" in readme
    assert f"Joined by `make course_table` at commit `{records.START_COMMIT}`" in readme
    assert "hu says so | FD 1 \\| 2 | **holds**" in conclusions
    assert "gaikwad says so" in conclusions
    saved = json.loads((out / "table.json").read_text())
    assert saved["reports"] == ["gaikwad", "hu"] and len(saved["claims"]) == 2
    # a report joined from cells trained apart: the cells' commits, then the join's
    env = json.loads((tmp_path / "gaikwad" / "environment.json").read_text())
    env["models"] = {
        "cnn_gan": {"git_commit": "b" * 40, "resumed_from_commit": "a" * 40},
        "dense_vae": {"git_commit": "b" * 40, "resumed_from_commit": None},
    }
    records.write_json(tmp_path / "gaikwad" / "environment.json", env)
    readme = course_reports_report.write_table(tmp_path, out).read_text()
    assert "| trained at `aaaaaaa`, `bbbbbbb`; joined at `fedcba9` |" in readme


def test_course_table_refuses_reports_of_different_evaluators(tmp_path):
    with pytest.raises(FileNotFoundError, match="make hu or make gaikwad"):
        course_reports_report.write_table(tmp_path, tmp_path / "out")
    _report_folder(tmp_path, "hu", {"vae": ("VAE", 86.2)}, evaluator="aaa")
    _report_folder(tmp_path, "gaikwad", {"cnn_gan": ("CNNGAN", 12.5)}, evaluator="bbb")
    with pytest.raises(ValueError, match="different evaluators"):
        course_reports_report.write_table(tmp_path, tmp_path / "out")


# One report split over processes and sessions: `train` measures some models into their cells
# in results/, the full run joins the cells.


def test_train_refuses_a_model_the_report_does_not_have():
    from vaegan_tf.studies import course_reports

    config = course_reports.CourseReportConfig(report="gaikwad", learning_rates=(1e-4,))
    with pytest.raises(ValueError, match="choose from .*cnn_gan_lr0.0001"):
        course_reports.train(config, ["cnn_gan_lr1e-05"])
    with pytest.raises(ValueError, match="are not gaikwad's"):
        course_reports.train(config, [])


@pytest.mark.usefixtures("eager_steps")
def test_train_measures_the_named_model_into_its_cell_which_outlives_work(tmp_path, monkeypatch):
    from vaegan_tf import evaluate
    from vaegan_tf.studies import course_reports, hw4
    from vaegan_tf.studies.common import RunSettings

    splits = fake_splits(train=100, validation=20, test=40)
    evaluator = untrained_evaluator()
    monkeypatch.setattr(evaluate, "evaluator_or_skip", lambda required: evaluator)
    config = course_reports.CourseReportConfig(
        report="gaikwad",
        batch_size=16,
        vae_epochs=1,
        learning_rates=(1e-4,),
        quality_samples=30,
        epoch_samples=20,
        importance_samples=3,
        test_images=20,
        pair_images=20,
        run=RunSettings(
            results_root=str(tmp_path / "results"),
            work_root=str(tmp_path / "work"),
            steps_per_epoch=2,
        ),
    )
    assert course_reports.train(config, ["dense_vae"], splits) == ["dense_vae"]
    trained = sorted(p.name for p in (tmp_path / "work").iterdir() if p.is_dir())
    assert trained == ["gaikwad_dense_vae"]  # the other models were not touched
    cells = tmp_path / "results" / "gaikwad" / "models"
    assert sorted(p.name for p in cells.iterdir()) == ["dense_vae"]  # and no table
    assert sorted(p.name for p in (tmp_path / "results" / "gaikwad").iterdir()) == ["models"]
    spec = next(s for s in course_reports.models_of(config) if s.key == "dense_vae")
    identity = course_reports.cell_identity(config, spec)
    cell = course_reports.read_cell(cells / "dense_vae", identity)
    entry = cell["metrics"]
    assert entry["epochs"] == 1 and [row["epoch"] for row in entry["by_epoch"]] == [1]
    assert entry["sample_quality"]["count"] == 30 and entry["test_images"] == 20
    assert entry["test_nll"] <= entry["test_negative_elbo"] + 5
    assert 0 <= entry["pairing"]["digit_agreement"] <= 1
    # the drawn samples (100 at the last epoch) and outputs beside real digits, in [0, 1]
    assert cell["grids"][1].shape == (100, 28, 28, 1) and cell["pairs"].shape == (10, 28, 28, 1)
    assert 0 <= cell["grids"][1].min() and cell["pairs"].max() <= 1
    assert cell["environment"]["epochs"] == 1 and cell["environment"]["git_commit"]
    # another session: work/ is gone, the cell is kept and nothing is trained again
    shutil.rmtree(tmp_path / "work")

    def no_training(*args, **kwargs):
        raise AssertionError("a measured cell was trained again")

    monkeypatch.setattr(hw4, "train_group_model", no_training)
    assert course_reports.train(config, ["dense_vae"], splits) == ["dense_vae"]
    # a cell of another measurement (here k) is no cell of this one: it is measured again
    other = dataclasses.replace(config, importance_samples=4)
    assert course_reports.cell_identity(other, spec) != identity
    assert (
        course_reports.read_cell(cells / "dense_vae", course_reports.cell_identity(other, spec))
        is None
    )
    with pytest.raises(AssertionError, match="trained again"):
        course_reports.train(other, ["dense_vae"], splits)
    assert course_reports.read_cell(cells / "dense_vae", identity) is not None  # left as it was
