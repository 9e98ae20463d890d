"""`make figure10`: Figure 10 of Chen, Fang, Ju (2016) and the poster's DRAW panels (DRAW and
conditional DRAW: reconstructions, samples, canvas sequences with their attention windows, sample
quality) and DRAW's variational bound on binarised MNIST at the DRAW paper's setting, with and
without attention. Each model writes results/figure10/<model>/; --models picks some (the likelihood
models train for days on a CPU, and resume). Their speed per training step: make benchmark
ARGS=--models=draw,conditional_draw,draw_paper_attention,draw_paper_no_attention. Details:
vaegan_tf/studies/figure10.py."""

import dataclasses

import common_flags
from absl import app, flags

from vaegan_tf.studies import draw_report, figure10

DEFAULTS = figure10.Figure10Config()
flags.DEFINE_list("models", list(DEFAULTS.models), f"Which of {', '.join(figure10.RUNS)} to train.")
flags.DEFINE_integer(
    "draw_epochs",
    None,
    f"DRAW epochs (default {figure10.RUNS['draw'].epochs}, the authors' 50,000 iterations of 256).",
)
flags.DEFINE_integer(
    "conditional_epochs",
    None,
    "Conditional DRAW epochs (default "
    f"{figure10.RUNS['conditional_draw'].epochs}, 50,000 iterations of 100).",
)
flags.DEFINE_integer(
    "likelihood_epochs",
    None,
    "Epochs of each likelihood model (default "
    f"{figure10.RUNS['draw_paper_attention'].epochs}, the public reproduction's).",
)
flags.DEFINE_integer(
    "importance_samples", DEFAULTS.importance_samples, "k of the importance-weighted NLL."
)
flags.DEFINE_integer("likelihood_images", None, "Test images for the bound (default: all 10,000).")
flags.DEFINE_boolean(
    "smoke",
    False,
    f"Seconds per model on real MNIST: 1 epoch of {common_flags.SMOKE_STEPS} steps, 200 test images, "
    "k = 3, 200 samples, every output checked; results in figure10_smoke/.",
)
common_flags.at_least_one("importance_samples")
common_flags.at_least_one(
    "draw_epochs", "conditional_epochs", "likelihood_epochs", "likelihood_images", allow_none=True
)
FLAGS = flags.FLAGS


def config_from_flags() -> figure10.Figure10Config:
    unknown = [name for name in FLAGS.models if name not in figure10.RUNS]
    if unknown:
        raise app.UsageError(f"--models: unknown {unknown}; choose from {', '.join(figure10.RUNS)}")
    epochs = {
        "draw": FLAGS.draw_epochs,
        "conditional_draw": FLAGS.conditional_epochs,
        **{name: FLAGS.likelihood_epochs for name in figure10.LIKELIHOOD_MODELS},
    }
    config = dataclasses.replace(
        DEFAULTS,
        models=tuple(FLAGS.models),
        seed=FLAGS.seed,
        run=common_flags.run_settings(),
        epochs=tuple((name, value) for name, value in epochs.items() if value is not None),
        importance_samples=FLAGS.importance_samples,
        likelihood_images=FLAGS.likelihood_images,
    )
    if FLAGS.smoke:
        chosen = common_flags.smoke_values(
            f"{common_flags.SMOKE_STEPS} steps an epoch, 200 test images and samples, no evaluator "
            "needed, outputs checked, results in figure10_smoke/",
            importance_samples=3,
        )
        smoke_epochs = {name: dict(config.epochs).get(name, 1) for name in config.models}
        config = dataclasses.replace(
            config,
            name="figure10_smoke",
            epochs=tuple(smoke_epochs.items()),
            importance_samples=chosen["importance_samples"],
            likelihood_images=200,
            quality_samples=200,
            require_evaluator=False,
            check_outputs=True,
            run=common_flags.run_settings(
                steps_per_epoch=common_flags.SMOKE_STEPS, evaluation_images=200
            ),
        )
    return config


def main(_):
    config = config_from_flags()
    common_flags.check_evaluator(config.require_evaluator)
    with config.run.session(config.name):
        metrics = figure10.run(config)
    draw_report.write_figure10_readme(config.run.results(config.name), figure10.RUNS)
    print(
        {
            name: {k: v for k, v in m.items() if not isinstance(v, dict)}
            for name, m in metrics.items()
        }
    )


if __name__ == "__main__":
    common_flags.run(main)
