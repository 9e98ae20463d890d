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
        f"A short run on real MNIST: 2 epochs of {common_flags.SMOKE_STEPS} steps per model, "
        f"{common_flags.COURSE_SMOKE_IMAGES:,} samples and test images, k = 20; checks the "
        "outputs' values.",
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
        config, chosen = common_flags.course_report_smoke(config, **smoke_flags)
        fields = {field: chosen[flag] for flag, field, _ in EPOCH_FLAGS[group]}
        if group == "vae":
            fields["importance_samples"] = chosen["importance_samples"]
        config = dataclasses.replace(config, **fields)
    return config


def main_for(group: str):
    def main(_):
        common_flags.run_claims_study(config_from_flags(group), hw4.run)

    return main
