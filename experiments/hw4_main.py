"""The body the `make hw4_<group>` scripts share: flags to an HW4Config, then the library. Details
and the readings of what the report leaves open: vaegan_tf/studies/hw4.py."""

import dataclasses

import common_flags
from absl import flags

from vaegan_tf.studies import hw4

DEFAULTS = hw4.HW4Config()
EPOCH_FLAGS = {  # group -> (flag, HW4Config field, what it trains)
    "vae": [("epochs", "vae_epochs", "each VAE and the CVAE")],
    "gan": [
        ("gan_epochs", "gan_epochs", "the FC GAN"),
        ("dcgan_epochs", "dcgan_epochs", "the DCGAN"),
    ],
    "cgan": [
        ("cgan_epochs", "cgan_epochs", "the CGAN"),
        ("cdcgan_epochs", "cdcgan_epochs", "the CDCGAN"),
    ],
    "wgan": [
        ("epochs", "wgan_epochs", "each WGAN (an epoch: one pass of the critic over the data)")
    ],
}
SMOKE_STEPS, SMOKE_IMAGES, SMOKE_EPOCH_SAMPLES = common_flags.SMOKE_STEPS, 1000, 500
FLAGS = flags.FLAGS


def define_flags(group: str) -> None:
    names = []
    for flag, field, what in EPOCH_FLAGS[group]:
        flags.DEFINE_integer(flag, getattr(DEFAULTS, field), f"Training epochs of {what}.")
        names.append(flag)
    if group == "vae":
        flags.DEFINE_integer(
            "importance_samples", DEFAULTS.importance_samples, "k of the importance-weighted NLL."
        )
        names.append("importance_samples")
    flags.DEFINE_integer(
        "quality_samples", DEFAULTS.quality_samples, "Samples per model for FD, KID, IS, coverage."
    )
    flags.DEFINE_boolean(
        "smoke",
        False,
        f"A short run on real MNIST: 2 epochs of {SMOKE_STEPS} steps per model, "
        f"{SMOKE_IMAGES:,} samples and test images, k = 20; checks the outputs' values.",
    )
    common_flags.at_least_one(*names, "quality_samples")


def config_from_flags(group: str) -> hw4.HW4Config:
    epochs = {field: FLAGS[flag].value for flag, field, _ in EPOCH_FLAGS[group]}
    extra = {"importance_samples": FLAGS.importance_samples} if group == "vae" else {}
    config = dataclasses.replace(
        DEFAULTS,
        group=group,
        seed=FLAGS.seed,
        run=common_flags.run_settings(),
        quality_samples=FLAGS.quality_samples,
        **epochs,
        **extra,
    )
    if FLAGS.smoke:
        smoke_flags = {flag: 2 for flag, _, _ in EPOCH_FLAGS[group]}
        if group == "vae":
            smoke_flags["importance_samples"] = 20
        chosen = common_flags.smoke_values(
            f"{SMOKE_STEPS} steps per epoch, {SMOKE_IMAGES:,} samples and test images, "
            f"{SMOKE_EPOCH_SAMPLES} "
            "samples for the per-epoch FD, the evaluator if there is one",
            **smoke_flags,
        )
        chosen_epochs = {field: chosen[flag] for flag, field, _ in EPOCH_FLAGS[group]}
        extra = {"importance_samples": chosen["importance_samples"]} if group == "vae" else {}
        config = dataclasses.replace(
            config,
            smoke=True,
            run=common_flags.smoke_settings(steps_per_epoch=SMOKE_STEPS),
            quality_samples=SMOKE_IMAGES,
            epoch_samples=SMOKE_EPOCH_SAMPLES,
            test_images=SMOKE_IMAGES,
            require_evaluator=False,
            **chosen_epochs,
            **extra,
        )
    return config


def main_for(group: str):
    def main(_):
        config = config_from_flags(group)
        common_flags.check_evaluator(config.require_evaluator)
        with config.run.session(config.name):
            metrics = hw4.run(config)
        for claim in metrics["claims"]:
            print(f"{claim['verdict']}: {claim['claim']} ({claim['measured']})")

    return main
