"""Speed of every model of the suite, measured side by side in one run (`make benchmark`).

Per model (`models()`, the registry: each model's training step at its paper batch, built from the
presets and configs its study trains, fed by the stream its study trains on):
- ms per step and images per second: the median of timed `fit` steps after warm-up (tracing
  excluded), the input pipeline included (`time_fit_steps`). A measurement stops after `steps`
  timed steps or `seconds` of them, whichever comes first, so slow models get fewer timed steps.
- FLOPs per step, counted in the graph `fit` traced for the timed step (`fit_step_graphs`,
  `graph_flops`): every matrix multiplication and convolution of it that runs (ops the function
  prunes are left out), forward and backward, at their static shapes (2 * m * n * k for a matmul,
  2 * output positions * kh * kw * c_in for a convolution and for each of its two gradients),
  the layers' shapes as the step calls them, as often as it calls them. The usual estimate, 3x the forward pass, assumes every layer
  computes both gradients; counting the graph gives what the step does (no input gradient for the
  first layer, none through frozen or stopped paths, a gradient penalty's double backward, M2's
  shared first layer, which bypasses its Dense layer). Element-wise ops, batch norm, the
  distributions and the optimizer are not counted: they cost memory traffic, not matmul FLOPs.
- The fraction of this CPU's float32 matmul speed the step reaches: FLOPs / step time over the
  GFLOP/s of a large square `tf.matmul` measured in the same run (`matmul_gflops`, float32 and
  bfloat16).
- bf16 speed-up: float32 step time over the step time of the same model built under Keras'
  `mixed_bfloat16` policy (`precision`); a model whose distributions, concatenations or losses do
  not take bfloat16 records the error instead of a time.
- XLA speed-up: the step time without over the step time with `jit_compile=True`; a model XLA
  cannot compile records the error.
- PyTorch twin (`vaegan_tf.torch_twins`, for the models `TWINNED` names: the FC M2, the conv
  CVAE, DCGAN): the same step written in PyTorch (layers, batch, losses, optimizer), timed in the
  same process the same way, with as many threads as TensorFlow uses; the table gives its images
  per second and the suite's speed over it (issue 15's goal: the suite at 1.2x its twin or more).
  PyTorch is the optional `[bench]` extra; without it the twin's cell records that.

Each model is measured in a process of its own (`measure_isolated`). Speeds are ratios within one
run: the CPU is whatever else the machine runs. `write_readme` renders results/benchmark/README.md
from the run's metrics.json alone.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import importlib
import math
import multiprocessing
import re
import time
from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from vaegan_tf import data, dtypes, records
from vaegan_tf.dtypes import PRECISIONS

WARMUP_STEPS = 20  # steps dropped before timing: tracing and the first allocations
TWIN_KEY = "pytorch"  # a row's key for its PyTorch twin's timing
TWIN_GOAL = 1.2  # the suite's images/s over its twin's that the performance issue asks for
TORCH_MISSING = "PyTorch not installed: pip install -e '.[bench]'"


# -- timing ---------------------------------------------------------------------------------------


class StepTimer(keras.callbacks.Callback):
    """Wall time between consecutive batch ends: one full training step each, data included. With
    `budget_seconds`, stops `fit` once the steps after the first `warmup` have taken that long (and
    there are at least `min_steps` of them)."""

    def __init__(self, warmup: int = 0, budget_seconds: float | None = None, min_steps: int = 3):
        super().__init__()
        self.ends = []
        self.started = None
        self.warmup, self.budget_seconds, self.min_steps = warmup, budget_seconds, min_steps

    def on_train_begin(self, logs=None):
        self.started = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.ends.append(time.perf_counter())
        timed = len(self.ends) - 1 - self.warmup  # steps whose start and end are both past warm-up
        if (
            self.budget_seconds is not None
            and timed >= self.min_steps
            and self.ends[-1] - self.ends[self.warmup] >= self.budget_seconds
        ):
            self.model.stop_training = True


@dataclasses.dataclass(frozen=True)
class StepTimes:
    """What `time_fit_steps` measured: each timed step's seconds, the first step's (tracing and
    compilation included) and whether every logged value stayed finite."""

    seconds: tuple[float, ...]
    first_step_seconds: float
    finite: bool

    @property
    def median(self) -> float:
        return float(np.median(self.seconds))


def time_fit_steps(
    model: keras.Model,
    dataset: tf.data.Dataset,
    steps: int = 300,
    warmup: int = WARMUP_STEPS,
    budget_seconds: float | None = None,
    min_steps: int = 3,
) -> StepTimes:
    """Times `fit` on `dataset`: the first step (it traces the step) and `warmup` more dropped, then
    up to `steps` timed steps, fewer if they take more than `budget_seconds` (at least
    `min_steps`)."""
    timer = StepTimer(warmup, budget_seconds, min(min_steps, steps))
    history = model.fit(
        dataset,
        epochs=1,
        steps_per_epoch=warmup + steps + 1,  # + 1: `steps` intervals between batch ends
        callbacks=[timer],
        verbose=0,
        shuffle=False,
    )
    finite = all(np.all(np.isfinite(values)) for values in history.history.values())
    return StepTimes(
        tuple(float(s) for s in np.diff(timer.ends[warmup:])),
        timer.ends[0] - timer.started,
        bool(finite),
    )


def time_step_alone(
    model: keras.Model,
    dataset: tf.data.Dataset,
    steps: int,
    warmup: int = WARMUP_STEPS,
    budget_seconds: float | None = None,
    min_steps: int = 3,
) -> float:
    """Median seconds of `model`'s train step outside `fit`: its own `tf.function` over
    `strategy.run(train_step)`, called on one batch of `dataset` held fixed, each call waited for.
    No input pipeline, callbacks or per-step work of `fit`: set beside `time_fit_steps`, what `fit`
    adds to a step."""
    batch = next(iter(dataset))
    strategy = model.distribute_strategy
    step = tf.function(lambda data: strategy.run(model.train_step, args=(data,)))

    def call():
        keras.tree.map_structure(np.asarray, step(batch))  # waits for the step's results

    for _ in range(1 + warmup):  # the first call traces
        call()
    seconds = []
    while len(seconds) < max(steps, 1) and (
        len(seconds) < min_steps or budget_seconds is None or sum(seconds) < budget_seconds
    ):
        started = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - started)
    return float(np.median(seconds))


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
    budget_seconds: float | None = None,
) -> float:
    """Median rate of `fit` steps once traced (the first `warmup` steps are dropped)."""
    times = time_fit_steps(model, dataset, steps, warmup, budget_seconds)
    return batch_size / times.median


def matmul_gflops(dtype=tf.float32, size: int = 2048, seconds: float = 2.0) -> float:
    """GFLOP/s of this CPU on a `size` x `size` `tf.matmul` in `dtype` (2 size^3 FLOPs each): the
    median over repeats for about `seconds`, after one untimed product."""
    a = tf.random.stateless_normal((size, size), seed=(0, 1), dtype=tf.float32)
    b = tf.random.stateless_normal((size, size), seed=(0, 2), dtype=tf.float32)
    a, b = tf.cast(a, dtype), tf.cast(b, dtype)
    product = tf.function(lambda: tf.reduce_sum(tf.cast(tf.matmul(a, b)[0, :1], tf.float32)))
    product().numpy()
    times, started = [], time.perf_counter()
    while len(times) < 3 or (time.perf_counter() - started < seconds and len(times) < 50):
        begin = time.perf_counter()
        product().numpy()  # .numpy(): waits for the product
        times.append(time.perf_counter() - begin)
    return 2 * size**3 / float(np.median(times)) / 1e9


# -- FLOPs ------------------------------------------------------------------------------------------

_CONVOLUTIONS = ("Conv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter")


class UncountedOp(ValueError):
    """A matmul or convolution whose shapes are not static: its FLOPs cannot be counted."""


def _static(shape: tf.TensorShape, op) -> list[int]:
    if not shape.is_fully_defined():
        raise UncountedOp(f"{op.type} {op.name} has a shape unknown at trace time: {shape}")
    return shape.as_list()


def op_flops(op) -> int:
    """FLOPs of one graph op: 2 m n k for a (batched) matmul, 2 * output positions * kh * kw *
    c_in for a 2-D convolution and for each of its gradients (the same products, reordered); 0
    for any other op."""
    if op.type == "MatMul":
        m, n = _static(op.outputs[0].shape, op)
        a = _static(op.inputs[0].shape, op)
        return 2 * m * n * (a[0] if op.get_attr("transpose_a") else a[1])
    if op.type in ("BatchMatMul", "BatchMatMulV2", "BatchMatMulV3"):
        a = _static(op.inputs[0].shape, op)
        inner = a[-2] if op.get_attr("adj_x") else a[-1]
        return 2 * math.prod(_static(op.outputs[0].shape, op)) * inner
    if op.type in _CONVOLUTIONS:
        if op.get_attr("data_format") != b"NHWC":
            raise UncountedOp(f"{op.type} {op.name} is not NHWC")
        if op.type == "Conv2D":
            output, kernel = op.outputs[0].shape, op.inputs[1].shape
        elif op.type == "Conv2DBackpropInput":
            output, kernel = op.inputs[2].shape, op.inputs[1].shape
        else:  # the kernel's shape is an input tensor, constant at trace time
            output, kernel = op.inputs[2].shape, op.outputs[0].shape
        height, width, channels_in, _ = _static(kernel, op)
        return 2 * math.prod(_static(output, op)) * height * width * channels_in
    return 0


@dataclasses.dataclass(frozen=True)
class StepFlops:
    """FLOPs of a traced step: `forward` (ops outside the gradient tape) and `backward` (the ops
    `tape.gradient` built, named gradient_tape/...); `loops` says whether a while loop's body was
    counted once whatever its trip count (the total is then a lower bound)."""

    forward: int
    backward: int
    loops: bool = False

    @property
    def total(self) -> int:
        return self.forward + self.backward


def _function_graphs(op) -> list[list]:
    """The graphs of the functions an op calls, grouped: one group per alternative (the branches
    of a conditional), else one group of all."""
    groups = []
    for name, value in op.node_def.attr.items():
        names = [value.func.name] if value.HasField("func") else [f.name for f in value.list.func]
        graphs = [op.graph._get_function(n).graph for n in names if n]
        if graphs:
            groups.append((name, graphs))
    if op.type in ("If", "StatelessIf", "Case", "StatelessCase"):
        return [[graph] for _, graphs in groups for graph in graphs]
    return [[graph for _, graphs in groups for graph in graphs]] if groups else []


def _executed(graph) -> list:
    """The ops of `graph` that run: those its outputs, control outputs and stateful ops (variable
    updates) depend on. The rest, such as the input gradient TensorFlow builds for a first
    convolution, is pruned before the function runs."""
    roots = [t.op for t in graph.outputs] + list(graph.control_outputs)
    roots += [op for op in graph.get_operations() if op._is_stateful]
    seen, stack = set(), list(roots)
    while stack:
        op = stack.pop()
        if op in seen:
            continue
        seen.add(op)
        stack.extend(t.op for t in op.inputs)
        stack.extend(op.control_inputs)
    return [op for op in graph.get_operations() if op in seen]


def graph_flops(graph) -> StepFlops:
    """`op_flops` summed over the ops of a function graph that run and over the functions they
    call (a conditional: its most costly branch, an upper bound of the one taken)."""
    forward = backward = 0
    loops = False
    for op in _executed(graph):
        flops = op_flops(op)
        if op.type in ("While", "StatelessWhile"):
            loops = True
        alternatives = [[graph_flops(nested) for nested in group] for group in _function_graphs(op)]
        if alternatives:
            costs = [
                StepFlops(
                    sum(c.forward for c in group),
                    sum(c.backward for c in group),
                    any(c.loops for c in group),
                )
                for group in alternatives
            ]
            chosen = max(costs, key=lambda c: c.total)
            forward, backward = forward + chosen.forward, backward + chosen.backward
            loops = loops or any(c.loops for c in costs)
        elif op.name.startswith("gradient_tape/") or "/gradient_tape/" in op.name:
            backward += flops
        else:
            forward += flops
    return StepFlops(forward, backward, loops)


def step_flops(model: keras.Model, element_spec) -> StepFlops:
    """FLOPs of one `model.train_step` on batches of `element_spec` (static shapes: whole
    batches), counted in a graph traced as `fit` traces it (through the model's strategy). Tracing
    builds the optimizer if it was not yet, and updates nothing."""
    strategy = model.distribute_strategy
    step = tf.function(lambda batch: strategy.run(model.train_step, args=(batch,)))
    return graph_flops(step.get_concrete_function(element_spec).graph)


@contextlib.contextmanager
def fit_step_graphs(model: keras.Model):
    """Yields a list that receives each graph `fit` traces `model.train_step` into while the block
    runs: the step `fit` times, counted without tracing it a second time (`graph_flops`)."""
    graphs, original = [], model.train_step

    def recording(batch):
        graphs.append(tf.compat.v1.get_default_graph())
        return original(batch)

    model.train_step = recording  # what `fit` reads when it makes its train function
    try:
        yield graphs
    finally:
        del model.train_step


# -- the registry -------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class BenchmarkModel:
    """One model's training step as its study trains it. `build(splits)` makes the full-size,
    compiled model (splits give the image shape); `stream(splits, batch_size)` the endless
    training stream with `batch_size` per part of a step; `parts` batches make one step (M2's
    labelled and unlabelled batch, a GAN's critic steps); `batch_size` is the paper's."""

    name: str
    title: str  # what it is and where its config comes from
    build: Callable[[data.DatasetSplits], keras.Model]
    stream: Callable[[data.DatasetSplits, int], tf.data.Dataset]
    batch_size: int
    parts: int = 1
    layout: str = "single"  # "single", "mixed" (labelled + unlabelled) or "critic" (k batches)
    torch_twin: bool = False  # `vaegan_tf.torch_twins` has its PyTorch twin (`TWINNED`)

    def images_per_step(self, batch_size: int | None = None) -> int:
        return (batch_size or self.batch_size) * self.parts

    def batch_label(self) -> str:
        """The step's batch as the table shows it: 100, 100 + 100, 5 x 100."""
        if self.layout == "mixed":
            return f"{self.batch_size} + {self.batch_size}"
        if self.layout == "critic" and self.parts > 1:
            return f"{self.parts} x {self.batch_size}"
        return str(self.batch_size)


def _images(preprocessing: str, parts: int = 1, transform=None):
    """A stream of `parts * batch_size` images per step, shuffled, whole batches."""

    def stream(splits: data.DatasetSplits, batch_size: int) -> tf.data.Dataset:
        batches = data.pipeline(
            splits.train,
            batch_size=parts * batch_size,
            preprocessing=preprocessing,
            shuffle=True,
            seed=0,
            drop_remainder=True,
        )
        return batches if transform is None else batches.map(transform)

    return stream


LABELS = 1000  # Table 1's larger labelled set: every semi-supervised model is timed with it
# the models with a PyTorch twin (`vaegan_tf.torch_twins.TWINS`, which needs torch to import)
TWINNED = ("m2_fc", "cvae_conv", "dcgan")


def _ssl_study(splits: data.DatasetSplits, batch_size: int):
    from vaegan_tf.studies import table1

    # a small split (a test's fake data) gets as many labels as it can spare, balanced
    labels = min(LABELS, len(splits.train) // 2 // splits.num_classes * splits.num_classes)
    study = table1.SSLStudyConfig(
        num_labelled=labels, batch_size=batch_size, labelled_batch_size=batch_size
    )
    labelled, unlabelled = table1.split_labels(splits, labels, seed=0)
    return table1, study, labelled, unlabelled


def _mixed_stream(splits, batch_size):
    """Table 1's kingma stream: a labelled and an unlabelled batch per step."""
    table1, study, labelled, unlabelled = _ssl_study(splits, batch_size)
    return table1.mixed_stream(labelled, unlabelled, study)


def _alternating_stream(splits, batch_size):
    """Table 1's authors_code stream: each epoch's labelled batches, then its unlabelled ones."""
    table1, study, labelled, unlabelled = _ssl_study(splits, batch_size)
    return table1.alternating_stream(labelled, unlabelled, study)[0]


def _table1_model(architecture: str, protocol: str):
    def build(splits):
        from vaegan_tf.studies import table1

        config = table1.for_cell(
            table1.preset(architecture, protocol, LABELS), LABELS, 55_000, seed=0
        )
        return table1.builder(config)(config)

    return build


def _vae(config):
    def build(splits):
        from vaegan_tf.models.vae import build_vae

        return build_vae(config)

    return build


def _gan(config):
    def build(splits):
        from vaegan_tf.models.gan import build_gan

        return build_gan(config)

    return build


def _cvae_conv(splits):
    from vaegan_tf.models.cvae import build_cvae
    from vaegan_tf.studies import figure6

    return build_cvae(figure6.model_config_for(figure6.Figure6Config(), splits))


def _left_half_condition(images, labels):
    from vaegan_tf.studies import figure8_9

    return images, figure8_9.flat_left_half(images)


def _cvae_fc(splits):
    from vaegan_tf.models.cvae import build_cvae
    from vaegan_tf.studies import figure8_9

    height, width, channels = splits.image_shape
    return build_cvae(
        dataclasses.replace(
            figure8_9.FC_CVAE,
            image_shape=splits.image_shape,
            condition_dim=height * (width // 2) * channels,
        )
    )


def _cvae_gan(preset: str):
    def build(splits):
        from vaegan_tf.models.cvae_gan import build_cvae_gan
        from vaegan_tf.studies import figure7

        config = figure7.model_config_for(figure7.Figure7Config(preset=preset), splits)
        return build_cvae_gan(config)

    return build


def _vae_gan(splits):
    from vaegan_tf.models.vae_gan import VAEGANConfig, build_vae_gan

    return build_vae_gan(VAEGANConfig())


def _dfc_vae(splits):
    from vaegan_tf.models.dfc_vae import DFCVAEConfig, build_dfc_vae, build_perceptual_network

    # the fixed network untrained: its weights change nothing of the step's cost
    fixed = build_perceptual_network(splits.image_shape, splits.num_classes)
    return build_dfc_vae(DFCVAEConfig(), fixed)


def _draw(run_name: str):
    def build(splits):
        from vaegan_tf.models import draw
        from vaegan_tf.studies import figure10

        return draw.build_draw(figure10.RUNS[run_name].model)

    return build


def _draw_gan(preset: str):
    def build(splits):
        from vaegan_tf.models import draw
        from vaegan_tf.studies import figure11

        return draw.build_draw_gan(figure11.PRESETS[preset][0])

    return build


def _evaluator(splits):
    from vaegan_tf import evaluate

    return evaluate.build_classifier(image_shape=splits.image_shape, num_classes=splits.num_classes)


def models() -> dict[str, BenchmarkModel]:
    """Every model of the suite, by name, in the order the table lists them."""
    from vaegan_tf.models import course_reports, gan
    from vaegan_tf.models.vae import VAEConfig
    from vaegan_tf.studies import course_reports as course_study
    from vaegan_tf.studies import figure10, figure11

    entries = [
        BenchmarkModel(
            "vae_fc",
            "VAE, FC 2 x 200 softplus, z = 50 (Sec. 4.4; make vae)",
            _vae(VAEConfig()),
            _images("dynamic_binarize"),
            100,
        ),
        BenchmarkModel(
            "vae_deconv",
            "VAE, FC encoder + Sec. 4.3 conv decoder (make vaegan's same-network baseline)",
            _vae(VAEConfig(decoder="deconv")),
            _images("unit"),
            100,
        ),
        BenchmarkModel(
            "cvae_conv",
            "CVAE, conv (Sec. 4.3; make figure6)",
            _cvae_conv,
            _images("unit"),
            100,
        ),
        BenchmarkModel(
            "cvae_fc",
            "CVAE, FC on the left half (Sec. 4.4; make figure8)",
            _cvae_fc,
            _images("unit", transform=_left_half_condition),
            100,
        ),
    ]
    for architecture in ("fc", "conv"):
        entries.append(
            BenchmarkModel(
                f"m2_{architecture}",
                f"M2 {architecture}, Kingma et al.'s protocol, 1000 labels (Table 1)",
                _table1_model(architecture, "kingma"),
                _mixed_stream,
                100,
                parts=2,
                layout="mixed",
            )
        )
    entries.append(
        BenchmarkModel(
            "ssl_vae_gan",
            "SSL-VAE-GAN: conv M2 + CVAE-GAN discriminator (Sec. 3.3; Table 1 conv+gan)",
            _table1_model("conv+gan", "kingma"),
            _mixed_stream,
            100,
            parts=2,
            layout="mixed",
        )
    )
    for architecture in ("fc", "conv", "conv+gan"):
        suffix = architecture.replace("+", "_")
        entries.append(
            BenchmarkModel(
                f"m2_authors_{suffix}",
                f"M2, the authors' code, {architecture}, 1000 labels (Table 1 authors_code)",
                _table1_model(architecture, "authors_code"),
                _alternating_stream,
                100,
            )
        )
    entries += [
        BenchmarkModel(
            "cvae_gan",
            "CVAE-GAN, authors_code preset (Sec. 3.2; make figure7)",
            _cvae_gan("authors_code"),
            _images("unit"),
            100,
        ),
        BenchmarkModel(
            "cvae_gan_paper",
            "CVAE-GAN, paper preset (make figure7 ARGS=--preset=paper)",
            _cvae_gan("paper"),
            _images("unit"),
            100,
        ),
        BenchmarkModel(
            "vae_gan",
            "VAE-GAN (Sec. 3.1; make vaegan)",
            _vae_gan,
            _images("unit"),
            100,
        ),
        BenchmarkModel(
            "dfc_vae",
            "DFC-VAE with its fixed VGG-style network (make dfcvae)",
            _dfc_vae,
            _images("unit"),
            100,
        ),
    ]
    for preset, config in gan.PRESETS.items():
        entries.append(
            BenchmarkModel(
                preset,
                f"{preset.upper().replace('_', '-')} (models/gan.py PRESETS; make gan)",
                _gan(config),
                _images("symmetric", config.critic_steps),
                100,
                parts=config.critic_steps,
                layout="critic",
            )
        )
    for run_name, spec in figure10.RUNS.items():
        entries.append(
            BenchmarkModel(
                run_name,
                f"{spec.title} (make figure10)",
                _draw(run_name),
                _images("dynamic_binarize" if spec.binarized else "unit"),
                spec.batch_size,
            )
        )
    for preset, (_, batch_size) in figure11.PRESETS.items():
        entries.append(
            BenchmarkModel(
                "draw_gan" if preset == "paper" else f"draw_gan_{preset}",
                f"DRAW-GAN, {preset} preset (Sec. 3.4; make figure11)",
                _draw_gan(preset),
                _images("unit"),
                batch_size,
            )
        )
    course_batch = course_study.CourseReportConfig().batch_size
    course_models = {
        "hu_vae": ("Hu (2018): VAE, Tables 1-2 (make hu)", course_reports.HU_VAE),
        "hu_dcgan": ("Hu (2018): DCGAN, Tables 3-4 (make hu)", course_reports.HU_DCGAN),
        **{
            f"gaikwad_{key}": (f"Gaikwad (2020): {title}, Tables 1-3 (make gaikwad)", config)
            for key, (title, config) in {
                **course_study.GAIKWAD_GANS,
                **course_study.GAIKWAD_VAES,
            }.items()
        },
    }
    for name, (title, config) in course_models.items():
        is_gan = isinstance(config, gan.GANConfig)
        steps = config.critic_steps if is_gan else 1
        entries.append(
            BenchmarkModel(
                name,
                title,
                _gan(config) if is_gan else _vae(config),
                _images("symmetric" if is_gan else "dynamic_binarize", steps),
                course_batch,
                parts=steps,
                layout="critic" if is_gan else "single",
            )
        )
    entries.append(
        BenchmarkModel(
            "evaluator_lenet",
            "the evaluator's LeNet-style classifier (make evaluator)",
            _evaluator,
            _images("unit"),
            100,
        )
    )
    entries = [
        dataclasses.replace(entry, torch_twin=True) if entry.name in TWINNED else entry
        for entry in entries
    ]
    return {entry.name: entry for entry in entries}


def check_names(names, registry: dict[str, BenchmarkModel]) -> tuple[str, ...]:
    """`names` as given, or ValueError naming the unknown ones and every choice."""
    unknown = [name for name in names if name not in registry]
    if unknown:
        raise ValueError(f"unknown model {', '.join(unknown)}; choose from {', '.join(registry)}")
    return tuple(names)


# -- measuring ------------------------------------------------------------------------------------


def error_line(error: BaseException, limit: int = 200) -> str:
    """`Type: the message's informative line`, at most `limit` characters: a Keras layer's wrapper
    line ("Exception encountered when calling ...") gives way to the error it wraps, and a traced
    function's "in user code:" traceback to its last line, the error raised."""
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", line).strip() for line in str(error).splitlines()]
    lines = [line for line in lines if line]
    if len(lines) > 1 and lines[0].startswith("Exception encountered when calling"):
        lines = lines[1:]
    if len(lines) > 1 and lines[0].startswith("in user code:"):
        raised = [line for line in lines if re.match(r"^[\w.]+(Error|Exception)\b", line)]
        lines = raised[-1:] or lines[-1:]
        text = (
            lines[0] if re.match(r"^[\w.]+:", lines[0]) else f"{type(error).__name__}: {lines[0]}"
        )
    else:
        text = f"{type(error).__name__}: {lines[0] if lines else ''}"
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _failure(error: BaseException) -> dict:
    """A failed measurement: the error's line for the table, its message's end for diagnosis."""
    return {"error": error_line(error), "error_detail": str(error)[-1500:]}


@dataclasses.dataclass(frozen=True)
class BenchmarkConfig:
    models: tuple[str, ...] = ()  # registry names; () times every model
    # Defaults sized for every model in about half an hour on 2 cores: tracing, and XLA's
    # compilation, take most of it, the timed steps a fifth.
    steps: int = 30  # the most timed steps per measurement
    warmup: int = 2  # steps dropped before timing after the first, which traces (and compiles)
    seconds: float = 5.0  # a measurement stops after this many seconds of timed steps...
    min_steps: int = 3  # ... once it has at least this many
    precision: str = "float32"  # the policy of each model's main row
    precision_sweep: bool = True  # also time each model under the other policy (bf16 speed-up)
    xla_sweep: bool = True  # also time each model with jit_compile=True (XLA speed-up)
    model_seconds: float = 1200.0  # a model still measuring after this long is stopped
    torch_twin: bool = True  # also time each model's PyTorch twin, where it has one
    strategy: str = "auto"
    seed: int = 0

    def __post_init__(self):
        if self.precision not in PRECISIONS:
            raise ValueError(f"unknown precision {self.precision!r}; choose one of {PRECISIONS}")
        for field in ("steps", "warmup", "min_steps"):
            value = getattr(self, field)
            if value < (0 if field == "warmup" else 1):
                raise ValueError(f"{field} must be a whole number >= 1, not {value}")
        for field in ("seconds", "model_seconds"):
            if getattr(self, field) <= 0:
                raise ValueError(f"{field} must be positive, not {getattr(self, field)}")


def measure(
    entry: BenchmarkModel,
    splits: data.DatasetSplits,
    config: BenchmarkConfig,
    *,
    policy: str,
    jit_compile: bool = False,
    count_flops: bool = False,
    step_alone: bool = False,
    batch_size: int | None = None,
) -> dict:
    """One timing of `entry`: a fresh model under `policy` (with XLA if `jit_compile`), timed as
    `time_fit_steps` says; with `step_alone`, its step outside `fit` too (`time_step_alone`);
    with `count_flops`, its step's FLOPs. Whatever fails (building under
    bf16, compiling under XLA) is returned as {"error": one line}, never raised."""
    from vaegan_tf import distribute, training

    batch_size = batch_size or entry.batch_size
    result = {}
    try:
        training.set_seed(config.seed)
        stream = entry.stream(splits, batch_size)
        with dtypes.dtype_policy(policy), distribute.make_strategy(config.strategy).scope():
            model = entry.build(splits)
        if jit_compile:
            model.jit_compile = True
            if not model.jit_compile:
                return {"error": "Keras: a layer of the model does not support jit_compile"}
        with fit_step_graphs(model) as graphs:
            times = time_fit_steps(
                model, stream, config.steps, config.warmup, config.seconds, config.min_steps
            )
        result = {
            "ms_per_step": round(1000 * times.median, 2),
            "images_per_second": round(entry.images_per_step(batch_size) / times.median, 1),
            "timed_steps": len(times.seconds),
            "first_step_seconds": round(times.first_step_seconds, 2),
            "finite": times.finite,
        }
        if step_alone:
            try:
                result["ms_per_step_outside_fit"] = round(
                    1000
                    * time_step_alone(
                        model,
                        stream,
                        config.steps,
                        config.warmup,
                        config.seconds,
                        config.min_steps,
                    ),
                    2,
                )
            except Exception as error:  # the fit timing above stands without it
                result["outside_fit_error"] = error_line(error)
        if count_flops:
            try:
                # a traced function's graph; an eagerly run step records the global graph
                traced = [graph for graph in graphs if hasattr(graph, "control_outputs")]
                flops = graph_flops(traced[0]) if traced else step_flops(model, stream.element_spec)
                result["flops"] = {
                    "forward": flops.forward,
                    "backward": flops.backward,
                    "loops_counted_once": flops.loops,
                }
            except UncountedOp as error:
                result["flops"] = {"error": error_line(error)}
    except Exception as error:  # a model that fails is a row of the table, not the end of the run
        return _failure(error)
    finally:
        keras.backend.clear_session()
        gc.collect()
    return result


def measure_twin(entry: BenchmarkModel, config: BenchmarkConfig) -> dict:
    """`entry`'s PyTorch twin timed as `measure` times the suite (`torch_twins.time_twin`), or
    {"error": ...}: PyTorch missing (TORCH_MISSING) or any failure, never raised."""
    try:
        importlib.import_module("torch")  # each time: the twins' module may be imported already
    except ImportError:
        return {"error": TORCH_MISSING}
    try:
        from vaegan_tf import torch_twins

        return torch_twins.time_twin(
            entry.name,
            steps=config.steps,
            warmup=config.warmup,
            seconds=config.seconds,
            min_steps=config.min_steps,
            seed=config.seed,
            batch_size=entry.batch_size,
        )
    except Exception as error:  # as `measure`: a failure is a cell of the table
        return _failure(error)
    finally:
        gc.collect()


def measure_model(entry: BenchmarkModel, splits: data.DatasetSplits, config: BenchmarkConfig):
    """(key, result) of each measurement of one model, as it is made: the main policy with its
    FLOPs, its PyTorch twin right after (`measure_twin`, where it has one and `config` asks),
    then the sweeps `config` asks for (the other policy, XLA)."""
    other = next(p for p in PRECISIONS if p != config.precision)
    yield (
        config.precision,
        measure(entry, splits, config, policy=config.precision, count_flops=True, step_alone=True),
    )
    if config.torch_twin and entry.torch_twin:
        yield TWIN_KEY, measure_twin(entry, config)
    if config.precision_sweep:
        yield other, measure(entry, splits, config, policy=other)
    if config.xla_sweep:
        yield "xla", measure(entry, splits, config, policy=config.precision, jit_compile=True)


def _measure_in_child(name: str, splits, config: BenchmarkConfig, sender) -> None:
    for key, result in measure_model(models()[name], splits, config):
        sender.send((key, result))
    sender.close()


def measure_isolated(name: str, splits: data.DatasetSplits, config: BenchmarkConfig) -> dict:
    """`measure_model` of the registry's `name` in a child process of its own: what TensorFlow
    keeps of each traced and compiled step (it is not all freed) dies with the child, and a crash
    or a step that runs past `config.model_seconds` costs that model's remaining measurements,
    each recorded as an error, not the run."""
    context = multiprocessing.get_context("spawn")  # a fork of a running TensorFlow is unsafe
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_measure_in_child, args=(name, splits, config, sender))
    child.start()
    sender.close()
    results, deadline = {}, time.monotonic() + config.model_seconds
    try:
        while receiver.poll(max(0.0, deadline - time.monotonic())):
            key, result = receiver.recv()
            results[key] = result
    except EOFError:  # the child is gone
        pass
    child.join(timeout=5)
    if child.is_alive():
        child.terminate()
        child.join()
        reason = f"stopped after {config.model_seconds:g} s for this model"
    else:
        reason = f"its process ended (exit code {child.exitcode}) before this measurement"
    for key in _keys(config, models()[name]):
        results.setdefault(key, {"error": reason})
    return results


def _keys(config: BenchmarkConfig, entry: BenchmarkModel | None = None) -> list[str]:
    """The keys `measure_model` yields for `entry` under `config`, in its order."""
    other = next(p for p in PRECISIONS if p != config.precision)
    twin = config.torch_twin and entry is not None and entry.torch_twin
    return (
        [config.precision]
        + ([TWIN_KEY] if twin else [])
        + ([other] if config.precision_sweep else [])
        + (["xla"] if config.xla_sweep else [])
    )


def run(
    config: BenchmarkConfig,
    splits: data.DatasetSplits,
    log=print,
    registry: dict[str, BenchmarkModel] | None = None,
) -> dict:
    """Measures every model of `config.models` (all by default), each in a process of its own
    (`measure_isolated`); returns metrics.json's content. A `registry` given (tests) is measured
    in this process."""
    isolated = registry is None
    registry = models() if registry is None else registry
    names = check_names(config.models, registry) if config.models else tuple(registry)
    started = time.perf_counter()
    peaks = {
        "float32": round(matmul_gflops(tf.float32), 1),
        "bfloat16": round(matmul_gflops(tf.bfloat16), 1),
    }
    log(f"matmul GFLOP/s: {peaks}")
    rows = []
    for name in names:
        entry, began = registry[name], time.perf_counter()
        measured = (
            measure_isolated(name, splits, config)
            if isolated
            else dict(measure_model(entry, splits, config))
        )
        row = {
            "name": name,
            "title": entry.title,
            "batch": entry.batch_label(),
            "images_per_step": entry.images_per_step(),
            **measured,
            "wall_seconds": round(time.perf_counter() - began, 1),
        }
        rows.append(row)
        log(f"{name}: {_summary(row, config.precision)}")
    pipelines = {
        mode: round(
            pipeline_images_per_second(
                data.pipeline(splits.train, batch_size=100, preprocessing=mode, shuffle=True),
                100,
                steps=100,
                warmup=5,
            )
        )
        for mode in ("unit", "dynamic_binarize", "symmetric")
    }
    return {
        "cpu": records.cpu_name(),
        "cpu_bfloat16_instructions": records.cpu_bfloat16_instructions(),
        "matmul_gflops": peaks,
        "precision": config.precision,
        "settings": {
            "steps": config.steps,
            "warmup": config.warmup,
            "seconds": config.seconds,
            "min_steps": config.min_steps,
            "model_seconds": config.model_seconds,
            "torch_twin": config.torch_twin,
        },
        "models": rows,
        "pipeline_images_per_second": pipelines,
        "wall_seconds": round(time.perf_counter() - started, 1),
    }


def _summary(row: dict, policy: str) -> str:
    main, twin = row[policy], row.get(TWIN_KEY)
    text = (
        main["error"]
        if "error" in main
        else f"{main['ms_per_step']} ms/step, {main['images_per_second']} images/s"
    )
    if twin is not None:
        text += "; PyTorch twin: " + (
            twin["error"]
            if "error" in twin
            else f"{twin['ms_per_step']} ms/step, {twin['images_per_second']} images/s"
        )
    return text


# -- the README -------------------------------------------------------------------------------------


def _ratio(base: dict, other: dict | None, footnotes: list[str], what: str, name: str) -> str:
    """base / other step time as `1.23x`, or where `other` failed, a footnote's mark."""
    if other is None:
        return "not measured"
    if "error" in other:
        footnotes.append(f"{name}, {what}: {other['error']}")
        return f"fails [{len(footnotes)}]"
    text = f"{base['ms_per_step'] / other['ms_per_step']:.2f}x"
    if not other.get("finite", True):
        footnotes.append(f"{name}, {what}: a logged loss became NaN or infinite in the timed steps")
        text += f" [{len(footnotes)}]"
    return text


def has_outside_fit(metrics: dict) -> bool:
    """Whether the run timed the steps outside `fit` (the table then has its column)."""
    return any("ms_per_step_outside_fit" in row[metrics["precision"]] for row in metrics["models"])


def _outside_fit_cell(main: dict, footnotes: list[str], name: str) -> str:
    """The step outside `fit` in ms and the share of the fit step it leaves to `fit`:
    `100.0 (-12%)` when fit takes 12% longer; a footnote where it failed."""
    if "outside_fit_error" in main:
        footnotes.append(f"{name}, step outside fit: {main['outside_fit_error']}")
        return f"fails [{len(footnotes)}]"
    alone = main.get("ms_per_step_outside_fit")
    if alone is None:
        return ""
    return f"{alone:,.1f} ({(alone - main['ms_per_step']) / main['ms_per_step']:+.0%})"


def has_twins(metrics: dict) -> bool:
    """Whether the run timed a PyTorch twin (the table then has its column)."""
    return any(TWIN_KEY in row for row in metrics["models"])


def _twin_cell(main: dict, row: dict, footnotes: list[str]) -> str:
    """The twin's images/s and the suite's speed over the twin's, `1,234 (0.85x)`; blank for a
    model without a twin, a footnote's mark where it failed."""
    twin = row.get(TWIN_KEY)
    if twin is None:
        return ""
    if "error" in twin:
        footnotes.append(f"{row['name']}, PyTorch twin: {twin['error']}")
        return f"fails [{len(footnotes)}]"
    text = f"{twin['images_per_second']:,.0f}"
    if "images_per_second" in main:
        text += f" ({main['images_per_second'] / twin['images_per_second']:.2f}x)"
    if not twin.get("finite", True):
        footnotes.append(f"{row['name']}, PyTorch twin: its loss became NaN or infinite")
        text += f" [{len(footnotes)}]"
    return text


def table_rows(metrics: dict) -> tuple[list[str], list[list[str]], list[str]]:
    """(header, rows, footnotes) of the README's table, from metrics.json's content. A run that
    timed PyTorch twins gets their column (`_twin_cell`)."""
    policy = metrics["precision"]
    twins = has_twins(metrics)
    outside = has_outside_fit(metrics)
    other = next(p for p in PRECISIONS if p != policy)
    peak = metrics["matmul_gflops"]["float32"]
    header = [
        "model",
        "batch",
        "ms / step",
        *(["ms / step outside fit"] if outside else []),
        "images / s",
        "GFLOP / step",
        "of fp32 matmul peak",
        "bf16 speed-up",
        "XLA speed-up",
        *(["PyTorch twin"] if twins else []),
    ]
    rows, footnotes = [], []
    for row in metrics["models"]:
        name, main = row["name"], row[policy]
        if "error" in main:
            footnotes.append(f"{name}: {main['error']}")
            rows.append(
                [
                    name,
                    row["batch"],
                    f"fails [{len(footnotes)}]",
                    *[""] * (6 if outside else 5),
                    *([_twin_cell(main, row, footnotes)] if twins else []),
                ]
            )
            continue
        flops = main.get("flops", {})
        if "error" in flops:
            footnotes.append(f"{name}, FLOPs: {flops['error']}")
            gflop = fraction = f"uncounted [{len(footnotes)}]"
        elif flops:
            total = (flops["forward"] + flops["backward"]) / 1e9
            gflop = f"{total:.2f}" + (" (loops once)" if flops.get("loops_counted_once") else "")
            fraction = f"{100 * total / (main['ms_per_step'] / 1000) / peak:.0f}%"
        else:
            gflop = fraction = ""
        bf16 = (
            _ratio(main, row.get(other), footnotes, other, name)
            if policy == "float32"
            else _inverse_ratio(main, row.get(other))
        )
        rows.append(
            [
                name,
                row["batch"],
                f"{main['ms_per_step']:,.1f}",
                *([_outside_fit_cell(main, footnotes, name)] if outside else []),
                f"{main['images_per_second']:,.0f}",
                gflop,
                fraction,
                bf16,
                _ratio(main, row.get("xla"), footnotes, "XLA", name),
                *([_twin_cell(main, row, footnotes)] if twins else []),
            ]
        )
    return header, rows, footnotes


def _outside_fit_paragraph(metrics: dict) -> list[str]:
    if not has_outside_fit(metrics):
        return []
    return [
        "ms / step outside fit: the same step in its own `tf.function` on one batch held fixed, "
        "without `fit`'s input pipeline, callbacks and per-step work, timed the same way; in "
        "brackets, how much shorter (negative) it is than the step inside `fit`: what `fit` adds.",
        "",
    ]


def _inverse_ratio(bf16: dict, float32: dict | None) -> str:
    """With bf16 as the main policy, the speed-up is still float32 time over bf16 time."""
    if float32 is None or "error" in float32:
        return "not measured" if float32 is None else "float32 fails"
    return f"{float32['ms_per_step'] / bf16['ms_per_step']:.2f}x"


def _bfloat16_instructions_clause(metrics: dict) -> str:
    """ ", with AMX's bfloat16 tiles" or ", without bfloat16 instructions" from the run's
    `cpu_bfloat16_instructions` (runs before it was recorded, or where it could not be read: "")."""
    found = metrics.get("cpu_bfloat16_instructions")
    if found is None:
        return ""
    if not found:
        return (
            f", without bfloat16 instructions (no {' or '.join(records.BFLOAT16_CPU_FLAGS)}: "
            "bfloat16 is converted to float32 around float32 arithmetic)"
        )
    return f", with bfloat16 instructions ({', '.join(found)})"


def write_readme(out: Path) -> Path:
    """README.md of a `make benchmark` run, from the metrics.json and environment.json in `out`."""
    from vaegan_tf.studies import report

    out = Path(out)
    metrics = records.read_json(out / "metrics.json")
    header, rows, footnotes = table_rows(metrics)
    peaks, settings = metrics["matmul_gflops"], metrics["settings"]
    flops = [
        row[metrics["precision"]]["flops"]
        for row in metrics["models"]
        if "forward" in row[metrics["precision"]].get("flops", {})
        and row[metrics["precision"]]["flops"]["forward"]
    ]
    backward_ratios = [f["backward"] / f["forward"] for f in flops]
    body = [
        f"CPU: {metrics['cpu']}{_bfloat16_instructions_clause(metrics)}. Its own matmul speed, "
        f"measured in this run on a 2048 x 2048 `tf.matmul`: {peaks['float32']:,.0f} GFLOP/s in "
        f"float32, {peaks['bfloat16']:,.0f} GFLOP/s in bfloat16.",
        "",
        "**Speeds are ratios within one run**: every row was timed in the same process on the same "
        "CPU minutes apart, so rows compare with each other; the absolute numbers hold only for "
        "this machine with whatever else it ran at the time.",
        "",
        f"Each row is one model's training step at its paper batch (`batch`: images per step; "
        "`100 + 100`, a labelled and an unlabelled batch; `5 x 100`, one batch per critic update), "
        f"`fit` end to end with its study's input stream, under `{metrics['precision']}`. ms / step "
        f"is the median over up to {settings['steps']} timed steps (fewer where "
        f"{settings['seconds']:g} s of them came first, at least {settings['min_steps']}), after "
        f"the first step, which traces, and {_steps(settings['warmup'])} of warm-up. GFLOP / step counts every matmul and convolution of the "
        "traced step, forward and backward, from their shapes (element-wise ops, batch norm and the "
        "optimizer not counted); `of fp32 matmul peak` is GFLOP / step over the step time over the "
        "float32 matmul speed above. bf16 speed-up: the step time over that of the same model built "
        "under Keras' `mixed_bfloat16`; XLA speed-up: over that with `jit_compile=True`; above 1x "
        "is faster.",
        "",
        *_outside_fit_paragraph(metrics),
        *_twin_paragraph(metrics),
        *report.markdown_table(header, rows),
        "",
    ]
    if footnotes:
        body += [*(f"[{i}] {note}" for i, note in enumerate(footnotes, 1)), ""]
    if backward_ratios:
        body += [
            f"Backward over forward FLOPs of the counted steps: {min(backward_ratios):.2f} to "
            f"{max(backward_ratios):.2f} (the usual 3x-forward estimate of a step assumes 2).",
            "",
        ]
    body += [_reading(metrics), ""]
    body += bound_reading(metrics)
    body += _table1_paragraph(metrics)
    body += ["What each row is:", ""]
    body += [f"- `{row['name']}`: {row['title']}" for row in metrics["models"]]
    body.append("")
    if (out / "HISTORY.md").is_file():
        body += [
            "How the training steps were made fast, as measured then: [HISTORY.md](HISTORY.md).",
            "",
        ]
    return report.write_readme(
        out, "every model's training step, side by side", "make benchmark", body
    )


# the benchmark row that times each (protocol, row) cell of Table 1, at 1000 labels (`LABELS`)
TABLE1_MODELS = {
    ("kingma", "fc"): "m2_fc",
    ("kingma", "conv"): "m2_conv",
    ("kingma", "conv+gan"): "ssl_vae_gan",
    ("authors_code", "fc"): "m2_authors_fc",
    ("authors_code", "conv"): "m2_authors_conv",
    ("authors_code", "conv+gan"): "m2_authors_conv_gan",
}


def table1_hours(metrics: dict) -> dict[tuple[str, str], dict[str, float]]:
    """Hours the full Table 1 would train at this run's speeds, one process after another:
    {(protocol, row): {precision: hours}} over the default labels, seeds and epochs of
    vaegan_tf/studies/table1.py, for each row whose model this run timed. Each cell's step is taken
    as long as the 1000-label step timed here (the batches are the same; only their count
    changes)."""
    from vaegan_tf.studies import table1, table1_report

    timed = {row["name"]: row for row in metrics["models"]}
    hours = {}
    for (protocol, row), name in TABLE1_MODELS.items():
        if name not in timed:
            continue
        steps = sum(
            table1_report.steps_per_epoch(protocol, labels, 100) * table1.EPOCHS[protocol][row]
            for labels in table1.LABELS
        ) * len(table1.SEEDS[protocol])
        hours[protocol, row] = {
            precision: timed[name][precision]["ms_per_step"] * steps / 3.6e6
            for precision in PRECISIONS
            if "ms_per_step" in timed[name].get(precision, {})
        }
    return hours


def _table1_paragraph(metrics: dict) -> list[str]:
    """The README's estimate of the full Table 1 at these speeds."""
    from vaegan_tf.studies import report, table1

    hours = table1_hours(metrics)
    if not hours:
        return []
    precisions = [p for p in PRECISIONS if any(p in h for h in hours.values())]
    rows = [
        [
            protocol,
            row,
            f"{len(table1.LABELS) * len(table1.SEEDS[protocol])}",
            f"{table1.EPOCHS[protocol][row]}",
            *(f"{h[p]:.1f}" if p in h else "" for p in precisions),
        ]
        for (protocol, row), h in hours.items()
    ]
    totals = {
        protocol: {
            p: sum(h.get(p, 0.0) for (q, _), h in hours.items() if q == protocol)
            for p in precisions
        }
        for protocol in dict.fromkeys(protocol for protocol, _ in hours)
    }
    rows += [
        [protocol, "**all timed rows**", "", "", *(f"**{total[p]:.1f}**" for p in precisions)]
        for protocol, total in totals.items()
        if sum(q == protocol for q, _ in hours) > 1
    ]
    return [
        "**The full Table 1 at these speeds**: hours of training, one cell after another in one "
        "process like this run's, for the default labels (1000 and 600), seeds and epochs of "
        "`make table1` (vaegan_tf/studies/table1.py), each step as long as the 1000-label step "
        "above, on the cores this run used (environment.json). Evaluation is not counted. Runs of "
        "different `--rows` or `--labels` can train side by side, one per core.",
        "",
        *report.markdown_table(
            ["protocol", "row", "cells", "epochs", *(f"hours, {p}" for p in precisions)], rows
        ),
        "",
    ]


def _twin_paragraph(metrics: dict) -> list[str]:
    """What the PyTorch twin column is, where the run timed twins."""
    if not has_twins(metrics):
        return []
    threads = sorted(
        {
            row[TWIN_KEY]["threads"]
            for row in metrics["models"]
            if "threads" in row.get(TWIN_KEY, {})
        }
    )
    threads_text = f" ({', '.join(map(str, threads))} here)" if threads else ""
    return [
        "PyTorch twin: the same training step written in PyTorch (`vaegan_tf/torch_twins.py`: the "
        "same layers, batch, losses, updates per step and optimizer), timed in the same process "
        "right after the suite's step and the same way (median step after the first and the "
        f"warm-up), with as many threads as TensorFlow uses{threads_text}. It trains on batches "
        "made beforehand, where the suite's step includes its input pipeline. The cell gives the "
        "twin's images / s and, in brackets, the suite's images / s over the twin's: above 1x the "
        "suite is faster. The goal (issue 15) is the suite at "
        f"{TWIN_GOAL:g}x its twin or more; models "
        "without a twin have the cell blank.",
        "",
    ]


def _steps(count: int) -> str:
    return f"{count} step" + ("" if count == 1 else "s")


# A step at or above this share of the float32 matmul peak is read as compute-bound, below
# `OVERHEAD_BOUND` as overhead-bound (small kernels, element-wise ops, loops): a reading of the
# column, not a profile.
COMPUTE_BOUND = 0.40
OVERHEAD_BOUND = 0.25


def peak_fractions(metrics: dict) -> dict[str, float]:
    """{model: counted GFLOP / step over the step time over the float32 matmul speed} of the rows
    of the main policy that have both."""
    peak = metrics["matmul_gflops"]["float32"]
    fractions = {}
    for row in metrics["models"]:
        main = row[metrics["precision"]]
        flops = main.get("flops", {})
        if "ms_per_step" in main and flops.get("forward"):
            total = (flops["forward"] + flops["backward"]) / 1e9
            fractions[row["name"]] = total / (main["ms_per_step"] / 1000) / peak
    return fractions


def _speedups(metrics: dict, key: str) -> dict[str, float]:
    """{model: main-policy step time over that under `key` (the other policy, or "xla")}."""
    ratios = {}
    for row in metrics["models"]:
        main, other = row[metrics["precision"]], row.get(key) or {}
        if "ms_per_step" in main and "ms_per_step" in other:
            ratios[row["name"]] = main["ms_per_step"] / other["ms_per_step"]
    return ratios


def bound_reading(metrics: dict) -> list[str]:
    """The README's reading of the rows: which steps are compute-bound and which overhead-bound,
    what bf16 and XLA gave each kind, and the suite against its PyTorch twins."""
    fractions = peak_fractions(metrics)

    def names(chosen):
        return ", ".join(f"`{n}` ({100 * fractions[n]:.0f}%)" for n in chosen) or "none"

    compute = [n for n, f in fractions.items() if f >= COMPUTE_BOUND]
    overhead = [n for n, f in fractions.items() if f < OVERHEAD_BOUND]
    lines = []
    if fractions:
        lines += [
            "**Reading the rows.** "
            f"Compute-bound (at least {COMPUTE_BOUND:.0%} of the float32 matmul peak): "
            f"{names(compute)}. Their convolutions and large matmuls take most of the step: faster "
            "kernels shorten them, and a GPU's speed-up on them would follow its FLOP rate (expected, "
            "not measured here). "
            f"Overhead-bound (under {OVERHEAD_BOUND:.0%}): {names(overhead)}. Small matmuls, "
            "element-wise work and DRAW's T-step loops, none counted as FLOPs, fill their steps; a GPU "
            "would gain less on them than the FLOPs suggest (not measured here).",
            "",
        ]
    other = next(p for p in PRECISIONS if p != metrics["precision"])
    bf16 = _speedups(metrics, other) if metrics["precision"] == "float32" else {}
    peaks = metrics["matmul_gflops"]
    if bf16 and fractions:
        best = max(bf16, key=bf16.get)

        def median(chosen):
            values = [bf16[n] for n in chosen if n in bf16]
            return f"{np.median(values):.2f}x" if values else "n/a"

        lines += [
            f"bf16: a bare 2048 x 2048 matmul runs {peaks['bfloat16'] / peaks['float32']:.2f}x "
            "as fast in bfloat16 as in float32 here, whole steps "
            f"{min(bf16.values()):.2f}x to "
            f"{bf16[best]:.2f}x (`{best}`); median {median(compute)} for the compute-bound rows, "
            f"{median(overhead)} for the overhead-bound. Under `mixed_bfloat16` only the matmuls "
            "and convolutions run in bfloat16: the casts around them, the element-wise ops, batch "
            "norm's statistics, the losses and the float32 optimizer update do not speed up, so "
            "a step gains at most what its share of matmul time allows.",
            "",
        ]
    xla = _speedups(metrics, "xla")
    if xla:
        wins = sorted((n for n, r in xla.items() if r > 1.05), key=xla.get, reverse=True)
        lines += [
            "XLA (`jit_compile=True`) is faster than the default for "
            + (", ".join(f"`{n}` ({xla[n]:.2f}x)" for n in wins) or "no model")
            + f" and slower for {sum(r < 0.95 for r in xla.values())} of {len(xla)}: on this CPU "
            "it fuses the element-wise work of small steps, but its convolutions and large "
            "matmuls are slower than oneDNN's. The studies leave it to Keras' "
            '`jit_compile="auto"`, which turns it off on a CPU and under `tf.distribute`.',
            "",
        ]
    twins = {
        row["name"]: row[metrics["precision"]]["images_per_second"]
        / row[TWIN_KEY]["images_per_second"]
        for row in metrics["models"]
        if "images_per_second" in (row.get(TWIN_KEY) or {})
        and "images_per_second" in row[metrics["precision"]]
    }
    if twins:
        short = [n for n, r in twins.items() if r < TWIN_GOAL]
        lines += [
            "Against the PyTorch twins: "
            + ", ".join(f"`{n}` {r:.2f}x" for n, r in twins.items())
            + f" the twin's images/s. The goal of {TWIN_GOAL:g}x "
            + (
                "is met by every twin."
                if not short
                else f"is not met by {', '.join(f'`{n}`' for n in short)}."
            ),
            "",
        ]
    return lines


def _reading(metrics: dict) -> str:
    """Whether training waits for its input, from the slowest pipeline against the fastest model."""
    pipelines = metrics.get("pipeline_images_per_second") or {}
    rates = [
        row[metrics["precision"]]["images_per_second"]
        for row in metrics["models"]
        if "images_per_second" in row[metrics["precision"]]
    ]
    if not pipelines or not rates:
        return ""
    pipeline, training = min(pipelines.values()), max(rates)
    listed = ", ".join(f"{mode} {rate:,}" for mode, rate in pipelines.items())
    if pipeline > 2 * training:
        return (
            f"Input pipelines alone (images/s): {listed}. The slowest feeds "
            f"{pipeline / training:.0f}x as many images as the fastest model trains on: training is "
            "bound by the models' compute, not by their input."
        )
    return (
        f"Input pipelines alone (images/s): {listed}. The slowest is within a factor of two of the "
        f"fastest model ({training:,.0f} images/s): input may hold training back."
    )
