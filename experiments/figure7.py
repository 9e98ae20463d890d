"""`make figure7`: Figure 7 of Chen, Fang, Ju (2016), CVAE-GAN samples per digit on MNIST, side by
side with the Figure 6 CVAE from the same z and y, and the table that measures "less blurry":
conditional accuracy, FD, KID, sharpness per model and per digit. `--dataset=svhn` draws the SVHN
panel (results/figure7_svhn/, beside `make figure6 ARGS=--dataset=svhn`'s CVAE; tfds downloads SVHN,
so it needs a connected machine or a prepared --data_dir; the MNIST evaluator does not score it).
Details and open choices: vaegan_tf/studies/figure7.py."""

import dataclasses

import common_flags
from absl import flags

from vaegan_tf.studies import figure6, figure7

DEFAULTS = figure7.Figure7Config()
flags.DEFINE_enum(
    "preset",
    DEFAULTS.preset,
    sorted(figure7.PRESETS),
    "CVAE-GAN loss weights: the paper's equations, or the authors' code.",
)
flags.DEFINE_enum("dataset", "mnist", ["mnist", "svhn"], "Which panel of the figure.")
flags.DEFINE_integer("epochs", DEFAULTS.epochs, "CVAE-GAN training epochs.")
flags.DEFINE_integer(
    "cvae_epochs", DEFAULTS.cvae.epochs, "Epochs of the CVAE compared with (make figure6's)."
)
flags.DEFINE_boolean(
    "smoke",
    False,
    f"A short run: 1 epoch of {common_flags.SMOKE_STEPS} steps per model, 50 samples per digit, 1,000 validation and test "
    "images.",
)
common_flags.at_least_one("epochs", "cvae_epochs")
FLAGS = flags.FLAGS


def main(_):
    run = common_flags.run_settings()
    name = figure7.results_name(FLAGS.preset, FLAGS.dataset)
    cvae_name = figure6.results_name(FLAGS.dataset)  # make figure6's run of the same panel
    cvae = dataclasses.replace(
        DEFAULTS.cvae,
        name=cvae_name,
        dataset=FLAGS.dataset,
        epochs=FLAGS.cvae_epochs,
        seed=FLAGS.seed,
        run=run,
    )
    config = dataclasses.replace(
        DEFAULTS,
        name=name,
        preset=FLAGS.preset,
        epochs=FLAGS.epochs,
        seed=FLAGS.seed,
        run=run,
        cvae=cvae,
        # the evaluator is an MNIST classifier: another data set's run must not wait for it
        require_evaluator=figure6.measures_sample_quality(FLAGS.dataset),
    )
    if FLAGS.smoke:
        chosen = common_flags.smoke_values(
            f"{common_flags.SMOKE_STEPS} steps per epoch, 50 samples per digit, 1,000 validation and test images, "
            "no evaluator",
            epochs=1,
            cvae_epochs=1,
        )
        smoke_run = common_flags.smoke_settings()
        config = dataclasses.replace(
            config,
            name=name + "_smoke",
            epochs=chosen["epochs"],
            samples_per_class=50,
            run=smoke_run,
            require_evaluator=False,
            cvae=dataclasses.replace(
                cvae, name=cvae_name + "_smoke", epochs=chosen["cvae_epochs"], run=smoke_run
            ),
        )
    common_flags.check_evaluator(config.require_evaluator)
    with config.run.session(config.name):
        print(figure7.run(config))


if __name__ == "__main__":
    common_flags.run(main)
