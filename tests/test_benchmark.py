"""`make benchmark`: the registry of every model's training step, the FLOP counter, the timing,
the README's table and the flags. Fake data, tiny batches; full-size models only where a family
needs its own check (one step each, run eagerly: no tracing)."""

import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import fake_splits

from vaegan_tf import benchmark, records, training

ROOT = Path(__file__).resolve().parents[1]
REGISTRY = benchmark.models()
GAN_FAMILY = {
    "gan", "cgan", "dcgan", "cdcgan", "wgan_clip", "wgan_gp", "hu_dcgan", "gaikwad_dense_gan",
    "gaikwad_dense_gan_deep", "gaikwad_cnn_gan",
}  # fmt: skip


# -- the registry --------------------------------------------------------------------------------


def test_every_model_of_the_suite_is_in_the_registry():
    expected = {
        "vae_fc", "vae_deconv", "cvae_conv", "cvae_fc", "m2_fc", "m2_conv", "ssl_vae_gan",
        "m2_authors_fc", "m2_authors_conv", "m2_authors_conv_gan", "cvae_gan", "cvae_gan_paper",
        "vae_gan", "dfc_vae", "gan", "cgan", "dcgan", "cdcgan", "wgan_clip", "wgan_gp", "draw",
        "conditional_draw", "draw_paper_attention", "draw_paper_no_attention", "draw_gan",
        "draw_gan_authors_code", "hu_vae", "hu_dcgan", "gaikwad_dense_gan",
        "gaikwad_dense_gan_deep", "gaikwad_cnn_gan", "gaikwad_dense_vae", "gaikwad_cnn_vae",
        "evaluator_lenet",
    }  # fmt: skip
    assert set(REGISTRY) == expected
    # paper batches: Sec. 4's 100, M2's labelled + unlabelled, k critic batches, DRAW's 256
    assert (REGISTRY["m2_fc"].batch_label(), REGISTRY["m2_fc"].images_per_step()) == (
        "100 + 100",
        200,
    )
    assert (REGISTRY["wgan_gp"].batch_label(), REGISTRY["wgan_gp"].images_per_step()) == (
        "5 x 100",
        500,
    )
    assert REGISTRY["draw"].batch_size == 256 and REGISTRY["hu_dcgan"].batch_size == 128


@pytest.mark.parametrize("name", list(REGISTRY))
def test_every_registry_stream_gives_its_models_batches(name):
    """Each entry's stream, at a tiny batch, holds the images a step takes, in the layout its
    model's train_step reads."""
    entry, splits = REGISTRY[name], fake_splits(train=200, validation=0, test=10)
    batch = next(iter(entry.stream(splits, 2)))
    images = [t for t in tf.nest.flatten(batch) if t.shape.rank == 4]
    assert sum(int(t.shape[0]) for t in images) == entry.images_per_step(2)
    # the GAN family reads images in [-1, 1], every other model in [0, 1]
    symmetric = name in GAN_FAMILY
    for t in images:
        low, high = float(tf.reduce_min(t)), float(tf.reduce_max(t))
        assert t.dtype == tf.float32 and high <= 1.0
        assert (-1.0 <= low < 0.0) if symmetric else low >= 0.0
    assert callable(entry.build) and entry.title


# one model per family and per kind of stream, full size, one eager step on a tiny batch
# (the FC VAE's: `test_a_run_measures_each_model_in_a_process_of_its_own`)
REPRESENTATIVES = ("m2_fc", "m2_authors_fc", "cvae_gan_paper", "dfc_vae", "wgan_gp", "draw")


@pytest.mark.parametrize("name", REPRESENTATIVES)
def test_registry_builds_the_model_and_takes_one_step(name):
    entry, splits = REGISTRY[name], fake_splits(train=200, validation=0, test=10)
    training.set_seed(0)
    model = entry.build(splits)
    before = [np.array(v) for v in model.trainable_variables]
    logs = model.train_step(next(iter(entry.stream(splits, 2))))
    assert all(np.isfinite(float(value)) for value in logs.values())
    changed = [
        not np.array_equal(b, np.array(v))
        for b, v in zip(before, model.trainable_variables, strict=True)
    ]
    assert sum(changed) >= len(changed) // 2, f"{name}: {sum(changed)} of {len(changed)} moved"
    keras.backend.clear_session()


def test_unknown_model_names_are_refused_with_the_choices():
    with pytest.raises(ValueError, match="unknown model nope, m3; choose from vae_fc, vae_deconv"):
        benchmark.check_names(["vae_fc", "nope", "m3"], REGISTRY)
    assert benchmark.check_names(["m2_fc", "draw"], REGISTRY) == ("m2_fc", "draw")


def test_models_flag_with_an_unknown_name_is_a_one_line_usage_error(
    experiment, monkeypatch, capsys, tmp_path
):
    import common_flags

    entry_point = experiment("benchmark")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["benchmark.py", "--models=vae_fc,nope"])
    with pytest.raises(SystemExit) as refused:
        common_flags.run(entry_point.main)
    error = capsys.readouterr().err
    assert refused.value.code == 2 and error.count("\n") == 1, error
    assert error.startswith("usage error: --models: unknown model nope; choose from vae_fc, ")
    assert "evaluator_lenet" in error and not (tmp_path / "results").exists()


# -- FLOPs ----------------------------------------------------------------------------------------


def _spec(*shapes):
    return tuple(tf.TensorSpec(shape, tf.float32) for shape in shapes)


def test_flops_of_a_two_layer_dense_step_by_hand():
    batch, inputs, hidden, outputs = 8, 12, 7, 3
    model = keras.Sequential(
        [keras.Input((inputs,)), keras.layers.Dense(hidden), keras.layers.Dense(outputs)]
    )
    model.compile(optimizer="sgd", loss="mse")
    flops = benchmark.step_flops(model, _spec((batch, inputs), (batch, outputs)))
    first, second = 2 * batch * inputs * hidden, 2 * batch * hidden * outputs
    assert flops.forward == first + second
    # the first layer's weight gradient only (its input needs none), the second's weight and input
    assert flops.backward == first + 2 * second
    assert not flops.loops


def test_flops_of_a_small_conv_step_by_hand():
    batch, side, channels, filters, kernel, up_filters, up_kernel = 4, 6, 2, 3, 3, 5, 3
    model = keras.Sequential(
        [
            keras.Input((side, side, channels)),
            keras.layers.Conv2D(filters, kernel, padding="same"),
            keras.layers.Conv2DTranspose(up_filters, up_kernel, strides=2, padding="same"),
            keras.layers.Flatten(),
            keras.layers.Dense(1),
        ]
    )
    model.compile(optimizer="sgd", loss="mse")
    flops = benchmark.step_flops(model, _spec((batch, side, side, channels), (batch, 1)))
    # each output position of a convolution: kh * kw * c_in multiply-adds per output channel;
    # each input position of a transposed one scatters a kh x kw x c_out patch per input channel
    conv = 2 * batch * side * side * filters * kernel * kernel * channels
    transposed = 2 * batch * side * side * filters * up_kernel * up_kernel * up_filters
    dense = 2 * batch * (2 * side) * (2 * side) * up_filters
    assert flops.forward == conv + transposed + dense
    assert flops.backward == conv + 2 * transposed + 2 * dense


def test_unknown_shapes_cannot_be_counted():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(benchmark.UncountedOp, match="unknown at trace time"):
        benchmark.step_flops(model, _spec((None, 4), (None, 2)))


# -- timing ---------------------------------------------------------------------------------------


def _tiny_entry(build=None):
    def tiny(splits):
        from vaegan_tf.models.vae import VAEConfig, build_vae

        return build_vae(VAEConfig(hidden_units=(8,), latent_dim=2))

    return benchmark.BenchmarkModel(
        "tiny", "a tiny VAE", build or tiny, benchmark._images("unit"), 10
    )


def test_a_time_budget_stops_timing_after_the_fewest_steps():
    splits = fake_splits(train=200, validation=0, test=10)
    model = _tiny_entry().build(splits)
    stream = _tiny_entry().stream(splits, 10)
    times = benchmark.time_fit_steps(model, stream, steps=50, warmup=1, budget_seconds=1e-9)
    assert len(times.seconds) == 3 and times.finite and times.first_step_seconds > 0
    times = benchmark.time_fit_steps(model, stream, steps=4, warmup=0)
    assert len(times.seconds) == 4
    keras.backend.clear_session()


def test_the_step_outside_fit_trains_on_one_fixed_batch_and_is_timed():
    splits = fake_splits(train=200, validation=0, test=10)
    model = _tiny_entry().build(splits)
    stream = _tiny_entry().stream(splits, 10)
    before = [w.numpy().copy() for w in model.trainable_weights]
    seconds = benchmark.time_step_alone(model, stream, steps=3, warmup=0)
    assert seconds > 0
    assert any(  # the timed calls trained the model
        not np.allclose(a, w.numpy()) for a, w in zip(before, model.trainable_weights, strict=True)
    )
    assert model.optimizer.iterations.numpy() == 4  # the tracing call and three timed ones
    benchmark.time_step_alone(model, stream, steps=50, warmup=0, budget_seconds=1e-9, min_steps=2)
    assert model.optimizer.iterations.numpy() == 4 + 1 + 2  # a spent budget stops at min_steps
    keras.backend.clear_session()


def test_a_measurement_times_counts_and_records_failures_as_rows(monkeypatch):
    def traced_again(*args):
        raise AssertionError("the FLOPs are counted in the graph fit traced, not a second trace")

    monkeypatch.setattr(benchmark, "step_flops", traced_again)
    splits = fake_splits(train=200, validation=0, test=10)
    config = benchmark.BenchmarkConfig(steps=2, warmup=0)
    result = benchmark.measure(
        _tiny_entry(), splits, config, policy="float32", count_flops=True, step_alone=True
    )
    assert result["timed_steps"] == 2 and result["finite"]
    assert result["ms_per_step_outside_fit"] > 0
    assert result["images_per_second"] == pytest.approx(
        10 / (result["ms_per_step"] / 1000), rel=0.01
    )
    # encoder 784-8-(2 x 2), decoder 2-8-784, batch 10
    assert result["flops"]["forward"] == 2 * 10 * (784 * 8 + 8 * 4 + 2 * 8 + 8 * 784)

    def broken(splits):
        raise RuntimeError("cannot build\nsecond line")

    failed = benchmark.measure(_tiny_entry(broken), splits, config, policy="mixed_bfloat16")
    assert (
        failed["error"] == "RuntimeError: cannot build" and "second line" in failed["error_detail"]
    )
    assert keras.config.dtype_policy().name == "float32"  # the policy is restored after a failure


def test_a_run_measures_each_model_in_a_process_of_its_own(monkeypatch):
    monkeypatch.setattr(benchmark, "matmul_gflops", lambda dtype: 100.0)
    splits = fake_splits(train=200, validation=0, test=10)
    config = benchmark.BenchmarkConfig(
        models=("vae_fc",), steps=2, warmup=0, precision_sweep=False, xla_sweep=False
    )
    metrics = benchmark.run(config, splits, log=lambda line: None)
    (row,) = metrics["models"]
    assert set(row) == {"name", "title", "batch", "images_per_step", "float32", "wall_seconds"}
    assert row["float32"]["timed_steps"] == 2 and row["batch"] == "100"
    # counted in the child: the FC VAE's layers, encoder 784-200-200-(2 x 50), decoder
    # 50-200-200-784 (Sec. 4.4), batch 100; backward: all but the first layer's input gradient
    layers = [(784, 200), (200, 200), (200, 100), (50, 200), (200, 200), (200, 784)]
    forward = sum(2 * 100 * a * b for a, b in layers)
    assert row["float32"]["flops"]["forward"] == forward
    assert row["float32"]["flops"]["backward"] == 2 * forward - 2 * 100 * 784 * 200
    assert metrics["matmul_gflops"] == {"float32": 100.0, "bfloat16": 100.0}
    assert set(metrics["pipeline_images_per_second"]) == {"unit", "dynamic_binarize", "symmetric"}


def test_a_run_sweeps_precision_and_xla_and_keeps_failures_as_rows(monkeypatch):
    monkeypatch.setattr(benchmark, "matmul_gflops", lambda dtype: 100.0)
    splits = fake_splits(train=200, validation=0, test=10)
    config = benchmark.BenchmarkConfig(steps=2, warmup=0)

    def bf16_refused(splits):
        if keras.config.dtype_policy().name != "float32":
            raise TypeError("bfloat16 refused")
        return _tiny_entry().build(splits)

    registry = {"tiny": _tiny_entry(bf16_refused)}
    (row,) = benchmark.run(config, splits, log=lambda line: None, registry=registry)["models"]
    assert row["float32"]["timed_steps"] == 2 and row["xla"]["timed_steps"] == 2
    assert row["mixed_bfloat16"]["error"] == "TypeError: bfloat16 refused"
    assert "flops" in row["float32"] and "flops" not in row["xla"]


def test_error_lines_skip_keras_wrappers_and_colour():
    wrapped = ValueError(
        "Exception encountered when calling VAE.call().\n\n\x1b[1mcannot compute Mul as input #1 "
        "was expected to be a bfloat16 tensor\x1b[0m\n\nArguments received by VAE.call():"
    )
    assert benchmark.error_line(wrapped) == (
        "ValueError: cannot compute Mul as input #1 was expected to be a bfloat16 tensor"
    )
    traced = TypeError(
        'in user code:\n\n    File "step.py", line 3, in step  *\n        return f(x)\n\n'
        "    TypeError: Input 'y' of 'Mul' Op has type bfloat16 that does not match float32\n"
    )
    assert benchmark.error_line(traced) == (
        "TypeError: Input 'y' of 'Mul' Op has type bfloat16 that does not match float32"
    )
    assert benchmark.error_line(TypeError("x" * 500), limit=20) == "TypeError: xxxxxx..."


# -- the README -----------------------------------------------------------------------------------


def _metrics():
    return {
        "cpu": "Test CPU 9000",
        "matmul_gflops": {"float32": 192.0, "bfloat16": 384.0},
        "precision": "float32",
        "settings": {"steps": 40, "warmup": 3, "seconds": 6.0, "min_steps": 3},
        "models": [
            {
                "name": "m2_fc",
                "title": "M2 fc",
                "batch": "100 + 100",
                "images_per_step": 200,
                "float32": {
                    "ms_per_step": 157.0,
                    "images_per_second": 1273.9,
                    "timed_steps": 38,
                    "finite": True,
                    "flops": {"forward": 5_400_000_000, "backward": 10_800_000_000},
                },
                "mixed_bfloat16": {
                    "ms_per_step": 104.0,
                    "images_per_second": 1923.1,
                    "finite": True,
                },
                "xla": {"error": "InvalidArgumentError: XLA cannot compile"},
            },
            {
                "name": "vae_fc",
                "title": "VAE fc",
                "batch": "100",
                "images_per_step": 100,
                "float32": {
                    "ms_per_step": 10.0,
                    "images_per_second": 10000.0,
                    "finite": True,
                    "flops": {"forward": 100_000_000, "backward": 150_000_000},
                },
                "mixed_bfloat16": {
                    "ms_per_step": 8.0,
                    "images_per_second": 12500.0,
                    "finite": False,
                },
                "xla": {"ms_per_step": 20.0, "images_per_second": 5000.0, "finite": True},
            },
            {
                "name": "draw",
                "title": "DRAW",
                "batch": "256",
                "images_per_step": 256,
                "float32": {"error": "ResourceExhaustedError: out of memory"},
            },
        ],
        "pipeline_images_per_second": {"unit": 235030, "dynamic_binarize": 286817},
        "wall_seconds": 1500.0,
    }


def test_readme_table_holds_the_metrics_numbers(tmp_path):
    records.write_json(tmp_path / "metrics.json", _metrics())
    records.write_json(
        tmp_path / "environment.json",
        {
            "git_commit": "abc123",
            "git_dirty_at_start": [],
            "packages": {"tensorflow": "2.21.0"},
            "distribution": {"strategy": "MirroredStrategy", "devices": ["/gpu:0", "/gpu:1"]},
        },
    )
    readme = benchmark.write_readme(tmp_path).read_text()
    # 16.2 GFLOP in 0.157 s is 103 GFLOP/s, 54% of 192; bf16 157 / 104 = 1.51x
    assert "| m2_fc | 100 + 100 | 157.0 | 1,274 | 16.20 | 54% | 1.51x | fails [1] |" in readme
    assert "[1] m2_fc, XLA: InvalidArgumentError: XLA cannot compile" in readme
    # 0.25 GFLOP in 10 ms: 25 GFLOP/s, 13%; a NaN under bf16 is flagged; XLA twice as slow
    assert "| vae_fc | 100 | 10.0 | 10,000 | 0.25 | 13% | 1.25x [2] | 0.50x |" in readme
    assert "[2] vae_fc, mixed_bfloat16: a logged loss became NaN" in readme
    assert "| draw | 256 | fails [3] |" in readme
    assert "[3] draw: ResourceExhaustedError: out of memory" in readme
    assert readme.index("| m2_fc") < readme.index("| vae_fc") < readme.index("| draw")
    assert "Test CPU 9000" in readme and "192 GFLOP/s in float32, 384 GFLOP/s in bfloat16" in readme
    assert "ratios within one run" in readme and "`abc123`" in readme
    assert "MirroredStrategy over" in readme and "/gpu:1" in readme and "uncommitted" not in readme
    assert "Backward over forward FLOPs of the counted steps: 1.50 to 2.00" in readme
    # the slowest pipeline, 235,030 images/s, against the fastest model's 10,000
    assert "feeds 24x as many images" in readme
    # the full Table 1's kingma FC row: 3 seeds x (540 + 544 steps) x 100 epochs = 325,200 steps of
    # 157 ms (14.2 h) or 104 ms under bf16 (9.4 h); no other Table 1 model was timed, so no total
    assert "| kingma | fc | 6 | 100 | 14.2 | 9.4 |" in readme
    assert "all timed rows" not in readme
    assert benchmark.table1_hours(_metrics()).keys() == {("kingma", "fc")}
    # the reading: m2_fc at 54% of the peak is compute-bound, vae_fc at 13% overhead-bound
    assert "Compute-bound (at least 40% of the float32 matmul peak): `m2_fc` (54%)." in readme
    assert "Overhead-bound (under 25%): `vae_fc` (13%)." in readme
    assert (
        "matmul runs 2.00x as fast in bfloat16 as in float32 here, whole steps 1.25x to 1.51x "
        "(`m2_fc`)" in readme
    )
    assert "bfloat16 instructions" not in readme  # the fake run did not record them
    assert (
        "XLA (`jit_compile=True`) is faster than the default for no model and slower for 1 of 1"
        in (readme)
    )
    assert "outside fit" not in readme  # a run that did not time it keeps the table it had
    assert "HISTORY.md" not in readme
    (tmp_path / "HISTORY.md").write_text("how it was made fast")
    assert "[HISTORY.md](HISTORY.md)" in benchmark.write_readme(tmp_path).read_text()


def test_the_table_shows_what_fit_adds_to_a_step(tmp_path):
    metrics = _metrics()
    metrics["models"][0]["float32"]["ms_per_step_outside_fit"] = 141.3  # fit's 157.0, 10% more
    metrics["models"][1]["float32"]["outside_fit_error"] = "ValueError: no batch"
    header, rows, footnotes = benchmark.table_rows(metrics)
    assert header[2:5] == ["ms / step", "ms / step outside fit", "images / s"]
    assert [row[3] for row in rows] == ["141.3 (-10%)", "fails [3]", ""]
    assert footnotes[2] == "vae_fc, step outside fit: ValueError: no batch"
    assert all(len(row) == len(header) for row in rows)  # a failed row keeps every column
    records.write_json(tmp_path / "metrics.json", metrics)
    records.write_json(tmp_path / "environment.json", {"packages": {"tensorflow": "2.21.0"}})
    assert "what `fit` adds" in benchmark.write_readme(tmp_path).read_text()


def test_the_readme_says_whether_the_cpu_computes_in_bfloat16(tmp_path):
    environment = {
        "git_commit": "abc123",
        "git_dirty_at_start": [],
        "packages": {"tensorflow": "2.21.0"},
    }
    records.write_json(tmp_path / "environment.json", environment)
    for found, expected in [
        ([], "Test CPU 9000, without bfloat16 instructions (no avx512_bf16 or amx_bf16"),
        (["avx512_bf16", "amx_bf16"], "Test CPU 9000, with bfloat16 instructions (avx512_bf16, "),
    ]:
        records.write_json(
            tmp_path / "metrics.json", {**_metrics(), "cpu_bfloat16_instructions": found}
        )
        assert expected in benchmark.write_readme(tmp_path).read_text()


def test_cpu_bfloat16_instructions_reads_the_flags_line():
    flags = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16 amx_tile amx_bf16\n"
    assert records.cpu_bfloat16_instructions(flags) == ["avx512_bf16", "amx_bf16"]
    assert records.cpu_bfloat16_instructions("flags\t: fpu sse2 avx2 fma\n") == []
    # avx512_bf16 as part of another word does not count; no flags line: unknown
    assert records.cpu_bfloat16_instructions("flags\t: avx512_bf16x\n") == []
    assert records.cpu_bfloat16_instructions("Features\t: fp asimd bf16\n") is None
