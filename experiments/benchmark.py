"""`make benchmark`: images per second of the input pipeline and of training steps, for the models
that exist, on whatever device the strategy picks. Writes results/benchmark/ (metrics, environment,
README)."""

import common_flags
from absl import flags

from vaegan_tf import benchmark, data, distribute, evaluate, records, training
from vaegan_tf.models.vae import build_vae

flags.DEFINE_integer(
    "steps", 300, f"Timed steps per measurement (after {benchmark.WARMUP_STEPS} warm-up steps)."
)
common_flags.at_least_one("steps")
FLAGS = flags.FLAGS
BATCH = 100


def main(_):
    training.set_seed(FLAGS.seed)
    splits = data.load("mnist", source=FLAGS.source, data_dir=FLAGS.data_dir)
    strategy = distribute.make_strategy(FLAGS.strategy)

    def stream(mode):
        return data.pipeline(
            splits.train, batch_size=BATCH, preprocessing=mode, shuffle=True, seed=0
        )

    builders = {
        "vae_fc": (build_vae, "dynamic_binarize"),
        "evaluator_lenet": (evaluate.build_classifier, "unit"),
    }
    metrics = {
        "batch_size": BATCH,
        "timed_steps": FLAGS.steps,
        "pipeline_images_per_second": {},
        "training_images_per_second": {},
    }
    settings = common_flags.run_settings()
    with settings.session("benchmark"):
        for name, (build, mode) in builders.items():
            metrics["pipeline_images_per_second"][mode] = round(
                benchmark.pipeline_images_per_second(stream(mode), BATCH, FLAGS.steps)
            )
            with strategy.scope():
                model = build()
            metrics["training_images_per_second"][name] = round(
                benchmark.training_images_per_second(model, stream(mode), BATCH, FLAGS.steps)
            )
        out = settings.results("benchmark")
        records.write_json(out / "metrics.json", metrics)
        records.write_json(
            out / "environment.json",
            records.environment(strategy_description=distribute.describe(strategy)),
        )
        benchmark.write_readme(out)
    print(metrics)


if __name__ == "__main__":
    common_flags.run(main)
