"""`make benchmark`: every model's training step timed side by side in one run (`vaegan_tf.benchmark`):
ms per step and images per second at its paper batch, FLOPs per step, the fraction of this CPU's
float32 matmul speed, the speed-ups of bf16 and of XLA, and the suite's speed over a PyTorch twin
of the same step for the FC M2, the conv CVAE and DCGAN (`--notorch_twin`: without). Writes
results/benchmark/ (metrics, environment, README). `--models=m2_fc,cvae_conv` times a few;
`--helpfull` lists the flags."""

import time
from pathlib import Path

import common_flags
from absl import app, flags

from vaegan_tf import benchmark, data, distribute, records, training

flags.DEFINE_list(
    "models",
    [],
    "Registry names of the models to time (comma-separated); empty: every model. "
    "An unknown name lists the choices.",
)
flags.DEFINE_integer(
    "steps",
    benchmark.BenchmarkConfig.steps,
    "The most timed steps per measurement (fewer once --seconds of them have run).",
)
flags.DEFINE_integer(
    "warmup",
    benchmark.BenchmarkConfig.warmup,
    "Steps dropped before timing (the first traces the step).",
    lower_bound=0,
)
flags.DEFINE_float(
    "seconds",
    benchmark.BenchmarkConfig.seconds,
    "A measurement stops after this many seconds of timed steps (at least 3 steps).",
    lower_bound=0.1,
)
flags.DEFINE_float(
    "model_seconds",
    benchmark.BenchmarkConfig.model_seconds,
    "A model still being measured after this many seconds is stopped (its rest recorded as such).",
    lower_bound=1.0,
)
flags.DEFINE_boolean(
    "precision_sweep", True, "Also time each model under the other policy (bf16 speed-up)."
)
flags.DEFINE_boolean(
    "xla_sweep", True, "Also time each model with jit_compile=True (XLA speed-up)."
)
flags.DEFINE_boolean(
    "torch_twin",
    benchmark.BenchmarkConfig.torch_twin,
    "Also time the PyTorch twin of the models that have one (the FC M2, the conv CVAE, DCGAN: "
    "vaegan_tf/torch_twins.py; needs the [bench] extra).",
)
common_flags.at_least_one("steps")
FLAGS = flags.FLAGS


def main(_):
    started = time.perf_counter()
    registry = benchmark.models()
    try:
        chosen = benchmark.check_names(FLAGS.models, registry)
    except ValueError as error:
        raise app.UsageError(f"--models: {error}") from error
    config = benchmark.BenchmarkConfig(
        models=chosen,
        steps=FLAGS.steps,
        warmup=FLAGS.warmup,
        seconds=FLAGS.seconds,
        model_seconds=FLAGS.model_seconds,
        precision=FLAGS.precision,
        precision_sweep=FLAGS.precision_sweep,
        xla_sweep=FLAGS.xla_sweep,
        torch_twin=FLAGS.torch_twin,
        strategy=FLAGS.strategy,
        seed=FLAGS.seed,
    )
    # a run of some models never replaces the table of all of them
    name = "benchmark" if set(chosen) in (set(), set(registry)) else "benchmark_partial"
    training.set_seed(FLAGS.seed)
    splits = data.load("mnist", source=FLAGS.source, data_dir=FLAGS.data_dir)
    settings = common_flags.run_settings()
    with settings.session(name):
        metrics = benchmark.run(config, splits)
        out = settings.results(name)
        records.write_json(out / "metrics.json", metrics)
        records.write_json(
            out / "environment.json",
            records.environment(
                strategy_description=distribute.describe(distribute.make_strategy(FLAGS.strategy)),
                total_seconds=round(time.perf_counter() - started, 1),
            ),
        )
        benchmark.write_readme(out)
    print(f"wrote {Path(settings.results_root) / name / 'README.md'}")


if __name__ == "__main__":
    common_flags.run(main)
