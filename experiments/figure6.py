"""`make figure6`: Figure 6 of Chen, Fang, Ju (2016), CVAE samples per digit on MNIST, with
conditional accuracy, FD, KID and sharpness beside real data. `--dataset=svhn` draws the SVHN panel
(results/figure6_svhn/; tfds downloads SVHN, so it needs a connected machine or a prepared
--data_dir; the MNIST evaluator does not score it). Details and the choices the paper leaves open:
vaegan_tf/studies/figure6.py."""

import dataclasses

import common_flags
from absl import flags

from vaegan_tf.studies import figure6

DEFAULTS = figure6.Figure6Config()
flags.DEFINE_enum("dataset", "mnist", ["mnist", "svhn"], "Which panel of the figure.")
flags.DEFINE_integer("epochs", DEFAULTS.epochs, "Training epochs.")
flags.DEFINE_boolean(
    "smoke",
    False,
    f"A short run: 1 epoch of {common_flags.SMOKE_STEPS} steps, 100 samples per digit, 1,000 "
    "validation and test images.",
)
common_flags.at_least_one("epochs")
FLAGS = flags.FLAGS


def main(_):
    config = dataclasses.replace(
        DEFAULTS,
        dataset=FLAGS.dataset,
        epochs=FLAGS.epochs,
        seed=FLAGS.seed,
        run=common_flags.run_settings(),
        name=figure6.results_name(FLAGS.dataset),
        # the evaluator is an MNIST classifier: another data set's run must not wait for it
        require_evaluator=figure6.measures_sample_quality(FLAGS.dataset),
    )
    if FLAGS.smoke:
        chosen = common_flags.smoke_values(
            f"{common_flags.SMOKE_STEPS} steps per epoch, 100 samples per digit, 1,000 validation and test images, "
            "no evaluator",
            epochs=1,
        )
        config = dataclasses.replace(
            config,
            name=config.name + "_smoke",
            epochs=chosen["epochs"],
            samples_per_class=100,
            run=common_flags.smoke_settings(),
            require_evaluator=False,
        )
    common_flags.check_evaluator(config.require_evaluator)
    with config.run.session(config.name):
        print(figure6.run(config))


if __name__ == "__main__":
    common_flags.run(main)
