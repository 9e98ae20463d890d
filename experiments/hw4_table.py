"""`make hw4_table`: the one table over every model of Srinivasan, Baur & Huber (2018) (FD, KID, IS,
digit coverage, conditional accuracy, ELBO and NLL, epochs, wall time, beside real-vs-real) and
every claim's verdict, from the results of make hw4_vae, hw4_gan, hw4_cgan and hw4_wgan, into
results/hw4/."""

from pathlib import Path

import common_flags
from absl import flags

from vaegan_tf.studies import hw4_report

flags.DEFINE_boolean(
    "smoke", False, "Join the groups' --smoke results instead, into results/hw4_smoke/."
)
FLAGS = flags.FLAGS


def main(_):
    run = common_flags.run_settings()
    suffix = "_smoke" if FLAGS.smoke else ""
    with run.session(f"hw4{suffix}"):
        # the groups' folders end as this table's does: _smoke, then the precision if not float32
        readme = hw4_report.write_table(
            Path(run.results_root), run.results(f"hw4{suffix}"), run.named(suffix)
        )
        print(readme.read_text())


if __name__ == "__main__":
    common_flags.run(main)
