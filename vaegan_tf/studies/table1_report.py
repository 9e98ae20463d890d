"""results/table1*/: Table 1 as Markdown and CSV beside the paper's numbers, and a README that says
how the numbers were produced (protocol, schedule, seeds, wall time, commit), from the files the run
wrote."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import numpy as np

from vaegan_tf import plots, records, training
from vaegan_tf.studies.table1 import (
    EPOCHS,
    EXTRA_ROWS,
    PROTOCOLS,
    REFERENCE_ROW,
    ROWS,
    Table1Config,
    cell_run,
    cell_study,
    for_cell,
    table_cells,
)

TRAINING_IMAGES = 55_000  # the TF1 training split the labelled subsets come from

# Reference numbers, test error unless said otherwise, keyed by (row, labels).
# Chen, Fang, Ju (2016), Table 1.
PAPER_TEST_ERROR = {
    ("fc", 1000): 0.051,
    ("fc", 600): 0.120,
    ("conv", 1000): 0.048,
    ("conv", 600): 0.062,
    ("conv+gan", 1000): 0.081,
    ("conv+gan", 600): 0.092,
}
# Their poster's table: (validation, test).
POSTER_ERRORS = {
    ("fc", 1000): (0.047, 0.051),
    ("fc", 600): (0.115, 0.120),
    ("conv", 1000): (0.042, 0.048),
    ("conv", 600): (0.070, 0.072),
}
# What their repository logged (notebook/SSL_errors, notebook outputs): the reported run first,
# then the other recorded 20-epoch runs of the same code. No log or script behind the conv+GAN
# numbers was committed.
AUTHORS_LOGGED_TEST_ERROR = {
    ("fc", 1000): (0.0505, 0.0914, 0.0958, 0.0738),
    ("fc", 600): (0.1197,),
    ("conv", 1000): (0.0483,),
    ("conv", 600): (0.062,),
}
AUTHORS_UNLOGGED = {("conv+gan", 1000): 0.081, ("conv+gan", 600): 0.092}
# Kingma et al. (2014), Table 1: M2 alone, and M1+M2 (what the paper printed as "Kingma et al.").
KINGMA_M2_TEST_ERROR = {1000: 0.0360, 600: 0.0494}
KINGMA_M1_M2_TEST_ERROR = {1000: 0.0240, 600: 0.0259}

SUMMARY_COLUMNS = (
    "protocol",
    "model",
    "labels",
    "label_subset",
    "seeds",
    "cells_measured",
    "seeds_training",
    "validation_error_mean",
    "validation_error_sd",
    "test_error_mean",
    "test_error_sd",
    "best_test_error",
    "test_error_recalibrated_mean",
    "epochs",
    "wall_minutes",
    "paper_test_error",
    "poster_validation_error",
    "poster_test_error",
    "authors_logged_test_error",
    "kingma_m2_test_error",
    "kingma_m1_m2_test_error",
)


def _percent(value):
    return "" if value is None else f"{100 * value:.2f}%"


def _sd(values):
    """Sample standard deviation (n - 1), None for a single value."""
    return float(np.std(values, ddof=1)) if len(values) > 1 else None


def _authors_logged(row, labels) -> str:
    logged = AUTHORS_LOGGED_TEST_ERROR.get((row, labels))
    if logged:
        others = (
            f" (other runs {', '.join(f'{100 * v:.2f}' for v in logged[1:])})"
            if len(logged) > 1
            else ""
        )
        return f"{100 * logged[0]:.2f}%{others}"
    unlogged = AUTHORS_UNLOGGED.get((row, labels))
    return f"{100 * unlogged:.1f}% (paper; no log)" if unlogged else ""


def summary(cells: list[dict]) -> list[dict]:
    """One record per (protocol, row, labels) with every column of `SUMMARY_COLUMNS`: mean, sample
    sd and best over the measured seeds, beside the reference numbers."""
    groups = {}
    for cell in cells:
        key = (cell.get("protocol", "kingma"), cell["row"], cell["labels"])
        groups.setdefault(key, []).append(cell)
    order = {name: index for index, name in enumerate((*PROTOCOLS, *ROWS, *EXTRA_ROWS))}
    records_ = []
    for (protocol, row, labels), group in sorted(
        groups.items(),
        key=lambda item: (order.get(item[0][0], 99), order.get(item[0][1], 99), -item[0][2]),
    ):
        measured = [c for c in group if c["status"] == "measured"]
        validation = [c["validation_error"] for c in measured]
        test = [c["test_error"] for c in measured]
        recalibrated = [
            c["test_error_recalibrated"] for c in measured if "test_error_recalibrated" in c
        ]
        reference = (REFERENCE_ROW.get(row, row), labels)
        poster = POSTER_ERRORS.get(reference, (None, None))
        logged = AUTHORS_LOGGED_TEST_ERROR.get(reference)
        records_.append(
            {
                "protocol": protocol,
                "model": row,
                "labels": labels,
                "label_subset": measured[0].get("label_subset", "balanced") if measured else "",
                "seeds": " ".join(str(c["seed"]) for c in measured),
                "seeds_training": " ".join(
                    str(c["seed"]) for c in group if c["status"] == "training"
                ),
                "cells_measured": f"{len(measured)} of {len(group)}",
                "validation_error_mean": float(np.mean(validation)) if measured else None,
                "validation_error_sd": _sd(validation),
                "test_error_mean": float(np.mean(test)) if measured else None,
                "test_error_sd": _sd(test),
                "best_test_error": min(test) if measured else None,
                # a diagnostic of the authors_code cells (table1.recalibrated_error_rates)
                "test_error_recalibrated_mean": float(np.mean(recalibrated))
                if recalibrated
                else None,
                "epochs": measured[0]["epochs"] if measured else None,
                "wall_minutes": round(sum(c["wall_seconds"] for c in measured) / 60, 1)
                if measured
                else None,
                "paper_test_error": PAPER_TEST_ERROR.get(reference),
                "poster_validation_error": poster[0],
                "poster_test_error": poster[1],
                "authors_logged_test_error": logged[0] if logged else None,
                "kingma_m2_test_error": KINGMA_M2_TEST_ERROR.get(labels),
                "kingma_m1_m2_test_error": KINGMA_M1_M2_TEST_ERROR.get(labels),
            }
        )
    return records_


def table1_markdown(cells: list[dict]) -> str:
    """Validation and test error per cell (mean ± sample sd over seeds, and the best test error)
    beside the paper's Table 1, the poster, the authors' logs and Kingma et al."""
    lines = [
        "| protocol | model | labels | seeds | validation error | test error | best test | epochs "
        "| wall time | paper (Table 1) test | poster validation / test | authors' logs, test | "
        "Kingma M2 | Kingma M1+M2 |",
        "|" + "---|" * 14,
    ]

    def spread(mean, sd):
        if mean is None:
            return ""
        return _percent(mean) + ("" if sd is None else f" ± {100 * sd:.2f}")

    for line in summary(cells):
        row, labels = line["model"], line["labels"]
        reference = REFERENCE_ROW.get(row, row)
        poster = POSTER_ERRORS.get((reference, labels))
        poster = f"{_percent(poster[0])} / {_percent(poster[1])}" if poster else ""
        measured = line["seeds"] != ""
        seeds = [line["seeds"] or "pending"]
        if line["seeds_training"]:
            seeds.append(f"training: seed {line['seeds_training']}")
        wall = f"{line['wall_minutes']:.0f} min" if measured else ""
        lines.append(
            f"| {line['protocol']} | {row} | {labels} | "
            f"{'; '.join(seeds)} | "
            f"{spread(line['validation_error_mean'], line['validation_error_sd'])} | "
            f"{spread(line['test_error_mean'], line['test_error_sd'])} | "
            f"{_percent(line['best_test_error'])} | {line['epochs'] or ''} | {wall} | "
            f"{_percent(line['paper_test_error'])} | {poster} | {_authors_logged(reference, labels)} | "
            f"{_percent(line['kingma_m2_test_error'])} | "
            f"{_percent(line['kingma_m1_m2_test_error'])} |"
        )
    diagnosed = [line for line in summary(cells) if line["test_error_recalibrated_mean"]]
    if diagnosed:
        lines += [
            "",
            "Diagnostic, not the table's number: test error after the batch norm's moving averages "
            "are replaced by the training images' batch moments at the final weights (mean over "
            "the seeds that have it): "
            + "; ".join(
                f"{line['protocol']} {line['model']} {line['labels']}: "
                f"{_percent(line['test_error_recalibrated_mean'])}"
                for line in diagnosed
            )
            + ".",
        ]
    return "\n".join(lines) + "\n"


def steps_per_epoch(protocol: str, labels: int, batch: int) -> int:
    """Training steps in one pass over the training images: kingma's steps each take a labelled and
    an unlabelled batch (as many as the unlabelled images fill); authors_code's take the labelled
    batches, then the unlabelled ones."""
    steps = (TRAINING_IMAGES - labels) // batch
    return steps + labels // batch if protocol == "authors_code" else steps


def full_schedule_hours(cells: list[dict], config: dict) -> dict[str, float]:
    """Hours each measured cell of a short run would take on the full schedule (the default epochs,
    one pass over the training images per epoch) at the speed it trained: {"fc 1000": hours, ...}. A
    cell loaded from an earlier run counts too: it is reused only for the same seed, schedule and
    model, so its wall time is this schedule's."""
    steps = config["base"]["run"]["steps_per_epoch"]
    batch = config["base"]["batch_size"]
    full_epochs = EPOCHS[config["protocol"]]
    hours = {}
    for cell in cells:
        if cell["status"] != "measured" or not steps:
            continue
        full_steps = steps_per_epoch(config["protocol"], cell["labels"], batch)
        seconds_per_step = cell["wall_seconds"] / (cell["epochs"] * steps)
        hours[f"{cell['row']} {cell['labels']}"] = (
            seconds_per_step * full_steps * full_epochs[cell["row"]] / 3600
        )
    return hours


def earlier_cells(out: Path, family: str = "table1") -> list[dict]:
    """The cell records of the table already in `out`, then of every other table beside it whose
    name starts with `family` (a run of some rows or labels, `table1_rows-conv_labels-600`, writes
    its own table); none if there are none. `table1.run` keeps the measured ones that match a cell
    of this run by `cell_identity`, which names model, schedule, labels and seed, so cells can be
    trained by several processes at once and gathered by the whole table. Each record says in
    `found_in` which table it was read from; `out`'s own come first."""
    tables = [out] + sorted(
        path for path in out.parent.glob(f"{family}*") if path.is_dir() and path != out
    )
    cells = []
    for table in tables:
        metrics = table / "metrics.json"
        if metrics.exists():
            cells += [{**cell, "found_in": table.name} for cell in json.loads(metrics.read_text())]
    return cells


def cells_left_out(out: Path, config: Table1Config) -> list[dict]:
    """The measured cells of the table already in `out` whose (row, labels, seed) this run does not
    have: rewriting `out` would drop them. A table's name says its rows and labels, not its seeds,
    so a run of seed 1 writes where a run of seed 0 did."""
    covered = {(cell["row"], cell["labels"], cell["seed"]) for cell in table_cells(config)}
    return [
        cell
        for cell in earlier_cells(out)
        if cell["found_in"] == out.name
        and cell.get("status") == "measured"
        and (cell["row"], cell["labels"], cell["seed"]) not in covered
    ]


def training_cells(cells: list[dict], config: Table1Config) -> list[dict]:
    """`cells` with each pending one that some run is training (a backup in `work/` of that very
    cell's model, seed, schedule and precision, made by a run of any table that has the cell:
    `table1_rows-fc_labels-1000_fc_1000_s0`) marked "training", with the epochs its
    backup holds, its validation error after each and its training time so far: what `--gather`
    reports of cells under way. Reads the backups' files only, never the weights."""
    work_root = Path(config.base.run.work_root)
    marked = []
    for cell in cells:
        found = _under_way(cell, config, work_root) if cell["status"] == "pending" else None
        marked.append({**cell, **found} if found else cell)
    return marked


def _under_way(cell: dict, config: Table1Config, work_root: Path) -> dict | None:
    study = cell_study(config, cell)
    model = for_cell(study.model, cell["labels"], TRAINING_IMAGES, cell["seed"])
    run = cell_run(study, model, steps_per_epoch(config.protocol, cell["labels"], study.batch_size))
    ending = study.run.named(f"_{cell['row']}_{cell['labels']}_s{cell['seed']}")
    # any table's run of this cell (the whole table's or one of some rows or labels): the run's
    # identity, not its folder's name, says whether it is this cell
    candidates = sorted(work_root.glob(f"*{ending}")) if work_root.is_dir() else []
    for work_dir in candidates:
        progress = training.under_way(run, work_dir)
        if progress:
            return {
                "status": "training",
                "epochs_done": progress["epochs"],
                "epochs": study.epochs,
                "validation_error_by_epoch": progress["history"].get("val_error", []),
                "wall_seconds_so_far": round(progress["wall_seconds"], 1),
                "commit": progress["commit"],
                "training_in": work_dir.name,
            }
    return None


def training_lines(cells: list[dict]) -> list[str]:
    """README lines on the cells under way (`training_cells`): a progress report, no result."""
    under_way = [c for c in cells if c["status"] == "training"]
    if not under_way:
        return []
    lines = [
        "Under way when this was written (the epochs its backup held in the work root, "
        "`work/` unless `--work_root` named another; a validation "
        "error part way through the schedule is no result of the table):",
        "",
    ]
    for cell in under_way:
        curve = cell["validation_error_by_epoch"]
        lowest = (
            f", lowest {_percent(min(curve))} (epoch {curve.index(min(curve)) + 1})"
            if curve
            else ""
        )
        last = (
            f"; validation error after epoch {len(curve)}: {_percent(curve[-1])}" if curve else ""
        )
        lines.append(
            f"- {cell['protocol']} {cell['row']}, {cell['labels']} labels, seed {cell['seed']}: "
            f"{cell['epochs_done']} of {cell['epochs']} epochs in "
            f"{cell['wall_seconds_so_far'] / 60:.0f} min of training{last}{lowest}; "
            f"run folder `{cell['training_in']}` of the work root, begun at commit "
            f"`{str(cell['commit'])[:7]}`"
        )
    return [*lines, ""]


def write_results(
    out: Path, cells: list[dict], config: Table1Config, command: str, started: float
) -> None:
    """table1.md, table1.csv (one line per protocol, row and labels), cells.csv (one per seed),
    metrics.json, config.json, environment.json and README.md in `out`."""
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "table1.csv", "w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=SUMMARY_COLUMNS)
        writer.writeheader()
        writer.writerows(summary(cells))
    columns = sorted({k for c in cells for k, v in c.items() if not isinstance(v, list)})
    rows = [{**cell, **lowest_validation_error(cell)} for cell in cells]
    columns += [column for column in LOWEST_COLUMNS if any(column in row for row in rows)]
    with open(out / "cells.csv", "w", newline="") as stream:
        # one line per seed; the per-epoch curves are in metrics.json and learning_curves.png
        writer = csv.DictWriter(stream, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    learning_curves(cells, out / "learning_curves.png")
    records.write_json(out / "metrics.json", cells)
    records.write_json(out / "config.json", config)
    records.write_json(
        out / "environment.json",
        records.environment(
            wall_seconds=sum(c.get("wall_seconds", 0) for c in cells),
            total_seconds=time.perf_counter() - started,
            command=command,
        ),
    )
    write_readme(out)


LOWEST_COLUMNS = ("lowest_validation_error", "lowest_validation_epoch")


def lowest_validation_error(cell: dict) -> dict:
    """The lowest validation error of a cell's learning curve and the (1-based) epoch that first
    reached it; {} for a cell without a curve. Where it falls in the schedule is what a schedule
    is chosen from (issue "Table 1 for real"): near the end, the curve was still improving."""
    curve = cell.get("validation_error_by_epoch") if cell.get("status") == "measured" else None
    if not curve:
        return {}
    epoch = min(range(len(curve)), key=curve.__getitem__)
    return {"lowest_validation_error": curve[epoch], "lowest_validation_epoch": epoch + 1}


def lowest_epochs_lines(cells: list[dict]) -> list[str]:
    """One README line per (protocol, row, labels) with a learning curve: the epoch of each
    seed's lowest validation error against the epochs trained."""
    groups = {}
    for cell in cells:
        lowest = lowest_validation_error(cell)
        if lowest:
            key = (cell.get("protocol", "kingma"), cell["row"], cell["labels"])
            groups.setdefault(key, []).append(
                f"{lowest['lowest_validation_epoch']} of {len(cell['validation_error_by_epoch'])}"
                f" (seed {cell['seed']}, {100 * lowest['lowest_validation_error']:.2f}%)"
            )
    return [
        f"- {protocol} {row}, {labels} labels: lowest validation error at epoch " + ", ".join(seeds)
        for (protocol, row, labels), seeds in sorted(groups.items(), key=str)
    ]


def learning_curves(cells: list[dict], path: Path) -> Path | None:
    """Validation error per epoch of every cell that recorded it, a panel per protocol, row and
    labels, a line per seed, the paper's test error dashed; None (and no file) if none did."""
    panels, references = {}, {}
    for cell in cells:
        curve = cell.get("validation_error_by_epoch")
        if cell["status"] != "measured" or not curve:
            continue
        name = f"{cell.get('protocol', 'kingma')} {cell['row']} {cell['labels']}"
        panels.setdefault(name, {})[f"seed {cell['seed']}"] = curve
        references[name] = PAPER_TEST_ERROR.get(
            (REFERENCE_ROW.get(cell["row"], cell["row"]), cell["labels"])
        )
    if not panels:
        path.unlink(missing_ok=True)
        return None
    return plots.error_curves(
        panels,
        path,
        references=references,
        title="Validation error after each epoch (dashed: the paper's test error)",
    )


def write_readme(out: Path) -> Path:
    cells, config, env = records.read_run(out)
    table = table1_markdown(cells)
    (out / "table1.md").write_text(f"# {out.name}: semi-supervised test error on MNIST\n\n{table}")
    dirty = records.uncommitted_code(env.get("git_dirty_at_start"))
    quick = "_quick" in out.name
    epochs = ", ".join(f"{row} {n}" for row, n in config["epochs"].items() if row in config["rows"])
    steps = config["base"]["run"]["steps_per_epoch"]
    measured = [c for c in cells if c["status"] == "measured"]
    loaded = sum(bool(c.get("loaded_finished_run")) for c in measured)
    lines = [
        f"# {out.name}: Table 1 of Chen, Fang, Ju (2016), semi-supervised MNIST",
        "",
        f"Produced by `{env.get('command', 'make table1')}` at commit "
        f"`{env.get('git_commit')}`{dirty}: {len(measured)} of {len(cells)} cells measured, "
        f"{env['wall_seconds'] / 60:.0f} min of training in all (this invocation ran "
        f"{env['total_seconds'] / 60:.0f} min) on {env.get('devices')}, TensorFlow "
        f"{env['packages']['tensorflow']}.",
        "",
    ]
    if loaded:
        lines += [
            f"{loaded} of the measured cells were trained by an earlier, interrupted run of the "
            "same command and loaded from their finished weights (`work/`); their wall time is "
            "that of their training"
            + (
                "; cells.csv gives the commit each was trained at (trained_at_commit; empty: "
                "the commit above)."
                if all("trained_at_commit" in c for c in measured if c.get("loaded_finished_run"))
                else " (this run did not record their training commits)."
            ),
            "",
        ]
    kept = [c for c in measured if c.get("kept_from_earlier_table")]
    if kept:
        commits = sorted({str(c.get("commit"))[:7] for c in kept})
        sources = sorted({c.get("found_in", out.name) for c in kept} - {out.name})
        lines += [
            f"{len(kept)} of the measured cells were kept from this table as an earlier invocation "
            "wrote it"
            + (f" or from {', '.join(f'results/{name}' for name in sources)}" if sources else "")
            + " (same model, schedule, labels and seed; measured at commit "
            f"{', '.join(commits)}): "
            + (
                "this invocation trained none. "
                if len(kept) == len(measured)
                else "the rest were trained by this one. "
            )
            + "Each cell's commit is in cells.csv.",
            "",
        ]
    if len(measured) < len(cells):
        lines += [
            "**Not complete:** the cells marked pending had not finished when this was written. "
            "Running the same command again loads the finished cells and trains the rest.",
            "",
            *training_lines(cells),
        ]
    if quick:
        lines += [
            f"**A short schedule** (`QUICK=1`: epochs {epochs} of {steps} steps): a check that "
            "every row trains and how far it gets quickly, not the paper's schedule; `make "
            "table1` runs that.",
            "",
        ]
        estimate = full_schedule_hours(cells, config)
        if estimate:
            lines += [
                "At the speed each cell trained (its wall time per step, which counts whatever "
                "else the machine ran meanwhile), the full schedule would train for about "
                f"{sum(estimate.values()):.0f} h on this machine ("
                + ", ".join(f"{cell} {hours:.1f} h" for cell, hours in estimate.items())
                + "): more than a session here gives one run, so the full table needs a GPU.",
                "",
            ]
    protocol = config["protocol"]
    subset = config["base"].get("label_subset", "balanced")
    subsets = {
        "balanced": "class-balanced, chosen by the seed",
        "random": "a random N chosen by the seed, not class-balanced (as the authors' runs)",
        "first": "the first N in file order (as the authors' "
        "reported runs), the same for every seed",
    }
    lines += [
        table,
        "",
        "Errors are argmax q(y|x) on the 5,000 TF1 validation images and the 10,000 test images, "
        "mean ± sample sd over the seeds and the best seed's test error. References: the paper's "
        "Table 1 (test), its poster (validation / test), the numbers the authors' repository "
        "logged (their reported run, then other recorded runs of the same code), Kingma et al.'s "
        "M2 and M1+M2 (the paper printed "
        'M1+M2 as "Kingma et al."). table1.csv has the same lines; cells.csv one line per seed.',
        "",
        *(
            [
                "![validation error after each epoch](learning_curves.png)",
                "",
                "Learning curves: the validation error after each epoch of every cell that "
                "recorded it (cells measured before the curves were kept have none). Where each "
                "curve is lowest (cells.csv: `lowest_validation_epoch`); a minimum in the last "
                "epochs says the schedule ended while the error still fell:",
                "",
                *lowest_epochs_lines(cells),
                "",
            ]
            if (out / "learning_curves.png").exists()
            else []
        ),
        "## How the numbers were produced",
        "",
        f"- Protocol `{protocol}`. `kingma` (the paper's text, vaegan_tf/models/m2.py) mixes a "
        "labelled and an unlabelled batch every step and sums the unlabelled loss exactly over "
        "the ten labels, alpha = 0.1 N / N_labelled, Adam 3e-4. `authors_code` "
        "(vaegan_tf/models/m2_authors.py) ports the code behind the paper's numbers: labelled "
        "batches, then unlabelled ones, each epoch, one Adam per kind; q(y|x) fed back as a "
        "constant soft label plus the sharpening term -log sum_k q_k sg(q_k); alpha 5500; their "
        "networks and learning rates.",
        f"- Epochs per row: {epochs}; "
        f"{'one pass over the training images' if not steps else f'{steps} steps'} per epoch; "
        f"batch {config['base']['batch_size']}"
        + (
            f" unlabelled + {config['base']['labelled_batch_size']} labelled images."
            if protocol == "kingma"
            else " (labelled and unlabelled batches apart)."
        ),
        f"- Labelled subsets: {subsets.get(subset, subset)}, seeds {list(config['seeds'])}, from "
        "the 55,000 training images; pixels in [0, 1]; the seed also seeds initialisation and "
        "batch order.",
        "- conv+gan: under `kingma` the SSL-VAE-GAN of Sec. 3.3 "
        "(vaegan_tf/models/ssl_vae_gan.py), the conv row's M2 with the same protocol and learning "
        "rate plus the CVAE-GAN discriminator (Adam 1e-4); under `authors_code` their m2gan (no "
        "pixel loss, batch-summed feature distance, four Adams).",
    ]
    precision = config["base"]["run"].get("precision", "float32")
    if precision != "float32":
        lines.append(
            f"- Precision `{precision}` (Keras mixed precision: bfloat16 compute, float32 weights "
            "and losses), not the papers' float32: a table of its own, beside the float32 one."
        )
    rows = {c["row"] for c in cells}
    if "conv+gan+pixel" in rows:
        lines += [
            "- conv+gan+pixel is not the paper's: the SSL-VAE-GAN keeping M2's Bernoulli "
            "reconstruction term beside the feature distance (as the paper's DRAW-GAN, Sec. 4.6), "
            "our attempt at a GAN row no worse than conv."
        ]
    if "conv-no-y" in rows:
        lines += [
            "- conv-no-y is not the paper's: the authors' 1000-label conv network (decoder without "
            "y, hidden 500, z = 50, behind their 4.83%) at every label count, where the conv row "
            "takes at 600 labels the network of their 6.2% checkpoint (y after the last deconv, "
            "hidden 1024, z = 100; its training run is not recorded). Its reference columns are "
            "the conv row's."
        ]
    if "conv+gan-bn-logits" in rows:
        lines += [
            "- conv+gan-bn-logits is not the paper's: the authors' m2gan with batch norm on the "
            "class logits, as their FC and conv networks have; their sslgan_conv2.py has none. Its "
            "reference columns are the conv+gan row's."
        ]
    if "conv+gan-no-sharpening" in rows:
        lines += [
            "- conv+gan-no-sharpening is not the paper's nor the authors' code: their m2gan "
            "without the sharpening term S(x) on unlabelled batches, an ablation that asks whether "
            "S collapses its q(y|x) to one class. Its reference columns are the conv+gan row's."
        ]
    (out / "README.md").write_text("\n".join(lines) + "\n")
    return out / "README.md"


PROBE_COLUMNS = (
    "protocol",
    "row",
    "labels",
    "seed",
    "step",
    "batch",
    "top_class",
    "top_class_share",
    "mean_max_q",
    "class_logit_spread",
)
COLLAPSED_SHARE = 0.99  # one class takes (almost) every image of a batch


def probe_summary(rows: list[dict]) -> str:
    """One cell's probe in words: the first step at which one class took at least 99% of its
    batch, or the highest share reached."""
    collapsed = next((r for r in rows if r["top_class_share"] >= COLLAPSED_SHARE), None)
    last = rows[-1]
    if collapsed:
        return (
            f"one class (digit {collapsed['top_class']}) took {100 * collapsed['top_class_share']:.0f}% "
            f"of the batch after step {collapsed['step']} of {len(rows)} "
            f"({collapsed['batch']} batch); after step {last['step']}: "
            f"{100 * last['top_class_share']:.0f}%, mean max q {last['mean_max_q']:.3f}"
        )
    peak = max(rows, key=lambda r: r["top_class_share"])
    return (
        f"no collapse in {len(rows)} steps: the largest class share of a batch was "
        f"{100 * peak['top_class_share']:.0f}% (step {peak['step']}); after step {last['step']}: "
        f"{100 * last['top_class_share']:.0f}%, mean max q {last['mean_max_q']:.3f}"
    )


def write_probe(
    out: Path, probes: dict[tuple, list[dict]], config: Table1Config, command: str, started: float
) -> None:
    """probe.csv (one line per cell and step), probe.png (the share of each step's batch that
    q(y|x) puts in one class), config.json, environment.json and README.md in `out`, for the
    probes of `table1.probe_first_steps` keyed by (protocol, row, labels, seed)."""
    out.mkdir(parents=True, exist_ok=True)
    lines = [
        dict(zip(PROBE_COLUMNS[:4], cell, strict=True)) | row
        for cell, rows in probes.items()
        for row in rows
    ]
    with open(out / "probe.csv", "w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=PROBE_COLUMNS)
        writer.writeheader()
        writer.writerows(lines)
    panels = {}
    for (protocol, row, labels, seed), rows in probes.items():
        panels.setdefault(f"{protocol} {row} {labels}", {})[f"seed {seed}"] = [
            r["top_class_share"] for r in rows
        ]
    plots.error_curves(
        panels,
        out / "probe.png",
        title="Share of each step's batch that q(y|x) puts in its most frequent class",
        xlabel="training step",
        ylabel="images in one class (%)",
        percent_range=(0, 100),
    )
    records.write_json(out / "config.json", config)
    env = records.environment(total_seconds=time.perf_counter() - started, command=command)
    records.write_json(out / "environment.json", env)
    dirty = records.uncommitted_code(env.get("git_dirty_at_start"))
    readme = [
        f"# {out.name}: the first training steps of Table 1 cells, probed",
        "",
        f"Produced by `{command}` at commit `{env['git_commit']}`{dirty} on {env['cpu']}, "
        f"TensorFlow {env['packages']['tensorflow']}, {env['total_seconds'] / 60:.0f} min. "
        "A diagnostic, not a result of the table: each cell trains from initialisation for the "
        "steps below, in its own batch order (under `authors_code` an epoch's labelled batches "
        "come first), and after every step q(y|x) classifies that step's batch (the unlabelled "
        "one under `kingma`) in training mode, as the step saw it. Nothing is saved or resumed.",
        "",
        "![share of each batch in one class](probe.png)",
        "",
        *(
            f"- {protocol} {row}, {labels} labels, seed {seed}: {probe_summary(rows)}"
            for (protocol, row, labels, seed), rows in probes.items()
        ),
        "",
        "probe.csv has every step: the class most images went to, its share, the mean of "
        "max_k q_k and the spread (max - min) of the batch-mean class logits.",
        "",
    ]
    (out / "README.md").write_text("\n".join(readme))
