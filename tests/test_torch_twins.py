"""`make benchmark`'s PyTorch twins (`vaegan_tf.torch_twins`): each twin has the suite model's
trainable parameters, takes a step that moves its weights, is timed as the suite is, and shows in
the README's table; without PyTorch its cell says so. Tiny batches; the suite's models are built
(no step) only to count their parameters."""

import sys

import keras
import numpy as np
import pytest
from conftest import fake_splits

from vaegan_tf import benchmark, records

torch = pytest.importorskip("torch")
torch_twins = pytest.importorskip("vaegan_tf.torch_twins")

REGISTRY = benchmark.models()


def test_the_registry_marks_exactly_the_twinned_models():
    assert set(torch_twins.TWINS) == set(benchmark.TWINNED) == {"m2_fc", "cvae_conv", "dcgan"}
    assert {name for name, entry in REGISTRY.items() if entry.torch_twin} == set(torch_twins.TWINS)


@pytest.mark.parametrize("name", list(torch_twins.TWINS))
def test_a_twin_has_the_suite_models_parameters_and_its_step_trains(name):
    entry, splits = REGISTRY[name], fake_splits(train=200, validation=0, test=10)
    model = entry.build(splits)
    suite = sum(int(np.prod(v.shape)) for v in model.trainable_variables)
    keras.backend.clear_session()
    twin = torch_twins.build_twin(name, batch_size=4)
    assert torch_twins.trainable_parameters(twin) == suite
    assert len([p for p in twin.parameters() if p.requires_grad]) == len(model.trainable_variables)
    # the images of one step: M2's labelled + unlabelled batch, the GAN's critic batches
    assert twin.images_per_step == entry.images_per_step(4)
    batch = twin.make_batch(torch.Generator().manual_seed(0))
    assert sum(t.shape[0] for t in batch if t.dim() == 4) == entry.images_per_step(4)
    before = [p.detach().clone() for p in twin.parameters()]
    loss = twin.train_step(batch)
    assert np.isfinite(float(loss))
    moved = [not torch.equal(b, p) for b, p in zip(before, twin.parameters(), strict=True)]
    assert all(moved), f"{name}: {sum(moved)} of {len(moved)} parameters moved"


def test_paddings_make_the_sides_keras_makes():
    # 'same' stride 2: 2n; stride 1: n; 'valid': (n - 1) * stride + kernel
    for kernel, stride, padding, side, expected in [
        (5, 2, "same", 7, 14),
        (5, 1, "same", 28, 28),
        (4, 2, "same", 7, 14),
        (5, 2, "valid", 7, 17),
    ]:
        layer = torch_twins.deconv(1, 1, kernel, stride, bias=False, padding=padding)
        assert layer(torch.zeros(1, 1, side, side)).shape[-1] == expected
    for side in (28, 14, 7):
        layer = torch_twins.conv(1, 1, 5, 2, bias=False)
        assert layer(torch.zeros(1, 1, side, side)).shape[-1] == -(-side // 2)


def test_time_twin_times_steps_with_tensorflows_threads(monkeypatch):
    monkeypatch.setenv("TF_NUM_INTRAOP_THREADS", "1")
    threads = torch.get_num_threads()
    try:
        result = torch_twins.time_twin(
            "cvae_conv", steps=3, warmup=1, seconds=60.0, min_steps=3, seed=0, batch_size=8
        )
    finally:
        torch.set_num_threads(threads)
    assert result["timed_steps"] == 3 and result["threads"] == 1 and result["finite"]
    assert result["ms_per_step"] > 0 and result["images_per_second"] > 0
    assert result["images_per_second"] == pytest.approx(
        8 / (result["ms_per_step"] / 1000), rel=0.01
    )
    monkeypatch.delenv("TF_NUM_INTRAOP_THREADS")
    assert torch_twins.tensorflow_threads() >= 1


def _metrics():
    def timing(ms, images):
        return {"ms_per_step": ms, "images_per_second": round(images / ms * 1000, 1)}

    return {
        "cpu": "Test CPU",
        "matmul_gflops": {"float32": 100.0, "bfloat16": 200.0},
        "precision": "float32",
        "settings": {"steps": 30, "warmup": 2, "seconds": 5.0, "min_steps": 3},
        "models": [
            {
                "name": "m2_fc",
                "title": "M2 fc",
                "batch": "100 + 100",
                "float32": {**timing(100.0, 200), "finite": True},
                "pytorch": {**timing(85.0, 200), "threads": 2, "finite": True},
            },
            {
                "name": "vae_fc",
                "title": "VAE fc",
                "batch": "100",
                "float32": {**timing(10.0, 100), "finite": True},
            },
            {
                "name": "dcgan",
                "title": "DCGAN",
                "batch": "100",
                "float32": {**timing(50.0, 100), "finite": True},
                "pytorch": {"error": benchmark.TORCH_MISSING},
            },
        ],
        "pipeline_images_per_second": {},
    }


def test_the_table_shows_the_twins_images_per_second_and_the_ratio(tmp_path):
    header, rows, footnotes = benchmark.table_rows(_metrics())
    assert header[-1] == "PyTorch twin" and all(len(row) == len(header) for row in rows)
    # the suite at 100 ms, the twin at 85 ms for 200 images: 2,353 images/s, suite 0.85x
    assert rows[0][-1] == "2,353 (0.85x)"
    assert rows[1][-1] == ""  # no twin
    assert rows[2][-1] == "fails [1]" and footnotes == [
        f"dcgan, PyTorch twin: {benchmark.TORCH_MISSING}"
    ]
    records.write_json(tmp_path / "metrics.json", _metrics())
    records.write_json(
        tmp_path / "environment.json",
        {"git_commit": "abc123", "packages": {"tensorflow": "2.21.0"}},
    )
    readme = benchmark.write_readme(tmp_path).read_text()
    assert "| 2,353 (0.85x) |" in readme and "as many threads as TensorFlow uses (2 here)" in readme
    assert "the suite at 1.2x its twin or more" in readme
    # the reading names the twin that misses the goal
    assert "The goal of 1.2x is not met by `m2_fc`." in readme
    # a run without twins keeps the table it had
    plain = _metrics()
    for row in plain["models"]:
        row.pop("pytorch", None)
    assert "PyTorch twin" not in benchmark.table_rows(plain)[0]


def test_without_torch_the_twins_cell_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    config = benchmark.BenchmarkConfig(steps=1, warmup=0, precision_sweep=False, xla_sweep=False)
    assert benchmark.measure_twin(REGISTRY["dcgan"], config) == {"error": benchmark.TORCH_MISSING}
    assert benchmark._keys(config, REGISTRY["dcgan"]) == ["float32", "pytorch"]
    assert benchmark._keys(config, REGISTRY["vae_fc"]) == ["float32"]
    off = benchmark.BenchmarkConfig(torch_twin=False)
    assert "pytorch" not in benchmark._keys(off, REGISTRY["dcgan"])

    # through `measure_model`: the suite's own measurement stubbed, the twin's key still yielded
    def measured(entry, splits, config, **kwargs):
        return {"ms_per_step": 1.0}

    monkeypatch.setattr(benchmark, "measure", measured)
    results = dict(benchmark.measure_model(REGISTRY["dcgan"], None, config))
    assert results == {
        "float32": {"ms_per_step": 1.0},
        "pytorch": {"error": benchmark.TORCH_MISSING},
    }
