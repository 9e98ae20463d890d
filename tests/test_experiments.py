import dataclasses
import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from absl import app, flags
from conftest import assert_recorded_run, drawn_png, negative_elbo_by_hand, record_grids

from vaegan_tf import data, evaluate, mnist_mirror, training
from vaegan_tf.models.vae import VAE, VAEConfig
from vaegan_tf.studies import vae_mnist
from vaegan_tf.studies.common import RunSettings

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.usefixtures("eager_steps")
def test_vae_study_draws_and_measures_its_trained_vae(tmp_path, splits, monkeypatch):
    """With the posterior noise at zero, samples are decodings of z = 0 and reconstructions those
    of the posterior mean: the figures and the test ELBO are checked against the reloaded model."""
    monkeypatch.setattr(data, "load", lambda *args, **kwargs: splits)
    monkeypatch.setattr(VAE, "draw_noise", lambda self, shape: tf.zeros(shape))
    drawn = record_grids(monkeypatch)
    config = vae_mnist.VAEStudyConfig(
        model=VAEConfig(hidden_units=(16,), latent_dim=2),
        epochs=1,
        importance_samples=4,
        quality_samples=50,
        run=RunSettings(
            results_root=str(tmp_path / "results"),
            work_root=str(tmp_path / "work"),
            steps_per_epoch=3,
        ),
        require_evaluator=False,
    )
    metrics = vae_mnist.run(config)
    out = tmp_path / "results" / "vae_mnist"
    assert_recorded_run(out, metrics, epochs=1)
    assert json.loads((out / "config.json").read_text())["model"]["latent_dim"] == 2
    model = vae_mnist.train_vae(config, splits).model  # the finished run, loaded
    bits = evaluate.binarized(splits.test, vae_mnist.TEST_BINARIZATION_SEED)
    posterior = model.posterior(tf.constant(bits), training=False)
    expected = negative_elbo_by_hand(posterior, model.decode(posterior.mean()), bits)
    assert metrics["test_negative_elbo"] == pytest.approx(expected, rel=1e-4)
    # a bound that tightens, up to MC noise
    assert metrics["test_nll"] <= metrics["test_negative_elbo"] + 5
    assert metrics["sample_quality"].startswith("skipped")
    readme = (out / "README.md").read_text()
    assert f"| {metrics['test_negative_elbo']:.2f} |" in readme
    assert f"| {metrics['test_nll']:.2f} |" in readme
    # samples: 10 x 10 decodings of z = 0; reconstructions: rows of test images, then their own
    decoded = np.asarray(model.decode(np.zeros((1, 2), np.float32)))[0, ..., 0]
    assert drawn["samples.png"].shape == (10, 10, 28, 28)
    # one code decoded alone against a batch of 100: the kernels may round differently per batch
    np.testing.assert_allclose(
        drawn["samples.png"], np.broadcast_to(decoded, (10, 10, 28, 28)), rtol=1e-5, atol=1e-6
    )
    pairs = drawn["reconstructions.png"]
    assert pairs.shape == (8, 10, 28, 28)
    np.testing.assert_allclose(
        pairs[0::2], splits.test.images[:40, ..., 0].reshape(4, 10, 28, 28) / 255
    )
    rebuilt = np.asarray(model.reconstruct(tf.constant(bits[:40])))[..., 0]
    np.testing.assert_allclose(pairs[1::2], rebuilt.reshape(4, 10, 28, 28), rtol=1e-5, atol=1e-6)
    for name in ("samples.png", "reconstructions.png"):
        drawn_png(out / name)
    assert "One seed: no spread yet" in readme
    # a second seed: its own folder, and both READMEs show both seeds with their mean and sd
    again = vae_mnist.run(dataclasses.replace(config, seed=1))
    elbos = [metrics["test_negative_elbo"], again["test_negative_elbo"]]
    row = (
        f"| test negative ELBO (nats) | {elbos[0]:.2f} | {elbos[1]:.2f} | "
        f"{np.mean(elbos):.2f} ± {np.std(elbos, ddof=1):.2f} |"
    )
    for folder in ("vae_mnist", "vae_mnist_seed1"):
        readme = (tmp_path / "results" / folder / "README.md").read_text()
        assert "| measure | seed 0 | seed 1 | mean ± sd |" in readme and row in readme
        assert "| FD of the samples | n/a | n/a | n/a |" in readme  # unscored here


def run_experiment(*args, cwd, script="vae_mnist.py", extra_env=None):
    env = {**os.environ, "PYTHONPATH": str(ROOT), **(extra_env or {})}
    return subprocess.run(
        [sys.executable, str(ROOT / "experiments" / script), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )


@pytest.mark.slow
def test_smoke_mode_runs_on_real_mnist(tmp_path):
    """`make smoke`: the real model on the real (mirrored) MNIST, a sample grid in
    results/smoke/."""
    done = run_experiment("--smoke", "--results_root=results", "--work_root=work", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    drawn_png(tmp_path / "results" / "smoke" / "samples.png")
    metrics = json.loads((tmp_path / "results" / "smoke" / "metrics.json").read_text())
    assert metrics["test_images"] == 1000 and metrics["test_negative_elbo"] < 300
    readme = (tmp_path / "results" / "smoke" / "README.md").read_text()
    assert (
        "Produced by `make smoke`" in readme
        and "make vae" not in readme
        and "10,000 test" not in readme
    )
    assert "--smoke sets --epochs=2" in done.stderr  # it says what it overrides


def test_figure6_entry_point_hands_the_study_what_its_flags_ask(experiment, monkeypatch, tmp_path):
    """`make figure6 ARGS=--smoke` wired to the study: one epoch of SMOKE_STEPS steps, 100 samples
    per digit, the seed given, no evaluator; `--dataset=svhn` names its own folder and never waits
    for the MNIST evaluator. (The study itself runs on fake data in tests/test_figures.py and on
    mock SVHN in tests/test_svhn.py; `make smoke`'s test runs a real-MNIST process end to end.)"""
    from vaegan_tf.studies import figure6

    seen = []
    monkeypatch.setattr(figure6, "run", lambda config: seen.append(config) or {})
    entry = experiment("figure6")
    roots = [f"--results_root={tmp_path / 'r'}", f"--work_root={tmp_path / 'w'}"]
    flags.FLAGS(["figure6.py", "--smoke", "--seed=3", *roots])
    entry.main([])
    flags.FLAGS.unparse_flags()
    flags.FLAGS(
        ["figure6.py", "--dataset=svhn", "--epochs=4", "--precision=mixed_bfloat16", *roots]
    )
    entry.main([])
    smoke, svhn = seen
    assert (smoke.name, smoke.dataset, smoke.epochs, smoke.seed) == ("figure6_smoke", "mnist", 1, 3)
    assert smoke.samples_per_class == 100 and not smoke.require_evaluator
    assert smoke.run.steps_per_epoch == sys.modules["common_flags"].SMOKE_STEPS
    assert smoke.run.results_root == str(tmp_path / "r")
    assert (svhn.name, svhn.dataset, svhn.epochs) == ("figure6_svhn", "svhn", 4)
    assert not svhn.require_evaluator and svhn.run.steps_per_epoch is None
    assert (smoke.run.precision, svhn.run.precision) == ("float32", "mixed_bfloat16")


def _draw_entry_point(experiment, monkeypatch, tmp_path, script, *runs):
    """Runs experiments/<script>.py's main once per flag list in `runs`, capturing the configs it
    hands its study and whether it asked for the evaluator first."""
    from vaegan_tf.studies import draw_report, figure10, figure11

    seen, checked = [], []
    for study in (figure10, figure11):
        monkeypatch.setattr(study, "run", lambda config: seen.append(config) or {})
    monkeypatch.setattr(draw_report, "write_figure10_readme", lambda *args: None)
    entry = experiment(script)
    monkeypatch.setattr(sys.modules["common_flags"], "check_evaluator", checked.append)
    roots = [f"--results_root={tmp_path / 'r'}", f"--work_root={tmp_path / 'w'}"]
    for flag_list in runs:
        flags.FLAGS([f"{script}.py", *flag_list, *roots])
        entry.main([])
        flags.FLAGS.unparse_flags()
    return seen, checked


def test_figure10_entry_point_hands_the_study_what_its_flags_ask(experiment, monkeypatch, tmp_path):
    """`make figure10`: the models and epochs asked for; `--smoke`: SMOKE_STEPS steps, 200 test
    images, outputs checked, no evaluator. (The study runs on fake data in
    tests/test_draw_studies.py.)"""
    (full, smoke), checked = _draw_entry_point(
        experiment,
        monkeypatch,
        tmp_path,
        "figure10",
        ["--models=draw,draw_paper_attention", "--draw_epochs=7"],
        ["--smoke", "--models=conditional_draw"],
    )
    assert full.models == ("draw", "draw_paper_attention") and dict(full.epochs) == {"draw": 7}
    assert full.require_evaluator and full.run.steps_per_epoch is None
    assert (smoke.name, smoke.models, dict(smoke.epochs)) == (
        "figure10_smoke",
        ("conditional_draw",),
        {"conditional_draw": 1},
    )
    assert smoke.run.steps_per_epoch == sys.modules["common_flags"].SMOKE_STEPS
    assert smoke.check_outputs and not smoke.require_evaluator and smoke.likelihood_images == 200
    assert checked == [True, False]


def test_figure11_entry_point_compares_with_figure10_s_draw(experiment, monkeypatch, tmp_path):
    """`make figure11 ARGS='--smoke --preset=authors_code'`: its own folder, the seed given to
    both models, and the DRAW compared trained under Figure 10's (smoke) name and schedule."""
    (gan,), checked = _draw_entry_point(
        experiment,
        monkeypatch,
        tmp_path,
        "figure11",
        ["--smoke", "--preset=authors_code", "--seed=2"],
    )
    steps = sys.modules["common_flags"].SMOKE_STEPS
    assert (gan.name, gan.preset, gan.seed, gan.epochs) == (
        "figure11_smoke_authors_code",
        "authors_code",
        2,
        1,
    )
    assert gan.figure10.name == "figure10_smoke" and gan.figure10.seed == 2
    assert dict(gan.figure10.epochs) == {"draw": 1}
    assert gan.run.steps_per_epoch == gan.figure10.run.steps_per_epoch == steps
    assert gan.check_outputs and not gan.require_evaluator and checked == [False]


@pytest.mark.parametrize("script, condition", [("figure8", "left_half"), ("figure9", "label")])
def test_application_entry_points_hand_the_study_what_their_flags_ask(
    experiment, monkeypatch, tmp_path, script, condition
):
    """`make figure8|figure9 ARGS=--smoke` wired to the study: the figure's condition, one epoch of
    SMOKE_STEPS steps, the seed given, no evaluator. (The studies run on fake data in
    tests/test_figures.py.)"""
    from vaegan_tf.studies import figure8_9

    seen = []
    monkeypatch.setattr(figure8_9, "run", lambda config: seen.append(config) or {})
    experiment("application_main")  # imported afresh: it defines the flags both scripts share
    entry = experiment(script)
    flags.FLAGS(
        [
            f"{script}.py",
            "--smoke",
            "--seed=5",
            f"--results_root={tmp_path / 'r'}",
            f"--work_root={tmp_path}",
        ]
    )
    entry.main([])
    (config,) = seen
    assert (config.name, config.condition, config.epochs, config.seed) == (
        f"{script}_smoke",
        condition,
        1,
        5,
    )
    assert config.run.steps_per_epoch == sys.modules["common_flags"].SMOKE_STEPS
    assert not config.require_evaluator and config.run.results_root == str(tmp_path / "r")


def test_figure7_entry_point_hands_the_study_what_its_flags_ask(experiment, monkeypatch, tmp_path):
    """`make figure7 ARGS='--smoke --preset=paper'` wired to the study: the preset, the smoke
    schedule of both models, the Figure 6 CVAE it compares with, no evaluator. (Its full-size
    CVAE-GAN on real MNIST costs minutes on two cores; the study itself is run on fake data in
    tests/test_figures.py and on mock SVHN in tests/test_svhn.py.)"""
    from vaegan_tf.studies import figure7

    seen = []
    monkeypatch.setattr(figure7, "run", lambda config: seen.append(config) or {})
    entry = experiment("figure7")
    flags.FLAGS(
        [
            "figure7.py",
            "--smoke",
            "--preset=paper",
            f"--results_root={tmp_path / 'r'}",
            f"--work_root={tmp_path / 'w'}",
        ]
    )
    entry.main([])
    (config,) = seen
    assert (config.name, config.preset, config.epochs) == ("figure7_paper_smoke", "paper", 1)
    assert (config.cvae.name, config.cvae.epochs) == ("figure6_smoke", 1)
    steps = sys.modules["common_flags"].SMOKE_STEPS
    assert config.run.steps_per_epoch == config.cvae.run.steps_per_epoch == steps
    assert config.samples_per_class == 50 and not config.require_evaluator
    assert config.run.results_root == str(tmp_path / "r")


@pytest.mark.parametrize("variant", ["vaegan", "dfcvae"])
def test_variant_entry_points_hand_the_study_what_their_flags_ask(
    experiment, monkeypatch, tmp_path, variant
):
    """`make vaegan|dfcvae ARGS=--smoke` wired to the study: one epoch of SMOKE_STEPS steps for
    the variant, its perceptual network and the plain VAE (under its smoke name), 200 samples, no
    evaluator. (Their full-size models on real MNIST cost minutes on two cores; the study itself
    runs on fake data in tests/test_vaegan_dfcvae.py.)"""
    from vaegan_tf.studies import vaegan_dfcvae

    seen = []
    monkeypatch.setattr(vaegan_dfcvae, "run", lambda config: seen.append(config) or {})
    experiment("variant_main")  # imported afresh: it defines the flags both scripts share
    entry = experiment(variant)
    flags.FLAGS(
        [f"{variant}.py", "--smoke", f"--results_root={tmp_path / 'r'}", f"--work_root={tmp_path}"]
    )
    entry.main([])
    (config,) = seen
    steps = sys.modules["common_flags"].SMOKE_STEPS
    assert (config.variant, config.name, config.epochs) == (variant, f"{variant}_smoke", 1)
    assert (config.baseline.name, config.baseline.epochs) == ("vae_mnist_smoke", 1)
    assert config.perceptual_epochs == 1 and config.quality_samples == 200
    assert config.run.steps_per_epoch == steps and not config.require_evaluator
    assert config.run.results_root == str(tmp_path / "r")


def test_balance_flag_is_refused_where_there_is_no_discriminator(tmp_path):
    done = run_experiment("--balance=larsen", cwd=tmp_path, script="dfcvae.py")
    assert done.returncode != 0 and "--balance is a VAE-GAN setting" in done.stderr


def test_unknown_flag_value_is_a_clear_error(tmp_path):
    done = run_experiment("--strategy=tpu", cwd=tmp_path)
    assert done.returncode != 0 and "strategy" in done.stderr and "tpu" in done.stderr


def test_benchmark_rates_are_images_over_the_median_step_time(splits, monkeypatch):
    """On a clock that ticks 0.5 s a step with a 10 s stall every fourth step, 10 images a step go
    at 20 images/s: the median step time, which no stall moves (a mean would)."""
    import itertools
    from types import SimpleNamespace

    from vaegan_tf import benchmark
    from vaegan_tf.models.vae import build_vae

    def clock():
        ticks = itertools.accumulate(itertools.cycle([0.5, 0.5, 0.5, 10.0]))
        return SimpleNamespace(perf_counter=lambda: next(ticks))

    stream = data.pipeline(
        splits.train, batch_size=10, preprocessing="dynamic_binarize", shuffle=True
    )
    monkeypatch.setattr(benchmark, "time", clock())
    assert benchmark.pipeline_images_per_second(stream, 10, steps=5, warmup=2) == 20.0
    model = build_vae(VAEConfig(hidden_units=(8,), latent_dim=2))
    monkeypatch.setattr(benchmark, "time", clock())
    assert benchmark.training_images_per_second(model, stream, 10, steps=5, warmup=2) == 20.0


def test_provenance_says_when_a_run_was_resumed():
    from vaegan_tf import records

    env = {
        "git_commit": "abc",
        "epochs": 10,
        "wall_seconds": 120.0,
        "total_seconds": 90.0,
        "packages": {"tensorflow": "2.21.0"},
        "devices": ["/cpu:0"],
        "distribution": None,
    }
    fresh = records.provenance(env, "make vae")
    assert "resumed" not in fresh and "(1.5 min in all)" in fresh
    resumed = records.provenance(
        {**env, "resumed_from_epoch": 4, "resumed_from_commit": "def"}, "make vae"
    )
    assert "resumed after epoch 4" in resumed and "`def`" in resumed and "`abc`" in resumed
    # a resumed run's process time is shorter than its training time: say which session it covers
    assert "(1.5 min in all in the last session)" in resumed
    reused = records.provenance(
        {**env, "reused_finished": True, "resumed_from_commit": "def"}, "make vae"
    )
    assert (
        "weights of an earlier finished run (10 epochs in 2.0 min of training) reused, trained at "
        "commit `def` (1.5 min in all)"
    ) in reused and "resumed" not in reused


def test_table1_runs_of_some_rows_are_named_apart_and_say_how_to_repeat_them(monkeypatch):
    """`make table1 ARGS=--rows=...` must not overwrite the whole table, and its README gives its
    own command."""
    monkeypatch.syspath_prepend(str(ROOT / "experiments"))
    table1 = importlib.import_module("table1")

    def parse(*argv):
        flags.FLAGS.unparse_flags()
        flags.FLAGS(["table1", *argv])

    try:
        parse()
        assert (table1.results_name(), table1.make_command()) == ("table1", "make table1")
        parse("--quick", "--rows=conv+gan+pixel", "--labels=1000")
        assert table1.results_name() == "table1_quick_rows-conv+gan+pixel_labels-1000"
        assert (
            table1.make_command()
            == "make table1 QUICK=1 ARGS='--rows=conv+gan+pixel --labels=1000'"
        )
        config = table1.config_from_flags()
        assert (
            config.rows == ("conv+gan+pixel",)
            and config.epochs["conv+gan+pixel"] == table1.QUICK_EPOCHS
        )
        # a bfloat16 run's table goes to a folder of its own (`RunSettings.results`), and its
        # README's command says so
        parse("--protocol=authors_code", "--rows=fc", "--precision=mixed_bfloat16")
        config = table1.config_from_flags()
        assert config.base.run.results(config.name).name == (
            "table1_authors_code_rows-fc_mixed_bfloat16"
        )
        assert table1.make_command() == (
            "make table1 ARGS='--protocol=authors_code --rows=fc --precision=mixed_bfloat16'"
        )
        parse("--rows=conv,gann")
        with pytest.raises(app.UsageError, match="unknown --rows"):
            table1.config_from_flags()
        # the cells are seeded by --label_seeds; a --seed would only rename the folder
        parse("--seed=2")
        with pytest.raises(app.UsageError, match="use --label_seeds=2"):
            table1.config_from_flags()
    finally:
        flags.FLAGS.unparse_flags()


def test_smoke_settings_evaluate_on_the_first_images_only(splits, monkeypatch):
    monkeypatch.setattr(data, "load", lambda *args, **kwargs: splits)
    full = RunSettings().load()
    assert full is splits
    short = RunSettings(evaluation_images=7).load()
    assert (len(short.validation), len(short.test)) == (7, 7) and short.train is splits.train
    np.testing.assert_array_equal(short.test.images, splits.test.images[:7])


def test_evaluator_sentence_names_the_fingerprints_that_scored_a_table():
    from vaegan_tf import records

    quality = {
        "CVAE": {"fid": 1.0, "evaluator": "7afa844a3699"},
        "real": {"evaluator": "7afa844a3699"},
    }
    assert "fingerprint 7afa844a3699 " in records.evaluator_sentence(quality)
    mixed = {**quality, "old": {"evaluator": "0123456789ab"}}
    assert "0123456789ab, 7afa844a3699" in records.evaluator_sentence(mixed)
    # results from before
    assert records.evaluator_sentence({"CVAE": {"fid": 1.0}, "note": "skipped"}) == ""


def test_figure7_reading_follows_the_numbers():
    from vaegan_tf.studies import figure7_report

    def row(accuracy, fd, sharpness):
        return {
            "conditional_accuracy": accuracy,
            "frechet_distance": fd,
            "sharpness_ratio": sharpness,
        }

    quality = {
        "CVAE": row(0.94, 17.0, 0.43),
        "CVAE-GAN": row(0.28, 135.0, 1.03),
        "real training images": row(1, 0.5, 1),
    }
    worse = figure7_report.reading(quality)
    assert (
        "closer to real sharpness" in worse
        and "farther from the test" in worse
        and "less often (28.0%" in worse
    )
    quality["CVAE-GAN"] = row(0.97, 12.0, 0.30)
    better = figure7_report.reading(quality)
    assert (
        "farther from real sharpness" in better
        and "closer to the test" in better
        and "more often" in better
    )


@pytest.mark.parametrize(
    "module, argv, message",
    [
        ("vae_mnist", ["--epochs=0"], "--epochs must be a whole number >= 1"),
        ("vae_mnist", ["--epochs=-3"], "--epochs must be a whole number >= 1"),
        ("vae_mnist", ["--smoke", "--epochs=0"], "--epochs must be a whole number >= 1"),
        (
            "vae_mnist",
            ["--importance_samples=0"],
            "--importance_samples must be a whole number >= 1",
        ),
        ("vae_mnist", ["--seed=-1"], "--seed=-1"),
        ("vae_mnist", ["--seed=x"], "invalid literal for int"),
        ("figure6", ["--epochs=0"], "--epochs must be"),
        ("figure7", ["--cvae_epochs=0"], "--cvae_epochs must be"),
        ("figure8", ["--epochs=0"], "--epochs must be"),
        ("vaegan", ["--epochs=0"], "--epochs must be"),
        ("vaegan", ["--baseline_epochs=0"], "--baseline_epochs must be"),
        ("evaluator", ["--epochs=0"], "--epochs"),
        ("benchmark", ["--steps=0"], "--steps must be"),
        ("gan", ["--epochs=0"], "--epochs must be"),
        ("gan", ["--preset=wgan"], "--preset=wgan"),
    ],
)
def test_numeric_flags_are_refused_in_one_line_before_any_work(
    experiment, monkeypatch, capsys, module, argv, message
):
    import common_flags

    experiment(
        "variant_main"
        if module == "vaegan"
        else "application_main"
        if module == "figure8"
        else module
    )
    ran = []
    monkeypatch.setattr(sys, "argv", [f"{module}.py", *argv])
    with pytest.raises(SystemExit) as refused:
        common_flags.run(ran.append)  # the entry points' own runner
    error = capsys.readouterr().err
    assert refused.value.code == 2 and error.startswith("usage error: ") and message in error
    assert error.count("\n") == 1
    assert not ran  # refused while parsing: main never started


def test_a_second_seed_is_a_run_of_its_own(experiment):
    """--seed reaches the study and its run settings: seed 2's results and work folders sit beside
    seed 0's (and a VAE-GAN's baseline, trained under the same run settings, is make vae's run of
    the same seed)."""
    hw4_main = experiment("hw4_main")
    hw4_main.define_flags("vae")
    flags.FLAGS(["hw4_vae.py", "--seed=2"])
    config = hw4_main.config_from_flags("vae")
    assert config.seed == config.run.seed == 2
    assert config.run.results(config.name) == Path("results/hw4_vae_seed2")
    assert config.run.work_dir(f"{config.name}_vae") == Path("work/hw4_vae_vae_seed2")
    flags.FLAGS.unparse_flags()
    flags.FLAGS(["hw4_vae.py"])
    assert hw4_main.config_from_flags("vae").run.results("hw4_vae") == Path("results/hw4_vae")


def test_gan_presets_take_the_course_schedule_and_a_batch_per_critic_update(experiment):
    gan_main = experiment("gan")
    flags.FLAGS(["gan.py", "--preset=wgan_gp"])
    config = gan_main.config_from_flags()
    # five critic updates a step, each on its own batch of 100 (Gulrajani et al.'s n_critic = 5)
    assert (config.name, config.epochs, config.batch_size) == ("gan_wgan_gp", 30, 500)
    assert not config.conditional and config.preprocessing == "symmetric"
    flags.FLAGS(["gan.py", "--preset=cgan", "--epochs=3"])
    config = gan_main.config_from_flags()
    assert (config.epochs, config.batch_size, config.conditional) == (3, 100, True)


def test_another_critic_batching_is_a_gan_run_of_its_own(experiment):
    gan_main = experiment("gan")
    flags.FLAGS(["gan.py", "--preset=dcgan", "--critic_batches=joint"])
    config = gan_main.config_from_flags()
    assert config.model.critic_batches == "joint" and config.name == "gan_dcgan_joint_batches"
    assert "--critic_batches=joint" in config.command
    flags.FLAGS.unparse_flags()
    flags.FLAGS(["gan.py", "--preset=dcgan", "--critic_batches=separate"])  # the preset's own
    config = gan_main.config_from_flags()
    assert config.model == gan_main.gan.DCGAN and config.name == "gan_dcgan"


def test_vaegan_epochs_default_to_the_study_s_own(experiment, monkeypatch):
    import common_flags

    experiment("variant_main")
    # --epochs unset (None) is allowed: the study picks its default
    ran = []
    monkeypatch.setattr(sys, "argv", ["vaegan.py"])
    with pytest.raises(SystemExit) as finished:  # absl's app.run exits with main's result
        common_flags.run(lambda argv: ran.append(flags.FLAGS.epochs))
    assert finished.value.code is None and ran == [None]


def test_smoke_says_what_it_sets_and_honours_flags_given_with_it(experiment, capsys):
    vae_main = experiment("vae_mnist")
    flags.FLAGS(["vae_mnist.py", "--smoke"])
    config = vae_main.config_from_flags()
    assert (config.name, config.epochs, config.importance_samples, config.test_images) == (
        "smoke",
        2,
        10,
        1000,
    )
    assert config.command == "make smoke"  # config.json too says which command made the run
    said = capsys.readouterr().err
    assert said.startswith("--smoke sets --epochs=2, --importance_samples=10, 100 steps per epoch")
    flags.FLAGS.unparse_flags()
    flags.FLAGS(["vae_mnist.py", "--smoke", "--epochs=3"])
    config = vae_main.config_from_flags()
    assert (config.epochs, config.importance_samples) == (3, 10)
    said = capsys.readouterr().err
    assert "--smoke sets --importance_samples=10," in said and "keeps --epochs=3 as given" in said
    assert "--epochs=2" not in said


def test_the_command_a_readme_names_is_the_one_that_ran(experiment):
    import common_flags

    command = common_flags.reproducing_command
    assert (
        command("experiments/vae_mnist.py", ["--smoke", "--results_root=r", "--work_root=w"])
        == "make smoke"
    )
    assert command("experiments/vae_mnist.py", []) == "make vae"
    assert (
        command("vae_mnist.py", ["--epochs=10", "--strategy=cpu"])
        == "make vae ARGS='--epochs=10 --strategy=cpu'"
    )
    assert command("table1.py", ["--quick", "--rows=fc"]) == "make table1 QUICK=1 ARGS=--rows=fc"
    assert command("figure7.py", ["--smoke"]) == "make figure7 ARGS=--smoke"
    from vaegan_tf import records

    env = {
        "git_commit": "abc",
        "epochs": 2,
        "wall_seconds": 6.0,
        "packages": {"tensorflow": "2.21.0"},
        "devices": ["/cpu:0"],
        "distribution": None,
    }
    assert records.provenance({**env, "command": "make smoke"}, "make vae").startswith(
        "Produced by `make smoke`"
    )
    assert records.provenance(env, "make vae").startswith("Produced by `make vae`")


USER_ERRORS = [
    data.DataError("MNIST could not be loaded: run `make data`"),
    mnist_mirror.MirrorError("sha256 differs: check your pip index"),
    training.TrainingDiverged("run diverged: lower the learning rate"),
    training.ResumeRefused("backup of seed 0: delete work/x to start over"),
    training.RunLocked("already running, pid 123"),
    evaluate.EvaluatorUnavailable("no evaluator: run `make evaluator`"),
    app.UsageError("--balance is a VAE-GAN setting"),
]


@pytest.mark.parametrize("raised", USER_ERRORS, ids=lambda error: type(error).__name__)
def test_errors_a_user_can_fix_print_one_line_without_a_traceback(
    experiment, monkeypatch, capsys, raised
):
    import common_flags

    def main(_):
        raise raised

    monkeypatch.setattr(sys, "argv", ["vae_mnist.py"])
    monkeypatch.delenv("VAEGAN_TF_DEBUG", raising=False)
    with pytest.raises(SystemExit) as stopped:
        common_flags.run(main)
    printed = capsys.readouterr().err
    assert stopped.value.code == (2 if isinstance(raised, app.UsageError) else 1)
    assert (
        printed.endswith(f"{raised}\n") and printed.count("\n") == 1 and "Traceback" not in printed
    )
    monkeypatch.setenv("VAEGAN_TF_DEBUG", "1")  # or --debug: the traceback too, for a bug report
    flags.FLAGS.unparse_flags()
    with pytest.raises(SystemExit):
        common_flags.run(main)
    printed = capsys.readouterr().err
    assert "Traceback" in printed and f"{raised}" in printed.splitlines()[-1]


def test_a_bug_is_not_hidden_as_a_user_error(experiment, monkeypatch):
    import common_flags

    def main(_):
        raise KeyError("a bug")

    monkeypatch.setattr(sys, "argv", ["vae_mnist.py"])
    with pytest.raises(KeyError):
        common_flags.run(main)


def test_missing_evaluator_is_reported_before_any_training(tmp_path):
    """make vae without an evaluator: one line naming the fix, in seconds, and nothing trained."""
    env = {
        "VAEGAN_TF_EVALUATOR_DIR": str(tmp_path / "no_evaluator"),
        "VAEGAN_TF_CACHE": str(tmp_path / "cache"),
    }
    done = run_experiment(
        "--epochs=1", "--results_root=results", "--work_root=work", cwd=tmp_path, extra_env=env
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("error: no evaluator")
    assert "make evaluator" in done.stderr
    assert not (tmp_path / "work" / "vae_mnist").exists() and not (tmp_path / "results").exists()


@pytest.mark.parametrize(
    "script, group, epoch_fields",
    [
        ("gaikwad", "gaikwad", {"vae_epochs": 2, "gan_epochs": 2}),
        ("hu", "hu", {"vae_epochs": 2, "gan_epochs": 2}),
        ("hw4_vae", "vae", {"vae_epochs": 2, "importance_samples": 20}),
        ("hw4_gan", "gan", {"gan_epochs": 2, "dcgan_epochs": 3}),
    ],
)
def test_course_report_smoke_sets_one_schedule_and_honours_given_flags(
    experiment, capsys, script, group, epoch_fields
):
    """The course-report entry points (hw4 groups, Hu, Gaikwad) share one --smoke: five steps an
    epoch, 1,000 samples and test images, 500 for the per-epoch FD, no evaluator required, their
    epochs at 2 unless given (hw4_gan's --dcgan_epochs=3 is kept)."""
    import common_flags

    entry = experiment(script)
    main = entry.hw4_main if script.startswith("hw4") else entry.course_reports_main
    flags.FLAGS([f"{script}.py", "--smoke", *(["--dcgan_epochs=3"] if group == "gan" else [])])
    config = main.config_from_flags(group)
    assert config.smoke and not config.require_evaluator
    assert config.run.steps_per_epoch == common_flags.SMOKE_STEPS
    assert (config.quality_samples, config.test_images, config.epoch_samples) == (1000, 1000, 500)
    assert {field: getattr(config, field) for field in epoch_fields} == epoch_fields
    said = capsys.readouterr().err
    assert said.startswith("--smoke sets --") and "500 samples for the per-epoch FD" in said
    assert ("keeps --dcgan_epochs=3 as given" in said) == (group == "gan")


@pytest.mark.parametrize(
    "argv, said",
    [
        (["--learning_rates=1e-4,fast"], "--learning_rates takes numbers"),
        (["--models=cnn_gan_lr0.1"], "choose from ['dense_gan_lr1e-05'"),
    ],
)
def test_gaikwad_bad_model_flags_are_usage_errors_before_training(
    experiment, monkeypatch, tmp_path, argv, said
):
    """A learning rate that is no number, or a model the report does not have: a usage error
    (one line, exit 2) naming the choices, and nothing trained or written."""
    entry = experiment("gaikwad")
    flags.FLAGS(["gaikwad.py", *argv, f"--work_root={tmp_path}/work"])
    monkeypatch.setattr(
        entry.course_reports_main.common_flags, "check_evaluator", lambda required: None
    )
    with pytest.raises(app.UsageError, match=said.replace("[", r"\[")):
        entry.course_reports_main.main_for("gaikwad")([])
    assert not (tmp_path / "work").exists()


@pytest.mark.parametrize(
    "argv, folder, suffix", [([], "hw4", ""), (["--smoke"], "hw4_smoke", "_smoke")]
)
def test_a_joined_table_reads_the_folders_that_end_as_it_does(
    experiment, monkeypatch, tmp_path, capsys, argv, folder, suffix
):
    """make hw4_table (and course_table, the same body) join the results whose names end as the
    table's own: a smoke table reads the smoke runs, and the README lands in results/<table>/."""
    entry = experiment("hw4_table")
    seen = {}

    def write_table(results_root, out, given_suffix):
        seen.update(root=results_root, out=out, suffix=given_suffix)
        (out / "README.md").write_text("the table")
        return out / "README.md"

    monkeypatch.setattr(entry.hw4_report, "write_table", write_table)
    flags.FLAGS(
        ["hw4_table.py", f"--results_root={tmp_path / 'results'}", f"--work_root={tmp_path / 'w'}"]
        + argv
    )
    entry.main([])
    assert seen["root"] == tmp_path / "results" and seen["suffix"] == suffix
    assert (tmp_path / "results" / folder / "README.md").read_text() == "the table"
    made = json.loads((tmp_path / "results" / folder / "environment.json").read_text())
    assert made["epochs"] is None and "git_commit" in made and "packages" in made  # no training
    assert "the table" in capsys.readouterr().out
