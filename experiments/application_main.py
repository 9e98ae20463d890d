"""The flags and `main` shared by figure8.py and figure9.py (the FC CVAE applications of Sec.
4.4)."""

import dataclasses

import common_flags
from absl import flags

from vaegan_tf.studies import figure8_9

flags.DEFINE_integer("epochs", figure8_9.ApplicationConfig.epochs, "Training epochs.")
flags.DEFINE_boolean(
    "smoke",
    False,
    f"A short run: 1 epoch of {common_flags.SMOKE_STEPS} steps, 1,000 validation and test images.",
)
common_flags.at_least_one("epochs")
FLAGS = flags.FLAGS


def main_for(defaults: figure8_9.ApplicationConfig):
    def main(_):
        config = dataclasses.replace(
            defaults, epochs=FLAGS.epochs, seed=FLAGS.seed, run=common_flags.run_settings()
        )
        if FLAGS.smoke:
            chosen = common_flags.smoke_values(
                f"{common_flags.SMOKE_STEPS} steps per epoch, 1,000 validation and test images, no evaluator",
                epochs=1,
            )
            config = dataclasses.replace(
                config,
                name=config.name + "_smoke",
                epochs=chosen["epochs"],
                require_evaluator=False,
                run=common_flags.smoke_settings(),
            )
        common_flags.check_evaluator(config.require_evaluator)
        with config.run.session(config.name):
            print(figure8_9.run(config))

    return main
