"""Flags every experiment shares (absl flags live only in experiments/; the library takes configs)."""

from absl import flags

from vaegan_tf import data, distribute
from vaegan_tf.studies.common import RunSettings

flags.DEFINE_integer("seed", 0, "Seeds Python, NumPy, TensorFlow and the data pipeline.")
flags.DEFINE_enum("strategy", "auto", distribute.STRATEGIES, "Where to train (tf.distribute).")
flags.DEFINE_enum("source", "auto", data.SOURCES,
                  "Where data comes from: auto = a prepared tfds copy, else the offline MNIST mirror.")
flags.DEFINE_string("data_dir", None, "tensorflow-datasets data directory.")
flags.DEFINE_string("results_root", "results", "Final artifacts go to <results_root>/<name>/.")
flags.DEFINE_string("work_root", "work", "Scratch: checkpoints, logs, TensorBoard (git-ignored).")

FLAGS = flags.FLAGS


def run_settings(**overrides) -> RunSettings:
    """Where the experiment runs and writes, from the shared flags."""
    return RunSettings(strategy=FLAGS.strategy, source=FLAGS.source, data_dir=FLAGS.data_dir,
                       results_root=FLAGS.results_root, work_root=FLAGS.work_root, **overrides)


SMOKE_EVALUATION_IMAGES = 1000


def smoke_settings(steps_per_epoch: int) -> RunSettings:
    """A --smoke run: a few training steps, evaluated on the first 1,000 validation and test images."""
    return run_settings(steps_per_epoch=steps_per_epoch, evaluation_images=SMOKE_EVALUATION_IMAGES)
