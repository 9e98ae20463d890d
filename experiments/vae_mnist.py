"""`make vae`: the plain VAE of Chen, Fang, Ju (2016) Sec. 2.1 on binarized MNIST, measured
(held-out ELBO, importance-weighted NLL, sample quality). `--smoke` is `make smoke`: a one-minute
run of the same model on real MNIST that writes a sample grid to results/smoke/. Details:
vaegan_tf/studies/vae_mnist.py."""

import dataclasses

import common_flags
from absl import flags

from vaegan_tf import records
from vaegan_tf.studies import vae_mnist

DEFAULTS = vae_mnist.VAEStudyConfig()
flags.DEFINE_integer("epochs", DEFAULTS.epochs, "Training epochs.")
flags.DEFINE_integer(
    "importance_samples", DEFAULTS.importance_samples, "k of the importance-weighted NLL."
)
flags.DEFINE_boolean("smoke", False, "One-minute run: 2 short epochs, k = 10, 1,000 test images.")
common_flags.at_least_one("epochs", "importance_samples")
FLAGS = flags.FLAGS
SMOKE_STEPS, SMOKE_IMAGES = 100, 1000


def config_from_flags() -> vae_mnist.VAEStudyConfig:
    config = dataclasses.replace(
        DEFAULTS,
        epochs=FLAGS.epochs,
        seed=FLAGS.seed,
        run=common_flags.run_settings(),
        importance_samples=FLAGS.importance_samples,
    )
    if FLAGS.smoke:
        chosen = common_flags.smoke_values(
            f"{SMOKE_STEPS} steps per epoch, {SMOKE_IMAGES:,} test images and samples, "
            "no evaluator, results in smoke/",
            epochs=2,
            importance_samples=10,
        )
        config = dataclasses.replace(
            config,
            name="smoke",
            epochs=chosen["epochs"],
            run=common_flags.run_settings(steps_per_epoch=SMOKE_STEPS),
            importance_samples=chosen["importance_samples"],
            test_images=SMOKE_IMAGES,
            quality_samples=SMOKE_IMAGES,
            require_evaluator=False,
        )
    # config.json and the README name the command that ran (the entry point records it)
    command = records.COMMAND or ("make smoke" if FLAGS.smoke else config.command)
    return dataclasses.replace(config, command=command)


def main(_):
    config = config_from_flags()
    common_flags.check_evaluator(config.require_evaluator)
    with config.run.session(config.name):
        metrics = vae_mnist.run(config)
    print({k: v for k, v in metrics.items() if not isinstance(v, dict)})


if __name__ == "__main__":
    common_flags.run(main)
