"""`make gan ARGS=--preset=<name>`: one model of the GAN family (GAN, CGAN, DCGAN, CDCGAN, WGAN
with weight clipping, WGAN-GP), trained on MNIST and measured: samples, FD, KID, IS, sharpness and
for the conditional ones conditional accuracy, in results/gan_<name>/. Models and readings:
vaegan_tf/models/gan.py; the study: vaegan_tf/studies/generative.py. The course report's side-by-
side figures of these models are `make hw4_gan`, `make hw4_cgan`, `make hw4_wgan`."""

import dataclasses

import common_flags
from absl import flags

from vaegan_tf.models import gan
from vaegan_tf.studies import generative, hw4

# The schedules of Srinivasan, Baur & Huber (2018), whose report trains these models on MNIST.
EPOCHS = {
    "gan": hw4.HW4Config.gan_epochs,
    "cgan": hw4.HW4Config.cgan_epochs,
    "dcgan": hw4.HW4Config.dcgan_epochs,
    "cdcgan": hw4.HW4Config.cdcgan_epochs,
    "wgan_clip": hw4.HW4Config.wgan_epochs,
    "wgan_gp": hw4.HW4Config.wgan_epochs,
}
TITLES = {
    "gan": "GAN (Goodfellow et al. 2014)",
    "cgan": "conditional GAN (Mirza & Osindero 2014)",
    "dcgan": "DCGAN (Radford et al. 2016)",
    "cdcgan": "conditional DCGAN",
    "wgan_clip": "WGAN with weight clipping (Arjovsky et al. 2017)",
    "wgan_gp": "WGAN-GP (Gulrajani et al. 2017)",
}
SMOKE_STEPS, SMOKE_SAMPLES = common_flags.SMOKE_STEPS, 1000

flags.DEFINE_enum("preset", "dcgan", list(gan.PRESETS), "Which model of the GAN family.")
flags.DEFINE_integer("epochs", None, "Training epochs (default: the course report's schedule).")
flags.DEFINE_enum(
    "critic_batches",
    None,
    list(gan.CRITIC_BATCHES),
    "Real and fake images in critic batches of their own or in one (vaegan_tf/models/gan.py); "
    "default: the preset's. Another reading than the preset's is a run of its own, in "
    "results/gan_<name>_<reading>_batches/.",
)
flags.DEFINE_integer(
    "quality_samples", generative.GenerativeStudyConfig.quality_samples, "Samples scored."
)
flags.DEFINE_boolean(
    "smoke", False, f"A wiring check: 1 epoch of {SMOKE_STEPS} steps, {SMOKE_SAMPLES} samples."
)
common_flags.at_least_one("epochs", allow_none=True)
common_flags.at_least_one("quality_samples")
FLAGS = flags.FLAGS


def config_from_flags() -> generative.GenerativeStudyConfig:
    preset = FLAGS.preset
    model = gan.PRESETS[preset]
    name = f"gan_{preset}"
    if FLAGS.critic_batches not in (None, model.critic_batches):
        model = dataclasses.replace(model, critic_batches=FLAGS.critic_batches)
        name += f"_{FLAGS.critic_batches}_batches"
    config = generative.GenerativeStudyConfig(
        name=name,
        title=TITLES[preset],
        model=model,
        epochs=FLAGS.epochs or EPOCHS[preset],
        # a step takes one batch of 100 (the course statement) per critic update
        batch_size=100 * model.critic_steps,
        preprocessing="symmetric",  # the generator's tanh output
        conditional=model.num_classes is not None,
        seed=FLAGS.seed,
        run=common_flags.run_settings(),
        quality_samples=FLAGS.quality_samples,
        command=f"make gan ARGS=--preset={preset}"
        + (f" --critic_batches={model.critic_batches}" if name != f"gan_{preset}" else ""),
        source="vaegan_tf/models/gan.py's preset `" + preset + "`, schedule of Srinivasan, "
        "Baur & Huber (2018)",
    )
    if FLAGS.smoke:
        chosen = common_flags.smoke_values(
            f"{SMOKE_STEPS} steps, {SMOKE_SAMPLES} samples, no evaluator",
            epochs=1,
            quality_samples=SMOKE_SAMPLES,
        )
        config = dataclasses.replace(
            config,
            name=config.name + "_smoke",
            epochs=chosen["epochs"],
            quality_samples=chosen["quality_samples"],
            run=common_flags.smoke_settings(steps_per_epoch=SMOKE_STEPS),
            require_evaluator=False,
        )
    return config


def main(_):
    config = config_from_flags()
    common_flags.check_evaluator(config.require_evaluator)
    with config.run.session(config.name):
        metrics = generative.run(config, gan.build_gan)
    print(metrics["sample_quality"])


if __name__ == "__main__":
    common_flags.run(main)
