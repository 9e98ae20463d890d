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


def slow_bfloat16_warning(
    precision: str, cpu_instructions: list[str] | None, accelerators: int
) -> str | None:
    """What a `mixed_bfloat16` run is told on a machine where bfloat16 cannot be fast: no GPU or
    TPU (`accelerators`) and a CPU without bfloat16 instructions (`cpu_instructions`, from
    `records.cpu_bfloat16_instructions`; None, unreadable, gives no warning). There oneDNN converts
    each bfloat16 operand to float32 and back, so the run costs more than float32 for the same
    numerical effect of bfloat16's rounding; it still answers what bfloat16 does to quality."""
    if precision != "mixed_bfloat16" or accelerators or cpu_instructions is None:
        return None
    if cpu_instructions:
        return None
    return (
        "warning: this machine has no GPU and its CPU no bfloat16 instructions (AVX-512 BF16 or "
        "AMX), so mixed_bfloat16 is emulated here and trains slower than float32; it still shows "
        "what bfloat16 does to the result. For speed, drop --precision (float32) or run it on a "
        "CPU with AVX-512 BF16 or AMX, or a GPU; `make benchmark` times both precisions here."
    )
