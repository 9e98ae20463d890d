"""`make table1`: Table 1 of Chen, Fang, Ju (2016), semi-supervised test error on MNIST with 1000 and 600
labels, for M2 with the fully connected and the convolutional networks and the SSL-VAE-GAN (conv M2 with a GAN),
beside the paper's numbers. `--quick` (`make table1 QUICK=1`) is a shorter schedule, reported as such.
Writes results/table1/: table1.md, table1.csv, metrics.json, config.json, environment.json.

Choices the paper leaves open: epochs (FC: 100; conv and conv+GAN: 30 as the authors' conv code); the protocol, `--protocol=
kingma` (default: Kingma et al.'s mixed minibatches, exact sum over labels, alpha = 0.1 N / N_labelled, Adam
3e-4, 100 labelled + 100 unlabelled images per step; results/table1/) or `--protocol=paper` (the authors'
code; results/table1_paper_protocol/); pixels in [0, 1]. See vaegan_tf/studies/ssl.py and models/m2.py."""

import csv
import dataclasses
import time

from absl import app, flags

import common_flags
from vaegan_tf import records
from vaegan_tf.studies import ssl

flags.DEFINE_list("rows", list(ssl.ROWS), "Table rows: fc, conv, conv+gan.")
flags.DEFINE_list("labels", ["1000", "600"], "Numbers of labelled examples.")
flags.DEFINE_list("label_seeds", ["0"], "Seeds of the labelled subsets (one run each; mean and spread).")
flags.DEFINE_enum("protocol", "kingma", ["kingma", "paper"],
                  "kingma: mixed minibatches, exact sum over labels; paper: the authors' code.")
flags.DEFINE_boolean("quick", False, "Short schedule: 5 epochs of 100 steps per cell.")
FLAGS = flags.FLAGS


def config_from_flags() -> ssl.Table1Config:
    unknown = set(FLAGS.rows) - set(ssl.ROWS)
    if unknown:
        raise app.UsageError(f"unknown --rows {sorted(unknown)}; choose from {', '.join(ssl.ROWS)}")
    quick = {"steps_per_epoch": 100} if FLAGS.quick else {}
    base = dataclasses.replace(ssl.SSLStudyConfig(), run=common_flags.run_settings(**quick))
    config = ssl.Table1Config(name="table1" if FLAGS.protocol == "kingma" else "table1_paper_protocol", rows=tuple(FLAGS.rows), labels=tuple(int(n) for n in FLAGS.labels),
                              seeds=tuple(int(s) for s in FLAGS.label_seeds), protocol=FLAGS.protocol, base=base)
    if FLAGS.quick:
        config = dataclasses.replace(config, name=config.name + "_quick", epochs={row: 5 for row in ssl.ROWS})
    return config


def main(_):
    started = time.perf_counter()
    config = config_from_flags()
    cells = ssl.run_table1(config)
    out = config.base.run.results(config.name)
    table = ssl.table1_markdown(cells)
    out.mkdir(parents=True, exist_ok=True)
    (out / "table1.md").write_text(f"# {config.name}: semi-supervised test error on MNIST\n\n{table}")
    with open(out / "table1.csv", "w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=sorted({k for c in cells for k in c}))
        writer.writeheader()
        writer.writerows(cells)
    records.write_json(out / "metrics.json", cells)
    records.write_json(out / "config.json", config)
    records.write_json(out / "environment.json", records.environment(
        wall_seconds=sum(c.get("wall_seconds", 0) for c in cells), total_seconds=time.perf_counter() - started))
    print(table)


if __name__ == "__main__":
    app.run(main)
