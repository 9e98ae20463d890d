"""Every model family trains under Keras' `mixed_bfloat16` policy: its layers compute in
bfloat16, its variables and what leaves its networks stay float32 (`layers.Network`), and the
first step's losses are the float32 step's to bfloat16's precision, from the same weights and
noise."""

import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import fake_splits
from test_draw import TINY_CONDITIONAL as TINY_CONDITIONAL_DRAW  # 8x8, T = 3, 10 classes

from vaegan_tf import dtypes
from vaegan_tf.models import draw, gan, networks
from vaegan_tf.models.cvae import CVAEConfig, build_cvae
from vaegan_tf.models.cvae_gan import PAPER, build_cvae_gan
from vaegan_tf.models.discriminator import DiscriminatorConfig
from vaegan_tf.models.layers import Network, every_layer
from vaegan_tf.models.m2 import M2Config, build_m2
from vaegan_tf.models.m2_authors import build_authors_m2, preset
from vaegan_tf.models.vae import VAEConfig, build_vae
from vaegan_tf.models.vae_gan import VAEGANConfig, build_vae_gan

TINY_VAE = VAEConfig(hidden_units=(8,), latent_dim=3)
TINY_CVAE = CVAEConfig(width_scale=0.25, latent_dim=3)
SMALL = (8, 8, 1)


def binary(count, shape=(28, 28, 1), seed=0):
    return tf.constant((np.random.default_rng(seed).random((count, *shape)) < 0.3), tf.float32)


def labels(count):
    return tf.constant(np.arange(count) % 10, tf.int32)


def tiny_gan(preset_config):
    config = dataclasses.replace(preset_config, image_shape=SMALL, latent_dim=3)
    net = config.networks
    generator = networks.Generator(
        networks.dcgan_generator_body(SMALL, net, (4, 3)), config.num_classes
    )
    critic = networks.Critic(
        networks.dcgan_critic_body(net, (3, 4)), config.num_classes, label_maps=True
    )
    return gan.build_gan(config, generator, critic)


# name -> (builder, one training batch)
CASES = {
    "vae_dense": (lambda: build_vae(TINY_VAE), lambda: (binary(6), labels(6))),
    "vae_deconv": (
        lambda: build_vae(dataclasses.replace(TINY_VAE, decoder="deconv", deconv_filters=(4, 4))),
        lambda: (binary(6), labels(6)),
    ),
    "cvae_conv": (lambda: build_cvae(TINY_CVAE), lambda: (binary(6), labels(6))),
    "cvae_gan": (
        lambda: build_cvae_gan(
            dataclasses.replace(
                PAPER, cvae=TINY_CVAE, discriminator=DiscriminatorConfig(filters=(4,), units=(8, 6))
            )
        ),
        lambda: (binary(6), labels(6)),
    ),
    "vae_gan": (lambda: build_vae_gan(VAEGANConfig(vae=TINY_VAE)), lambda: (binary(6), labels(6))),
    "m2_shared_first_layer": (
        lambda: build_m2(M2Config(hidden_units=16, latent_dim=3)),
        lambda: ((binary(4), labels(4)), (binary(6, seed=1), labels(6))),
    ),
    "m2_authors_conv_gan": (
        lambda: build_authors_m2(
            dataclasses.replace(
                preset("conv+gan", 1000),
                hidden_units=16,
                latent_dim=3,
                discriminator_filters=(2, 2, 2),
                discriminator_units=(8, 4),
            )
        ),
        lambda: (binary(6) * 0.9, labels(6), tf.ones(6, tf.int32)),
    ),
    "cdcgan": (lambda: tiny_gan(gan.CDCGAN), lambda: (binary(4, SMALL) * 2 - 1, labels(4))),
    "wgan_gp": (
        lambda: tiny_gan(dataclasses.replace(gan.WGAN_GP, critic_steps=2)),
        lambda: (binary(8, SMALL) * 2 - 1, labels(8)),
    ),
    "conditional_draw": (
        lambda: draw.build_draw(TINY_CONDITIONAL_DRAW),
        lambda: (binary(6, SMALL), labels(6)),
    ),
}


def first_step(name, policy):
    """The logs of one `train_step` of a fresh `name` model built under `policy`, and the model."""
    build, batch = CASES[name]
    keras.utils.set_random_seed(0)
    with dtypes.dtype_policy(policy):
        model = build()
        logs = model.train_step(batch())
    return {key: float(value) for key, value in logs.items()}, model


def test_a_network_computes_in_the_policy_dtype_and_returns_float32():
    with dtypes.dtype_policy("mixed_bfloat16"):
        network = Network([keras.layers.Dense(3), keras.layers.Dense(2)])
        output = network(tf.ones((4, 5)))
    assert [layer.compute_dtype for layer in network.layers] == ["bfloat16", "bfloat16"]
    assert output.dtype == tf.float32
    assert all(variable.dtype == "float32" for variable in network.weights)
    # under float32 the cast changes nothing
    plain = Network([keras.layers.Dense(3)])
    x = tf.random.normal((4, 5), seed=1)
    np.testing.assert_array_equal(plain(x), plain.layers[0](x))


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_model_trains_a_step_in_bfloat16_matching_float32(name):
    logs32, _ = first_step(name, "float32")
    logs16, model = first_step(name, "mixed_bfloat16")
    # the policy took: some layer computes in bfloat16, every variable stays float32
    compute = {layer.compute_dtype for layer in every_layer(model) if layer.weights}
    assert "bfloat16" in compute, compute
    assert all(variable.dtype == "float32" for variable in model.weights)
    assert logs16.keys() == logs32.keys()
    assert all(np.isfinite(value) for value in logs16.values()), logs16
    for key, value in logs32.items():
        if "accuracy" in key or "error" in key:
            continue  # shares of decisions at 0.5, which an untrained network sits on
        # bfloat16 keeps 8 bits of mantissa: a relative error of a few 1e-3 per operation
        np.testing.assert_allclose(logs16[key], value, rtol=0.05, atol=0.05, err_msg=key)


def test_a_bfloat16_run_is_a_run_of_its_own(tmp_path):
    """`RunConfig.precision` builds the model under its policy, and a finished run in one precision
    is never reused by a run in the other (nor a backup resumed: they share `_identity`)."""
    from vaegan_tf import data, training

    stream = data.pipeline(fake_splits().train, batch_size=50, preprocessing="dynamic_binarize")

    def run(precision):
        config = training.RunConfig(
            "run", 1, work_root=str(tmp_path), verbose=0, steps_per_epoch=2, precision=precision
        )
        return training.train(config, lambda: build_vae(TINY_VAE), stream)

    bf16 = run("mixed_bfloat16")
    assert bf16.model.decoder.layers[0].compute_dtype == "bfloat16"
    again = run("mixed_bfloat16")
    assert again.reused_finished  # the same run: loaded, not retrained
    plain = run("float32")
    assert not plain.reused_finished
    assert plain.model.decoder.layers[0].compute_dtype == "float32"
    with pytest.raises(ValueError, match="precision"):
        training.RunConfig("run", 1, precision="float16")


def test_bfloat16_without_bfloat16_hardware_is_named_slow():
    warn = dtypes.slow_bfloat16_warning
    assert "emulated" in warn("mixed_bfloat16", [], accelerators=0)
    assert warn("mixed_bfloat16", ["amx_bf16"], accelerators=0) is None
    assert warn("mixed_bfloat16", [], accelerators=1) is None  # a GPU computes it
    assert warn("mixed_bfloat16", None, accelerators=0) is None  # flags unknown: no guess
    assert warn("float32", [], accelerators=0) is None


def test_a_bfloat16_run_on_a_cpu_without_bfloat16_says_so(tmp_path, monkeypatch, capsys):
    from vaegan_tf import data, records, training

    stream = data.pipeline(fake_splits().train, batch_size=50, preprocessing="dynamic_binarize")
    monkeypatch.setattr(records, "cpu_bfloat16_instructions", lambda: [])
    for precision in ("float32", "mixed_bfloat16"):
        config = training.RunConfig(
            precision, 1, work_root=str(tmp_path), verbose=0, steps_per_epoch=1, precision=precision
        )
        training.train(config, lambda: build_vae(TINY_VAE), stream)
        warned = "no bfloat16 instructions" in capsys.readouterr().err
        assert warned == (precision == "mixed_bfloat16")


def test_a_backup_is_resumed_only_in_its_own_precision(tmp_path):
    """A bfloat16 run's backup refuses a float32 run, naming both precisions."""
    from vaegan_tf import data, training

    stream = data.pipeline(fake_splits().train, batch_size=50, preprocessing="dynamic_binarize")

    class StopAfterOneEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            self.model.stop_training = True  # the backup of epoch 1 stays; the run is unfinished

    def run(precision, callbacks=()):
        config = training.RunConfig(
            "run", 3, work_root=str(tmp_path), verbose=0, steps_per_epoch=2, precision=precision
        )
        return training.train(config, lambda: build_vae(TINY_VAE), stream, callbacks=callbacks)

    with pytest.raises(training.TrainingIncomplete):
        run("mixed_bfloat16", [StopAfterOneEpoch()])
    with pytest.raises(training.ResumeRefused, match="'mixed_bfloat16', not 'float32'"):
        run("float32")


def test_a_bfloat16_study_keeps_to_folders_of_its_own(tmp_path):
    """Results, work folders, locks and Table 1 cells of a bfloat16 run are named apart, so it
    never writes over, loads or is kept as a float32 run; float32 names are unchanged."""
    from vaegan_tf.studies import table1
    from vaegan_tf.studies.common import RunSettings

    plain = RunSettings(results_root=str(tmp_path / "results"), work_root=str(tmp_path / "work"))
    bf16 = dataclasses.replace(plain, precision="mixed_bfloat16")
    assert plain.results("vae_mnist") == tmp_path / "results" / "vae_mnist"
    assert bf16.results("vae_mnist") == tmp_path / "results" / "vae_mnist_mixed_bfloat16"
    assert bf16.results("figure10/draw") == tmp_path / "results/figure10_mixed_bfloat16/draw"
    assert plain.training_run("figure6", 1, 0, 2).work_dir == tmp_path / "work" / "figure6"
    assert bf16.training_run("figure6", 1, 0, 2).work_dir == bf16.work_dir("figure6")
    assert bf16.work_dir("figure6") == tmp_path / "work" / "figure6_mixed_bfloat16"
    with plain.session("figure6"), bf16.session("figure6"):  # two locks: both runs go on
        assert (tmp_path / "work" / "figure6_mixed_bfloat16").is_dir()
    study = table1.SSLStudyConfig(num_labelled=20, epochs=1)
    assert table1.cell_identity(study) != table1.cell_identity(dataclasses.replace(study, run=bf16))


def test_another_seed_keeps_to_folders_of_its_own(tmp_path):
    """A run of seed 3 names its results, work folders and locks apart from seed 0's (whose names
    do not change), also in bfloat16 and in nested names."""
    from vaegan_tf.studies.common import RunSettings

    plain = RunSettings(results_root=str(tmp_path / "results"), work_root=str(tmp_path / "work"))
    third = dataclasses.replace(plain, seed=3)
    assert third.results("vae_mnist") == tmp_path / "results" / "vae_mnist_seed3"
    assert third.results("figure10/draw") == tmp_path / "results/figure10_seed3/draw"
    bf16 = dataclasses.replace(third, precision="mixed_bfloat16")
    assert bf16.named("hw4_vae") == "hw4_vae_seed3_mixed_bfloat16"
    assert third.training_run("figure6", 1, 3, 2).work_dir == tmp_path / "work" / "figure6_seed3"
    with plain.session("figure6"), third.session("figure6"):  # two locks: both runs go on
        assert (tmp_path / "work" / "figure6_seed3").is_dir()
    for bad in (-1, True, 1.5):
        with pytest.raises(ValueError, match="seed must be a whole number"):
            RunSettings(seed=bad)


@pytest.mark.parametrize(
    "module, config_class",
    [
        ("vae_mnist", "VAEStudyConfig"),
        ("figure6", "Figure6Config"),
        ("figure7", "Figure7Config"),
        ("figure8_9", "ApplicationConfig"),
        ("figure10", "Figure10Config"),
        ("figure11", "Figure11Config"),
        ("hw4", "HW4Config"),
        ("course_reports", "CourseReportConfig"),
        ("vaegan_dfcvae", "VariantConfig"),
    ],
)
def test_a_study_s_own_seed_names_its_folders(module, config_class):
    """A library caller who sets only the study's seed gets that seed's folders, not seed 0's: the
    seed that trains the models is the one that names them, whichever field the caller set."""
    import importlib

    from vaegan_tf.studies.common import RunSettings

    config_type = getattr(importlib.import_module(f"vaegan_tf.studies.{module}"), config_class)
    config = config_type()
    assert config.run.seed == config.seed == 0
    second = dataclasses.replace(config, seed=2)
    assert second.run.seed == 2 and second.run.named("x") == "x_seed2"
    back = dataclasses.replace(second, seed=0)  # and back to seed 0's plain names
    assert back.run.seed == 0 and back.run.named("x") == "x"
    # the run settings' seed alone does not override the study's
    assert dataclasses.replace(config, run=RunSettings(seed=5)).run.seed == 0


def test_a_generic_study_s_seed_names_its_folders():
    from vaegan_tf.models import gan
    from vaegan_tf.studies import generative

    config = generative.GenerativeStudyConfig("g", "g", gan.DCGAN, 1, seed=4)
    assert config.run.results(config.name).name == "g_seed4"
