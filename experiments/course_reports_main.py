"""The body `make hu` and `make gaikwad` share: flags to a CourseReportConfig, then the library.
Details and the readings of what the reports leave open: vaegan_tf/studies/course_reports.py."""

import dataclasses

import common_flags
from absl import app, flags

from vaegan_tf.models import course_reports as nets
from vaegan_tf.studies import course_reports

DEFAULTS = course_reports.CourseReportConfig()
DEFAULTS_OF = {
    report: course_reports.CourseReportConfig(report=report) for report in course_reports.REPORTS
}
FLAGS = flags.FLAGS


def define_flags(report: str) -> None:
    vae_epochs, gan_epochs = course_reports.EPOCHS[report]
    flags.DEFINE_integer("vae_epochs", vae_epochs, "Training epochs of each VAE.")
    flags.DEFINE_integer("gan_epochs", gan_epochs, "Training epochs of each GAN.")
    if report == "gaikwad":
        flags.DEFINE_list(
            "learning_rates",
            [f"{rate:g}" for rate in nets.GAIKWAD_GAN_LEARNING_RATES],
            "Each GAN is trained at every one of these Adam learning rates (his Table 3's).",
        )
    flags.DEFINE_integer(
        "importance_samples", DEFAULTS.importance_samples, "k of the importance-weighted NLL."
    )
    flags.DEFINE_integer(
        "quality_samples", DEFAULTS.quality_samples, "Samples per model for FD, KID, IS, coverage."
    )
    flags.DEFINE_boolean(
        "smoke",
        False,
        f"A short run on real MNIST: 2 epochs of {common_flags.SMOKE_STEPS} steps per model, "
        f"{common_flags.COURSE_SMOKE_IMAGES:,} samples and test images, k = 20.",
    )
    flags.DEFINE_list(
        "models",
        [],
        "Train and measure only these models, each into its cell (results/<report>/models/<key>/), "
        "and write no table: one report split over cores or sessions; a run without it then "
        "joins the finished cells into the table, training only the missing ones. "
        f"Models: {', '.join(course_reports.model_keys(DEFAULTS_OF[report]))}.",
    )
    common_flags.at_least_one("vae_epochs", "gan_epochs", "importance_samples", "quality_samples")


def learning_rates(report: str) -> tuple[float, ...]:
    if report != "gaikwad":
        return DEFAULTS.learning_rates
    try:
        return tuple(float(rate) for rate in FLAGS.learning_rates)
    except ValueError as error:
        raise app.UsageError(f"--learning_rates takes numbers: {error}") from error


def config_from_flags(report: str) -> course_reports.CourseReportConfig:
    config = dataclasses.replace(
        DEFAULTS,
        report=report,
        seed=FLAGS.seed,
        run=common_flags.run_settings(),
        vae_epochs=FLAGS.vae_epochs,
        gan_epochs=FLAGS.gan_epochs,
        learning_rates=learning_rates(report),
        importance_samples=FLAGS.importance_samples,
        quality_samples=FLAGS.quality_samples,
    )
    if FLAGS.smoke:
        config, chosen = common_flags.course_report_smoke(
            config, vae_epochs=2, gan_epochs=2, importance_samples=20
        )
        config = dataclasses.replace(config, **chosen)
    return config


def main_for(report: str):
    def main(_):
        config = config_from_flags(report)
        if not FLAGS.models:
            common_flags.run_claims_study(config, course_reports.run)
            return
        common_flags.check_evaluator(config.require_evaluator)
        try:
            measured = course_reports.train(config, FLAGS.models)
        except ValueError as error:
            raise app.UsageError(f"--models: {error}") from error
        print(
            f"Measured (or found measured): {', '.join(measured)}, in "
            f"{course_reports.cell_folder(config, '<key>')}. Run without --models for the table."
        )

    return main
