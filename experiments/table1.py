"""`make table1`: Table 1 of Chen, Fang, Ju (2016), semi-supervised test error on MNIST with 1000
and 600 labels, for M2 with the fully connected and the convolutional networks and M2 with a GAN
(conv+GAN), beside the paper's, the poster's and the authors' logged numbers and Kingma et al.'s.
`--quick` (`make table1 QUICK=1`) is a shorter schedule, reported as such. Writes results/table1/
(or table1_authors_code/): table1.md, table1.csv, cells.csv, metrics.json, config.json,
environment.json, README.md.

`--protocol=kingma` (default) is the paper's text, Kingma et al.'s M2: mixed minibatches, the exact
sum over the ten labels, alpha = 0.1 N / N_labelled, Adam 3e-4, class-balanced labels, three label
seeds; epochs FC 100, conv and conv+GAN 30 (the authors' conv script). `--protocol=authors_code` is
a port of the code behind the paper's numbers (vaegan_tf/models/m2_authors.py): their networks,
losses, two Adams, 20 epochs, labelled subsets not class-balanced (`--label_subset=random` by
default, or `first`), five seeds. See vaegan_tf/studies/table1.py. `--quick` is 5 epochs of 100 steps
per cell.

A run of some `--rows` or `--labels` writes a table of its own (table1_rows-conv_labels-600), so
several can train at once, one per core; the whole table keeps the cells they measured, and
`--gather` writes it from them without training the rest. `--probe_steps=N` trains each cell's
first N steps only and records what q(y|x) does to each step's batch (results/<table>_probe/): a
collapse to one class shows there within minutes."""

import dataclasses
import time

import common_flags
from absl import app, flags

from vaegan_tf.studies import table1, table1_report

QUICK_EPOCHS, QUICK_STEPS = 5, 100
DEFAULT_LABELS = [str(labels) for labels in table1.LABELS]
DEFAULT_SEEDS = {
    protocol: [str(seed) for seed in seeds] for protocol, seeds in table1.SEEDS.items()
}
DEFAULT_LABEL_SUBSET = {"kingma": "balanced", "authors_code": "random"}
flags.DEFINE_list(
    "rows",
    list(table1.ROWS),
    "Table rows: fc, conv, conv+gan; not the paper's: conv+gan+pixel (kingma only; the "
    "SSL-VAE-GAN keeping M2's pixel likelihood), conv-no-y (authors_code only; their "
    "1000-label conv network at every label count), conv+gan-bn-logits (authors_code only; "
    "their m2gan with batch norm on the class logits) and conv+gan-no-sharpening (authors_code "
    "only; their m2gan without the sharpening term, an ablation).",
)
flags.DEFINE_list(
    "labels", DEFAULT_LABELS, "Numbers of labelled examples (multiples of the ten classes)."
)
flags.DEFINE_list(
    "label_seeds",
    None,
    "Seeds of the labelled subsets and initialisation, one cell each (mean and "
    f"spread); default {DEFAULT_SEEDS}.",
)
flags.DEFINE_enum(
    "protocol",
    "kingma",
    list(table1.PROTOCOLS),
    "kingma: the paper's text (Kingma et al.'s M2); authors_code: the authors' code (see the "
    "docstring).",
)
flags.DEFINE_enum(
    "label_subset",
    None,
    list(table1.LABEL_SUBSETS),
    f"How the labelled examples are chosen; default {DEFAULT_LABEL_SUBSET}.",
)
flags.DEFINE_boolean(
    "quick", False, f"Short schedule: {QUICK_EPOCHS} epochs of {QUICK_STEPS} steps per cell."
)
flags.DEFINE_boolean(
    "gather",
    False,
    "Train nothing: write the table from the cells already measured in it and in the partial "
    "tables beside it (runs of some --rows or --labels); the others stay pending, those with a "
    "backup in --work_root marked as training, with the epochs done.",
)
flags.DEFINE_integer(
    "probe_steps",
    None,
    "Train nothing to a result: run each cell's first N training steps from initialisation and "
    "record, after each, how q(y|x) classifies that step's batch (the share in its most frequent "
    "class); writes results/<table>_probe/. Shows a collapse of q to one class within the first "
    "epoch.",
    lower_bound=1,
)
FLAGS = flags.FLAGS


def seeds() -> list[str]:
    return FLAGS.label_seeds if FLAGS.label_seeds is not None else DEFAULT_SEEDS[FLAGS.protocol]


def label_subset() -> str:
    return FLAGS.label_subset or DEFAULT_LABEL_SUBSET[FLAGS.protocol]


def results_name() -> str:
    """table1[_authors_code][_quick]; a run of some rows or labels is named apart so that it never
    overwrites the whole table."""
    name = "table1" + ("" if FLAGS.protocol == "kingma" else f"_{FLAGS.protocol}")
    name += "_quick" if FLAGS.quick else ""
    if tuple(FLAGS.rows) != table1.ROWS:
        name += "_rows-" + "-".join(FLAGS.rows)
    if FLAGS.labels != DEFAULT_LABELS:
        name += "_labels-" + "-".join(FLAGS.labels)
    if label_subset() != DEFAULT_LABEL_SUBSET[FLAGS.protocol]:
        name += f"_{label_subset()}-labels"
    return name


def _integers(values, flag: str) -> tuple[int, ...]:
    try:
        return tuple(int(value) for value in values)
    except ValueError:
        raise app.UsageError(f"--{flag} takes integers, got {','.join(values)}") from None


def config_from_flags() -> table1.Table1Config:
    """The table's config; bad flags fail here, before any work, with a one-line UsageError."""
    rows = table1.rows_of(FLAGS.protocol)
    unknown = set(FLAGS.rows) - set(rows)
    if unknown or not FLAGS.rows:
        raise app.UsageError(
            f"unknown --rows {sorted(unknown)}; choose from {', '.join(rows)}"
            if unknown
            else f"--rows is empty; choose from {', '.join(rows)}"
        )
    labels = _integers(FLAGS.labels, "labels")
    if not labels or any(n <= 0 or n % 10 for n in labels):
        raise app.UsageError(
            f"--labels must be positive multiples of the 10 classes, got {FLAGS.labels}"
        )
    if FLAGS.seed:
        raise app.UsageError(
            "Table 1 seeds each cell (label subset and initialisation) by --label_seeds; "
            f"--seed={FLAGS.seed} would change nothing: use --label_seeds={FLAGS.seed}"
        )
    label_seeds = _integers(seeds(), "label_seeds")
    if not label_seeds:
        raise app.UsageError("--label_seeds is empty; give at least one seed, e.g. --label_seeds=0")
    quick = {"steps_per_epoch": QUICK_STEPS} if FLAGS.quick else {}
    base = dataclasses.replace(
        table1.SSLStudyConfig(), run=common_flags.run_settings(**quick), label_subset=label_subset()
    )
    epochs = (
        {row: QUICK_EPOCHS for row in rows} if FLAGS.quick else dict(table1.EPOCHS[FLAGS.protocol])
    )
    return table1.Table1Config(
        name=results_name(),
        rows=tuple(FLAGS.rows),
        labels=labels,
        seeds=label_seeds,
        protocol=FLAGS.protocol,
        epochs=epochs,
        base=base,
    )


def make_command() -> str:
    """The `make` line that reproduces this run, for its README."""
    changed = [
        f"--{flag}={','.join(value) if isinstance(value, list) else value}"
        for flag, value, default in [
            ("protocol", FLAGS.protocol, "kingma"),
            ("rows", FLAGS.rows, list(table1.ROWS)),
            ("labels", FLAGS.labels, DEFAULT_LABELS),
            ("label_seeds", seeds(), DEFAULT_SEEDS[FLAGS.protocol]),
            ("label_subset", label_subset(), DEFAULT_LABEL_SUBSET[FLAGS.protocol]),
            ("precision", FLAGS.precision, "float32"),
        ]
        if value != default
    ] + (["--gather"] if FLAGS.gather else [])
    changed += [f"--probe_steps={FLAGS.probe_steps}"] if FLAGS.probe_steps else []
    return (
        "make table1"
        + (" QUICK=1" if FLAGS.quick else "")
        + (f" ARGS='{' '.join(changed)}'" if changed else "")
    )


def probe(config: table1.Table1Config, command: str, started: float) -> None:
    """`--probe_steps`: each cell's first steps, probed (`table1.probe_first_steps`)."""
    probes = table1.probe_cells(config, config.base.run.load("mnist"), FLAGS.probe_steps)
    out = config.base.run.results(config.name + "_probe")
    table1_report.write_probe(out, probes, config, command, started)
    print((out / "README.md").read_text())


def refuse_to_drop_finished_cells(out, config: table1.Table1Config) -> None:
    """A UsageError, before any work, when rewriting `out` would drop finished cells that this run
    does not have (a run of --label_seeds=1 where one of seed 0 wrote the same table)."""
    left_out = table1_report.cells_left_out(out, config)
    if not left_out:
        return
    cells = ", ".join(f"{c['row']} {c['labels']} labels seed {c['seed']}" for c in left_out)
    seeds = ",".join(str(s) for s in sorted({*config.seeds, *(c["seed"] for c in left_out)}))
    others = {(c["row"], c["labels"]) for c in left_out} - {
        (row, labels) for row in config.rows for labels in config.labels
    }
    raise app.UsageError(
        f"{out} holds finished cells this run does not have ({cells}): its table would lose "
        f"them; pass --label_seeds={seeds}"
        + (" and --rows / --labels that include them" if others else "")
        + " to keep them (finished cells are loaded, not trained again)"
    )


def main(_):
    started = time.perf_counter()
    config = config_from_flags()
    command = make_command()
    if FLAGS.probe_steps:
        if FLAGS.gather:
            raise app.UsageError("--probe_steps trains cells' first steps; drop --gather")
        return probe(config, command, started)
    out = config.base.run.results(config.name)
    refuse_to_drop_finished_cells(out, config)
    # the table is rewritten after every cell: a run stopped part way leaves its finished cells
    # reported
    cells = table1.run(
        config,
        after_each_cell=lambda cells: table1_report.write_results(
            out, cells, config, command, started
        ),
        earlier=table1_report.earlier_cells(out),
        train=not FLAGS.gather,
    )
    if FLAGS.gather:  # no cell trained, so none wrote the table; say which are under way
        cells = table1_report.training_cells(cells, config)
        table1_report.write_results(out, cells, config, command, started)
    print(table1_report.table1_markdown(cells))
    print("\n".join(table1_report.training_lines(cells)))


if __name__ == "__main__":
    common_flags.run(main)
