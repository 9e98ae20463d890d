"""`make course_table`: the one table over every model of Hu (2018) and Gaikwad (2020) (FD, KID,
IS, digit coverage, sharpness, ELBO and NLL, parameters, epochs, wall time, beside real-vs-real)
and each report's conclusions with their verdicts, from the results of make hu and make gaikwad,
into results/course_reports/."""

import common_flags
from absl import flags

from vaegan_tf.studies import course_reports_report

flags.DEFINE_boolean(
    "smoke", False, "Join the reports' --smoke results instead, into results/course_reports_smoke/."
)


def main(_):
    common_flags.run_joined_table(
        "course_reports", course_reports_report.write_table, flags.FLAGS.smoke
    )


if __name__ == "__main__":
    common_flags.run(main)
