"""results/table1*/: Table 1 as Markdown and CSV beside the paper's numbers, and a README that says how the
numbers were produced (protocol, schedule, seeds, wall time, commit), from the files the run wrote."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import numpy as np

from vaegan_tf import records
from vaegan_tf.studies.ssl import (EXTRA_ROWS, KINGMA_M2_TEST_ERROR, PAPER_TEST_ERROR, POSTER_VALIDATION_ERROR, ROWS,
                                   Table1Config)

TRAINING_IMAGES = 55_000  # the TF1 training split the labelled subsets come from


def _percent(value):
    return "" if value is None else f"{100 * value:.2f}%"


def table1_markdown(cells: list[dict]) -> str:
    """Validation / test error per cell beside the paper's, mean and spread over seeds."""
    lines = ["| model | labels | validation error | test error | paper: validation (poster) / test | "
             "Kingma et al. M2 test | protocol | seeds | epochs | wall time |", "|---|---|---|---|---|---|---|---|---|---|"]
    for row in ROWS + EXTRA_ROWS:
        for labels in sorted({c["labels"] for c in cells}, reverse=True):
            group = [c for c in cells if c["row"] == row and c["labels"] == labels]
            if not group:
                continue
            paper = (f"{_percent(POSTER_VALIDATION_ERROR.get((row, labels))) or 'n/a'} / "
                     f"{_percent(PAPER_TEST_ERROR.get((row, labels))) or 'n/a'}")
            measured = [c for c in group if c["status"] == "measured"]
            if not measured:
                lines.append(f"| {row} | {labels} | {group[0]['status']} | | {paper} | "
                             f"{_percent(KINGMA_M2_TEST_ERROR.get(labels)) or 'n/a'} | | | | |")
                continue
            spread = lambda key: (f"{100 * np.mean([c[key] for c in measured]):.2f}%"
                                  + (f" ± {100 * np.std([c[key] for c in measured]):.2f}" if len(measured) > 1 else ""))
            lines.append(
                f"| {row} | {labels} | {spread('validation_error')} | {spread('test_error')} | {paper} | "
                f"{_percent(KINGMA_M2_TEST_ERROR.get(labels)) or 'n/a'} | {measured[0]['protocol']} | "
                f"{', '.join(str(c['seed']) for c in measured)} | "
                f"{measured[0]['epochs']} | {sum(c['wall_seconds'] for c in measured) / 60:.0f} min |")
    return "\n".join(lines) + "\n"


def full_schedule_hours(cells: list[dict], config: dict) -> dict[str, float]:
    """Hours each measured cell of a short run would take on the full schedule (the default epochs, one pass
    over the training images per epoch) at the speed it trained: {"fc 1000": hours, ...}. A cell loaded from an
    earlier run counts too: it is reused only for the same seed, schedule and model, so its wall time is this
    schedule's."""
    steps = config["base"]["run"]["steps_per_epoch"]
    batch = config["base"]["batch_size"]
    full_epochs = Table1Config().epochs
    hours = {}
    for cell in cells:
        if cell["status"] != "measured" or not steps:
            continue
        full_steps = (TRAINING_IMAGES - cell["labels"]) // batch
        if config["protocol"] == "paper":
            full_steps += cell["labels"] // batch
        seconds_per_step = cell["wall_seconds"] / (cell["epochs"] * steps)
        hours[f"{cell['row']} {cell['labels']}"] = seconds_per_step * full_steps * full_epochs[cell["row"]] / 3600
    return hours


def earlier_cells(out: Path) -> list[dict]:
    """The cell records of the table already in `out` (none if there is none): `run_table1` keeps the
    measured ones that match a cell of this run."""
    metrics = out / "metrics.json"
    return json.loads(metrics.read_text()) if metrics.exists() else []


def write_results(out: Path, cells: list[dict], config: Table1Config, command: str, started: float) -> None:
    """table1.md, table1.csv, metrics.json, config.json, environment.json and README.md in `out`."""
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "table1.csv", "w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=sorted({k for c in cells for k in c}))
        writer.writeheader()
        writer.writerows(cells)
    records.write_json(out / "metrics.json", cells)
    records.write_json(out / "config.json", config)
    records.write_json(out / "environment.json", records.environment(
        wall_seconds=sum(c.get("wall_seconds", 0) for c in cells), total_seconds=time.perf_counter() - started,
        command=command))
    write_readme(out)


def write_readme(out: Path) -> Path:
    cells, config, env = records.read_run(out)
    table = table1_markdown(cells)
    (out / "table1.md").write_text(f"# {out.name}: semi-supervised test error on MNIST\n\n{table}")
    dirty = ", with uncommitted changes" if env.get("git_dirty_at_start") else ""
    quick = "_quick" in out.name
    epochs = ", ".join(f"{row} {n}" for row, n in config["epochs"].items())
    steps = config["base"]["run"]["steps_per_epoch"]
    measured = [c for c in cells if c["status"] == "measured"]
    loaded = sum(bool(c.get("loaded_finished_run")) for c in measured)
    lines = [f"# {out.name}: Table 1 of Chen, Fang, Ju (2016), semi-supervised MNIST", "",
             f"Produced by `{env.get('command', 'make table1')}` at commit `{env.get('git_commit')}`{dirty}: "
             f"{len(measured)} of {len(cells)} cells measured, {env['wall_seconds'] / 60:.0f} min of training in "
             f"all (this invocation ran {env['total_seconds'] / 60:.0f} min) on {env.get('devices')}, TensorFlow "
             f"{env['packages']['tensorflow']}.", ""]
    if loaded:
        lines += [f"{loaded} of the measured cells were trained by an earlier, interrupted run of the same command "
                  "and loaded from their finished weights (`work/`); their wall time is that of their training.", ""]
    kept = [c for c in measured if c.get("kept_from_earlier_table")]
    if kept:
        commits = sorted({str(c.get("commit"))[:7] for c in kept})
        lines += [f"{len(kept)} of the measured cells were kept from this table as an earlier invocation wrote it "
                  f"(same model, schedule, labels and seed; measured at commit {', '.join(commits)}): the rest "
                  "were trained by this one. Each cell's commit is in table1.csv.", ""]
    if len(measured) < len(cells):
        lines += ["**Not complete:** the cells marked pending had not finished when this was written. Running the "
                  "same command again loads the finished cells and trains the rest.", ""]
    if quick:
        lines += [f"**A short schedule** (`QUICK=1`: epochs {epochs} of {steps} steps): a check that every row trains and how far it "
                  "gets quickly, not the paper's schedule; `make table1` runs that.", ""]
        estimate = full_schedule_hours(cells, config)
        if estimate:
            lines += [f"At the speed each cell trained (its wall time per step, which counts whatever else the machine "
                      f"ran meanwhile), the full schedule would train for about {sum(estimate.values()):.0f} h "
                      "on this machine (" + ", ".join(f"{cell} {hours:.1f} h" for cell, hours in estimate.items())
                      + "): more than a session here gives one run, so the full table needs a GPU.", ""]
    lines += [table, "",
              "Errors are argmax q(y|x) on the 5,000 TF1 validation images and the 10,000 test images; the paper's "
              "validation numbers are the poster's, its test numbers Table 1's; Kingma et al.'s M2 is the anchor.", "",
              "## How the numbers were produced", "",
              f"- Protocol `{config['protocol']}` (vaegan_tf/models/m2.py): `kingma` (the default) mixes a labelled and an unlabelled "
              "batch every step and sums the unlabelled loss exactly over the ten labels, alpha = 0.1 N / N_labelled, "
              "Adam 3e-4; `paper` is the authors' code (labelled batches, then unlabelled batches; soft q(y|x) as "
              "the decoder's y; alpha = 0.1 N).",
              f"- Epochs per row: {epochs}; {'one pass over the training images' if not steps else f'{steps} steps'} "
              f"per epoch; batch {config['base']['batch_size']} unlabelled + {config['base']['labelled_batch_size']} "
              "labelled images (kingma).",
              f"- Labelled subsets: class-balanced, chosen by the seeds {list(config['seeds'])} from the 55,000 "
              "training images; pixels in [0, 1].",
              "- conv+gan is the SSL-VAE-GAN of Sec. 3.3 (vaegan_tf/models/ssl_vae_gan.py): the conv row's M2 "
              "with the same protocol and learning rate, plus the CVAE-GAN discriminator (Adam 1e-4)."]
    if any(c["row"] in EXTRA_ROWS for c in cells):
        lines += ["- conv+gan+pixel is not the paper's: the SSL-VAE-GAN keeping M2's Bernoulli reconstruction term "
                  "beside the feature distance (as the paper's DRAW-GAN, Sec. 4.6), our attempt at a GAN row no "
                  "worse than conv."]
    (out / "README.md").write_text("\n".join(lines) + "\n")
    return out / "README.md"
