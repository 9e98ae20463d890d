"""Throughput, measured as images per second after warm-up (tracing excluded),
the median over many steps. Two numbers per model: the input pipeline alone, and `fit` end to end."""

from __future__ import annotations

import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from vaegan_tf import records

WARMUP_STEPS = 20  # steps dropped before timing: tracing and the first allocations


class StepTimer(keras.callbacks.Callback):
    """Wall time between consecutive batch ends: one full training step each, data included."""

    def __init__(self):
        super().__init__()
        self.ends = []

    def on_train_batch_end(self, batch, logs=None):
        self.ends.append(time.perf_counter())


def pipeline_images_per_second(
    dataset: tf.data.Dataset, batch_size: int, steps: int = 300, warmup: int = WARMUP_STEPS
) -> float:
    """Median rate at which `dataset` yields batches, without a model."""
    iterator, stamps = iter(dataset), []
    for _ in range(warmup + steps):
        next(iterator)
        stamps.append(time.perf_counter())
    return batch_size / float(np.median(np.diff(stamps[warmup:])))


def training_images_per_second(
    model: keras.Model,
    dataset: tf.data.Dataset,
    batch_size: int,
    steps: int = 300,
    warmup: int = WARMUP_STEPS,
) -> float:
    """Median rate of `fit` steps once traced (the first `warmup` steps are dropped)."""
    timer = StepTimer()
    model.fit(
        dataset,
        epochs=1,
        steps_per_epoch=warmup + steps,
        callbacks=[timer],
        verbose=0,
        shuffle=False,
    )
    return batch_size / float(np.median(np.diff(timer.ends[warmup:])))


def write_readme(out: Path) -> Path:
    """README.md of a `make benchmark` run, from the metrics.json and environment.json in `out`."""
    metrics, env = (
        records.read_json(Path(out) / f"{name}.json") for name in ("metrics", "environment")
    )
    placement = env.get("distribution") or {}
    devices = ", ".join(placement.get("devices", env.get("devices", [])))
    dirty = " (the tree had uncommitted changes)" if env.get("git_dirty_at_start") else ""
    rows = [
        f"| training, {name} | {rate:,} |"
        for name, rate in metrics["training_images_per_second"].items()
    ]
    rows += [
        f"| input pipeline alone, {mode} | {rate:,} |"
        for mode, rate in metrics["pipeline_images_per_second"].items()
    ]
    text = "\n".join(
        [
            "# benchmark: training and input-pipeline throughput",
            "",
            f"Produced by `make benchmark` at commit `{env.get('git_commit')}`{dirty} with "
            f"{placement.get('strategy', 'the default strategy')} over {devices}, TensorFlow "
            f"{env.get('packages', {}).get('tensorflow')}; machine and versions in environment.json.",
            "",
            f"Median images per second over {metrics['timed_steps']} steps of batch {metrics['batch_size']}, after "
            f"{WARMUP_STEPS} warm-up steps (tracing excluded). Training is `fit` end to end, input pipeline included; the pipeline "
            "alone is the `tf.data` stream (cache, shuffle, preprocessing, prefetch) without a model.",
            "",
            "| what | images / s |",
            "|---|---|",
            *rows,
            "",
            _reading(metrics),
            "",
            *(
                [
                    "How the training steps were made fast, as measured then: [HISTORY.md](HISTORY.md).",
                    "",
                ]
                if (Path(out) / "HISTORY.md").is_file()
                else []
            ),
        ]
    )
    (Path(out) / "README.md").write_text(text)
    return Path(out) / "README.md"


def _reading(metrics: dict) -> str:
    """Whether training waits for its input, from the slowest pipeline against the fastest model."""
    pipeline = min(metrics["pipeline_images_per_second"].values())
    training = max(metrics["training_images_per_second"].values())
    if pipeline > 2 * training:
        return (
            f"**Reading:** the slowest input pipeline feeds {pipeline / training:.0f}x as many images as the "
            "fastest model trains on: training is bound by the model's compute, not by its input."
        )
    return (
        f"**Reading:** the slowest input pipeline ({pipeline:,} images/s) is within a factor of two of the "
        f"fastest model ({training:,} images/s): input may hold training back."
    )
