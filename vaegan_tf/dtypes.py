"""The precisions the suite trains in: Keras dtype policies set while a model is built.

`float32` is every document's. `mixed_bfloat16` (Keras' mixed precision: layers compute in
bfloat16, variables and optimizer state stay float32) is a speed option for CPUs with bfloat16
units (AVX-512 BF16, AMX) and for accelerators; the models keep what bfloat16 would spoil in
float32: each sub-network's output (`models.layers.Network`), the distributions, the losses and
the recurrent state of DRAW. A run trained in bfloat16 is a different run from the float32 one:
it never resumes or reuses the other's weights (`training.RunConfig.precision`)."""

from __future__ import annotations

import contextlib

import keras

PRECISIONS = ("float32", "mixed_bfloat16")


@contextlib.contextmanager
def dtype_policy(precision: str):
    """Keras' global dtype policy set to `precision` (one of PRECISIONS) inside the block: the
    layers built there keep it."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(precision)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)
