"""`make vae`: the plain VAE of Chen, Fang, Ju (2016) Sec. 2.1 on binarized MNIST, measured (held-out
ELBO, importance-weighted NLL, sample quality). `--smoke` is `make smoke`: a one-minute run of the same
model on real MNIST that writes a sample grid to results/smoke/. Details: vaegan_tf/studies/vae_mnist.py."""

import dataclasses

from absl import app, flags

import common_flags
from vaegan_tf.studies import vae_mnist

DEFAULTS = vae_mnist.VAEStudyConfig()
flags.DEFINE_integer("epochs", DEFAULTS.epochs, "Training epochs.")
flags.DEFINE_integer("importance_samples", DEFAULTS.importance_samples, "k of the importance-weighted NLL.")
flags.DEFINE_boolean("smoke", False, "One-minute run: 2 short epochs, k = 10, 1,000 test images.")
FLAGS = flags.FLAGS


def config_from_flags() -> vae_mnist.VAEStudyConfig:
    config = dataclasses.replace(DEFAULTS, epochs=FLAGS.epochs, seed=FLAGS.seed, run=common_flags.run_settings(),
                                 importance_samples=FLAGS.importance_samples)
    if FLAGS.smoke:
        config = dataclasses.replace(config, name="smoke", epochs=2, run=common_flags.run_settings(steps_per_epoch=100),
                                     importance_samples=10, test_images=1000, quality_samples=1000,
                                     require_evaluator=False)
    return config


def main(_):
    metrics = vae_mnist.run(config_from_flags())
    print({k: v for k, v in metrics.items() if not isinstance(v, dict)})


if __name__ == "__main__":
    app.run(main)
