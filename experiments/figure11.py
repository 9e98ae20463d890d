"""`make figure11`: Figure 11 of Chen, Fang, Ju (2016), DRAW-GAN's reconstructions and samples,
beside Figure 10's DRAW from the same codes, and the table that measures how DRAW-GAN's samples
differ (FD, KID, Inception score, sharpness, digit coverage). --preset=authors_code trains the
authors' drawgan.py reading into results/figure11_authors_code/. Speed per training step: make
benchmark ARGS=--models=draw_gan,draw_gan_authors_code. Details: vaegan_tf/studies/figure11.py."""

import dataclasses

import common_flags
from absl import flags

from vaegan_tf.studies import figure10, figure11

DEFAULTS = figure11.Figure11Config()
flags.DEFINE_enum(
    "preset",
    DEFAULTS.preset,
    sorted(figure11.PRESETS),
    "DRAW-GAN reading: the paper's text, or the authors' code.",
)
flags.DEFINE_integer(
    "epochs", None, "DRAW-GAN epochs (default: 50,000 iterations at the preset's batch)."
)
flags.DEFINE_integer(
    "draw_epochs",
    None,
    f"Epochs of the DRAW compared (make figure10's, default {figure10.RUNS['draw'].epochs}).",
)
flags.DEFINE_boolean(
    "smoke",
    False,
    f"Seconds on real MNIST: 1 epoch of {common_flags.SMOKE_STEPS} steps per model, 200 test "
    "images and samples, every output checked; results in figure11_smoke/.",
)
common_flags.at_least_one("epochs", "draw_epochs", allow_none=True)
FLAGS = flags.FLAGS


def config_from_flags() -> figure11.Figure11Config:
    run = common_flags.run_settings()
    draw_epochs = () if FLAGS.draw_epochs is None else (("draw", FLAGS.draw_epochs),)
    compared = dataclasses.replace(DEFAULTS.figure10, seed=FLAGS.seed, run=run, epochs=draw_epochs)
    config = dataclasses.replace(
        DEFAULTS,
        name=figure11.results_name(FLAGS.preset),
        preset=FLAGS.preset,
        epochs=FLAGS.epochs,
        seed=FLAGS.seed,
        run=run,
        figure10=compared,
    )
    if FLAGS.smoke:
        chosen = common_flags.smoke_values(
            f"{common_flags.SMOKE_STEPS} steps an epoch, 200 test images and samples, no evaluator "
            "needed, outputs checked",
            epochs=1,
            draw_epochs=1,
        )
        smoke_run = common_flags.run_settings(
            steps_per_epoch=common_flags.SMOKE_STEPS, evaluation_images=200
        )
        config = dataclasses.replace(
            config,
            name=config.name.replace("figure11", "figure11_smoke"),
            epochs=chosen["epochs"],
            run=smoke_run,
            quality_samples=200,
            require_evaluator=False,
            check_outputs=True,
            figure10=dataclasses.replace(
                compared,
                name="figure10_smoke",
                run=smoke_run,
                epochs=(("draw", chosen["draw_epochs"]),),
            ),
        )
    return config


def main(_):
    config = config_from_flags()
    common_flags.check_evaluator(config.require_evaluator)
    with config.run.session(config.name):
        metrics = figure11.run(config)
    print({k: v for k, v in metrics.items() if not isinstance(v, dict)})


if __name__ == "__main__":
    common_flags.run(main)
