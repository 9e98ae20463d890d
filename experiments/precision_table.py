"""`make precision_table`: what bfloat16 changes in what the models learn. Joins the studies run
both in float32 and under --precision=mixed_bfloat16 on several seeds (make hw4_vae, make table1
ARGS=--protocol=authors_code, make gan) into results/precision/: each model's measure per precision, mean
and spread over seeds, and whether the difference is inside the seed spread. Trains nothing.
Details: vaegan_tf/studies/precision_report.py."""

import common_flags

from vaegan_tf.studies import precision_report


def main(_):
    common_flags.run_joined_table("precision", precision_report.write_table, smoke=False)


if __name__ == "__main__":
    common_flags.run(main)
