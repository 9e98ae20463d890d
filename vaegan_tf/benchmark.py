"""Throughput, measured the way REFERENCE-NOTES asks: images per second after warm-up (tracing excluded),
the median over many steps. Two numbers per model: the input pipeline alone, and `fit` end to end."""

from __future__ import annotations

import time

import keras
import numpy as np
import tensorflow as tf


class StepTimer(keras.callbacks.Callback):
    """Wall time between consecutive batch ends: one full training step each, data included."""

    def __init__(self):
        super().__init__()
        self.ends = []

    def on_train_batch_end(self, batch, logs=None):
        self.ends.append(time.perf_counter())


def pipeline_images_per_second(dataset: tf.data.Dataset, batch_size: int, steps: int = 300,
                               warmup: int = 20) -> float:
    """Median rate at which `dataset` yields batches, without a model."""
    iterator, stamps = iter(dataset), []
    for _ in range(warmup + steps):
        next(iterator)
        stamps.append(time.perf_counter())
    return batch_size / float(np.median(np.diff(stamps[warmup:])))


def training_images_per_second(model: keras.Model, dataset: tf.data.Dataset, batch_size: int,
                               steps: int = 300, warmup: int = 20) -> float:
    """Median rate of `fit` steps once traced (the first `warmup` steps are dropped)."""
    timer = StepTimer()
    model.fit(dataset, epochs=1, steps_per_epoch=warmup + steps, callbacks=[timer], verbose=0, shuffle=False)
    return batch_size / float(np.median(np.diff(timer.ends[warmup:])))
