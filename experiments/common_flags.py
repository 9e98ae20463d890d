"""Flags every experiment shares (absl flags live only in experiments/; the library takes configs)."""

from absl import flags

from vaegan_tf import data, distribute

flags.DEFINE_integer("seed", 0, "Seeds Python, NumPy, TensorFlow and the data pipeline.")
flags.DEFINE_enum("strategy", "auto", distribute.STRATEGIES, "Where to train (tf.distribute).")
flags.DEFINE_enum("source", "auto", data.SOURCES,
                  "Where data comes from: auto = a prepared tfds copy, else the offline MNIST mirror.")
flags.DEFINE_string("data_dir", None, "tensorflow-datasets data directory.")
flags.DEFINE_string("results_root", "results", "Final artifacts go to <results_root>/<name>/.")
flags.DEFINE_string("work_root", "work", "Scratch: checkpoints, logs, TensorBoard (git-ignored).")

FLAGS = flags.FLAGS
