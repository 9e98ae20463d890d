"""The body `make vaegan` and `make dfcvae` share: flags to a VariantConfig, then the library."""

import dataclasses

import common_flags
from absl import app, flags

from vaegan_tf.models.vae_gan import BALANCE_RULES
from vaegan_tf.studies import vaegan_dfcvae

DEFAULTS = vaegan_dfcvae.VariantConfig()
flags.DEFINE_integer(
    "epochs", None, f"Training epochs of the variant (default {vaegan_dfcvae.EPOCHS})."
)
flags.DEFINE_integer(
    "baseline_epochs",
    DEFAULTS.baseline.epochs,
    "Epochs of the plain VAE compared with (make vae's).",
)
flags.DEFINE_enum(
    "balance",
    DEFAULTS.vae_gan.balance,
    BALANCE_RULES,
    "make vaegan only: which of D's costs the equilibrium reads (vaegan_tf/models/vae_gan.py); "
    "another rule than the default writes results/vaegan_<rule>/.",
)
flags.DEFINE_boolean(
    "smoke",
    False,
    f"A short run: 1 epoch of {common_flags.SMOKE_STEPS} steps per model, 200 samples, 1,000 validation and test images.",
)
common_flags.at_least_one("epochs", allow_none=True)
common_flags.at_least_one("baseline_epochs")
FLAGS = flags.FLAGS


def run(variant: str):
    run_settings = common_flags.run_settings()
    baseline = dataclasses.replace(
        DEFAULTS.baseline,
        epochs=FLAGS.baseline_epochs,
        name="vae_mnist",  # the run settings add the seed: make vae's run of the same seed
    )
    name = variant
    if FLAGS.balance != DEFAULTS.vae_gan.balance:
        if variant != "vaegan":
            raise app.UsageError("--balance is a VAE-GAN setting; make dfcvae has no discriminator")
        name = f"{variant}_{FLAGS.balance}"
    config = dataclasses.replace(
        DEFAULTS,
        variant=variant,
        name=name,
        epochs=FLAGS.epochs,
        seed=FLAGS.seed,
        run=run_settings,
        baseline=baseline,
        vae_gan=dataclasses.replace(DEFAULTS.vae_gan, balance=FLAGS.balance),
    )
    if FLAGS.smoke:
        chosen = common_flags.smoke_values(
            f"perceptual network 1 epoch, {common_flags.SMOKE_STEPS} steps per epoch, 200 samples, "
            "1,000 validation and test images, no evaluator",
            epochs=1,
            baseline_epochs=1,
        )
        config = dataclasses.replace(
            config,
            name=f"{variant}_smoke",
            epochs=chosen["epochs"],
            perceptual_epochs=1,
            quality_samples=200,
            run=common_flags.smoke_settings(),
            require_evaluator=False,
            baseline=dataclasses.replace(
                baseline, name="vae_mnist_smoke", epochs=chosen["baseline_epochs"]
            ),
        )
    common_flags.check_evaluator(config.require_evaluator)
    with config.run.session(config.name):
        print(vaegan_dfcvae.run(config))
