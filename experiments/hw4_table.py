"""`make hw4_table`: the one table over every model of Srinivasan, Baur & Huber (2018) (FD, KID, IS,
digit coverage, conditional accuracy, ELBO and NLL, epochs, wall time, beside real-vs-real) and
every claim's verdict, from the results of make hw4_vae, hw4_gan, hw4_cgan and hw4_wgan, into
results/hw4/."""

import common_flags
from absl import flags

from vaegan_tf.studies import hw4_report

flags.DEFINE_boolean(
    "smoke", False, "Join the groups' --smoke results instead, into results/hw4_smoke/."
)


def main(_):
    common_flags.run_joined_table("hw4", hw4_report.write_table, flags.FLAGS.smoke)


if __name__ == "__main__":
    common_flags.run(main)
