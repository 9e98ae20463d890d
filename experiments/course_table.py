"""`make course_table`: the one table over every model of Hu (2018) and Gaikwad (2020) (FD, KID,
IS, digit coverage, sharpness, ELBO and NLL, parameters, epochs, wall time, beside real-vs-real)
and each report's conclusions with their verdicts, from the results of make hu and make gaikwad,
into results/course_reports/."""

from pathlib import Path

import common_flags
from absl import flags

from vaegan_tf.studies import course_reports_report

flags.DEFINE_boolean(
    "smoke", False, "Join the reports' --smoke results instead, into results/course_reports_smoke/."
)
FLAGS = flags.FLAGS


def main(_):
    run = common_flags.run_settings()
    suffix = "_smoke" if FLAGS.smoke else ""
    with run.session(f"course_reports{suffix}"):
        # the reports' folders end as this table's does: _smoke, then the precision if not float32
        readme = course_reports_report.write_table(
            Path(run.results_root), run.results(f"course_reports{suffix}"), run.named(suffix)
        )
        print(readme.read_text())


if __name__ == "__main__":
    common_flags.run(main)
