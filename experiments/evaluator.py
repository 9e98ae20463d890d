"""`make evaluator`: re-measures the suite's evaluator classifier (its weights ship in
vaegan_tf/assets/evaluator) on real MNIST: its test accuracy and the real-vs-real baseline (train vs
test) of every sample-quality metric, in results/evaluator/. `--retrain` trains a new one and
replaces the shipped weights (every committed FD / KID / IS must then be rescored). See
vaegan_tf/evaluate.py for what each metric is."""

import dataclasses
import time

import common_flags
from absl import flags

from vaegan_tf import data, evaluate, records

flags.DEFINE_integer("epochs", evaluate.EvaluatorConfig.epochs, "Training epochs.")
common_flags.at_least_one("epochs")
flags.DEFINE_boolean(
    "retrain",
    False,
    "Train a new evaluator and replace the shipped weights (then rescore every result).",
)
FLAGS = flags.FLAGS


def main(_):
    started = time.perf_counter()
    config = dataclasses.replace(evaluate.EvaluatorConfig(), epochs=FLAGS.epochs, seed=FLAGS.seed)
    settings = common_flags.run_settings()
    splits = data.load("mnist", split="tf1", source=FLAGS.source, data_dir=FLAGS.data_dir)
    with settings.session("evaluator"):
        if FLAGS.retrain:
            evaluator = evaluate.train_evaluator(
                splits, config, strategy=FLAGS.strategy, work_root=FLAGS.work_root
            )
        else:
            evaluator = evaluate.load_evaluator()
            config = evaluate.EvaluatorConfig(**evaluator.info["config"])
        metrics = {
            "test_accuracy": evaluator.accuracy(splits.test.images / 255.0, splits.test.labels),
            "accuracy_floor": evaluate.ACCURACY_FLOOR,
            "real_vs_real": evaluate.real_baseline(evaluator, splits, seed=FLAGS.seed),
        }
        out = settings.results("evaluator")
        records.write_json(out / "metrics.json", metrics)
        records.write_json(
            out / "config.json",
            {
                "evaluator": config,
                "data": {"dataset": "mnist", "split": "tf1", "source": splits.source},
            },
        )
        records.write_json(
            out / "environment.json",
            records.environment(
                strategy_description=evaluator.info["distribution"],
                epochs=evaluator.info["epochs"],
                wall_seconds=evaluator.info["wall_seconds"],
                total_seconds=time.perf_counter() - started,
            ),
        )
        evaluate.write_readme(out)
    out = settings.results("evaluator")
    print(f"evaluator test accuracy {metrics['test_accuracy']:.4f}; results in {out}/")
    if metrics["test_accuracy"] < evaluate.ACCURACY_FLOOR:
        raise SystemExit(
            f"test accuracy below the {evaluate.ACCURACY_FLOOR} floor: this evaluator will be refused"
        )


if __name__ == "__main__":
    common_flags.run(main)
