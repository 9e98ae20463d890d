"""`make table1`: Table 1 of Chen, Fang, Ju (2016), semi-supervised test error on MNIST with 1000 and 600
labels, for M2 with the fully connected and the convolutional networks and the SSL-VAE-GAN (conv M2 with a GAN),
beside the paper's numbers. `--quick` (`make table1 QUICK=1`) is a shorter schedule, reported as such.
Writes results/table1/: table1.md, table1.csv, metrics.json, config.json, environment.json.

Choices the paper leaves open: epochs (FC: 100; conv and conv+GAN: 30 as the authors' conv code); pixels in
[0, 1]; the protocol. `--protocol=paper` (default, results/table1/) is the authors' code that produced the
paper's numbers: labelled batches, then unlabelled batches, soft q(y|x) as the decoder's y, alpha = 0.1 N.
`--protocol=kingma` (results/table1_kingma_protocol/) is Kingma et al.'s: mixed minibatches, the exact sum
over the ten labels, alpha = 0.1 N / N_labelled, Adam 3e-4; decoding every unlabelled image once per label
makes its conv and conv+GAN cells about ten times dearer (days on a CPU at the full schedule).
See vaegan_tf/studies/ssl.py and models/m2.py."""

import dataclasses
import time

from absl import app, flags

import common_flags
from vaegan_tf.studies import ssl, table1_report

QUICK_EPOCHS = 3  # whole epochs: the paper protocol sees its labelled batches once per pass
flags.DEFINE_list("rows", list(ssl.ROWS), "Table rows: fc, conv, conv+gan.")
flags.DEFINE_list("labels", ["1000", "600"], "Numbers of labelled examples.")
flags.DEFINE_list("label_seeds", ["0"], "Seeds of the labelled subsets (one run each; mean and spread).")
flags.DEFINE_enum("protocol", "paper", ["paper", "kingma"],
                  "paper: the authors' code (the paper's numbers); kingma: mixed minibatches, exact sum over labels.")
flags.DEFINE_boolean("quick", False, f"Short schedule: {QUICK_EPOCHS} full epochs per cell.")
FLAGS = flags.FLAGS


def config_from_flags() -> ssl.Table1Config:
    unknown = set(FLAGS.rows) - set(ssl.ROWS)
    if unknown:
        raise app.UsageError(f"unknown --rows {sorted(unknown)}; choose from {', '.join(ssl.ROWS)}")
    base = dataclasses.replace(ssl.SSLStudyConfig(), run=common_flags.run_settings())
    config = ssl.Table1Config(name="table1" if FLAGS.protocol == "paper" else f"table1_{FLAGS.protocol}_protocol",
                              rows=tuple(FLAGS.rows), labels=tuple(int(n) for n in FLAGS.labels),
                              seeds=tuple(int(s) for s in FLAGS.label_seeds), protocol=FLAGS.protocol, base=base)
    if FLAGS.quick:
        config = dataclasses.replace(config, name=config.name + "_quick", epochs={row: QUICK_EPOCHS for row in ssl.ROWS})
    return config


def main(_):
    started = time.perf_counter()
    config = config_from_flags()
    cells = ssl.run_table1(config)
    out = config.base.run.results(config.name)
    command = "make table1" + (" QUICK=1" if FLAGS.quick else "") + (f" ARGS='--protocol={FLAGS.protocol}'"
                                                                     if FLAGS.protocol != "paper" else "")
    table1_report.write_results(out, cells, config, command, started)
    print(table1_report.table1_markdown(cells))


if __name__ == "__main__":
    app.run(main)
