"""`make table1`: Table 1 of Chen, Fang, Ju (2016), semi-supervised test error on MNIST with 1000 and 600
labels, for M2 with the fully connected and the convolutional networks and the SSL-VAE-GAN (conv M2 with a GAN),
beside the paper's numbers. `--quick` (`make table1 QUICK=1`) is a shorter schedule, reported as such.
Writes results/table1/: table1.md, table1.csv, metrics.json, config.json, environment.json.

Choices the paper leaves open: epochs (FC: 100; conv and conv+GAN: 30 as the authors' conv code); pixels in
[0, 1]; the protocol. `--protocol=kingma` (default, results/table1/) is Kingma et al.'s: mixed minibatches,
the exact sum over the ten labels, alpha = 0.1 N / N_labelled, Adam 3e-4. `--protocol=paper`
(results/table1_paper_protocol/) is the authors' code: labelled batches, then unlabelled batches, soft
q(y|x) as the decoder's y, alpha = 0.1 N, one Adam per kind of batch; here it stays far from the paper's
numbers (FC, 1000 labels: validation error 28%, 28%, 26% after epochs 1-3), so it is not the default.
The full schedule decodes every unlabelled image once per label: about a day on 2 CPU cores, hours on a
GPU. `--quick` is 5 epochs of 100 steps per cell. See vaegan_tf/studies/ssl.py and models/m2.py."""

import dataclasses
import time

from absl import app, flags

import common_flags
from vaegan_tf.studies import ssl, table1_report

QUICK_EPOCHS, QUICK_STEPS = 5, 100
flags.DEFINE_list("rows", list(ssl.ROWS), "Table rows: fc, conv, conv+gan, and conv+gan+pixel (not the paper's: "
                  "the SSL-VAE-GAN keeping M2's pixel likelihood).")
DEFAULT_LABELS = ["1000", "600"]
flags.DEFINE_list("labels", DEFAULT_LABELS, "Numbers of labelled examples.")
flags.DEFINE_list("label_seeds", ["0"], "Seeds of the labelled subsets (one run each; mean and spread).")
flags.DEFINE_enum("protocol", "kingma", ["kingma", "paper"],
                  "kingma: mixed minibatches, exact sum over labels; paper: the authors' code (see the docstring).")
flags.DEFINE_boolean("quick", False, f"Short schedule: {QUICK_EPOCHS} epochs of {QUICK_STEPS} steps per cell.")
FLAGS = flags.FLAGS


def results_name() -> str:
    """table1[_paper_protocol][_quick]; a run of some rows or labels is named apart so that it never
    overwrites the whole table."""
    name = "table1" + ("" if FLAGS.protocol == "kingma" else f"_{FLAGS.protocol}_protocol")
    name += "_quick" if FLAGS.quick else ""
    if tuple(FLAGS.rows) != ssl.ROWS:
        name += "_rows-" + "-".join(FLAGS.rows)
    if FLAGS.labels != DEFAULT_LABELS:
        name += "_labels-" + "-".join(FLAGS.labels)
    return name


def config_from_flags() -> ssl.Table1Config:
    rows = ssl.ROWS + ssl.EXTRA_ROWS
    unknown = set(FLAGS.rows) - set(rows)
    if unknown:
        raise app.UsageError(f"unknown --rows {sorted(unknown)}; choose from {', '.join(rows)}")
    quick = {"steps_per_epoch": QUICK_STEPS} if FLAGS.quick else {}
    base = dataclasses.replace(ssl.SSLStudyConfig(), run=common_flags.run_settings(**quick))
    config = ssl.Table1Config(name=results_name(), rows=tuple(FLAGS.rows), labels=tuple(int(n) for n in FLAGS.labels),
                              seeds=tuple(int(s) for s in FLAGS.label_seeds), protocol=FLAGS.protocol, base=base)
    if FLAGS.quick:
        config = dataclasses.replace(config, epochs={row: QUICK_EPOCHS for row in rows})
    return config


def make_command() -> str:
    """The `make` line that reproduces this run, for its README."""
    changed = [f"--{flag}={','.join(value) if isinstance(value, list) else value}"
               for flag, value, default in [("protocol", FLAGS.protocol, "kingma"), ("rows", FLAGS.rows, list(ssl.ROWS)),
                                            ("labels", FLAGS.labels, DEFAULT_LABELS), ("label_seeds", FLAGS.label_seeds, ["0"])]
               if value != default]
    return "make table1" + (" QUICK=1" if FLAGS.quick else "") + (f" ARGS='{' '.join(changed)}'" if changed else "")


def main(_):
    started = time.perf_counter()
    config = config_from_flags()
    out = config.base.run.results(config.name)
    command = make_command()
    # the table is rewritten after every cell: a run stopped part way leaves its finished cells reported
    cells = ssl.run_table1(config, after_each_cell=lambda cells: table1_report.write_results(
        out, cells, config, command, started), earlier=table1_report.earlier_cells(out))
    print(table1_report.table1_markdown(cells))


if __name__ == "__main__":
    app.run(main)
