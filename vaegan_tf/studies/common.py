"""What every experiment body does after training: keep the training log and its loss curves, and write
metrics.json, config.json and environment.json into results/<name>/."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from vaegan_tf import distribute, plots, records, training


def record_run(out: Path, outcome: training.TrainingOutcome, *, config, metrics: dict, started: float,
               data_source: str, loss_title: str) -> None:
    """`started` is the `time.perf_counter()` of the run's beginning (evaluation time counts in total)."""
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(outcome.log_csv, out / "training_log.csv")
    plots.loss_curves(out / "training_log.csv", out / "loss_curves.png", title=loss_title)
    records.write_json(out / "metrics.json", metrics)
    records.write_json(out / "config.json", config)
    records.write_json(out / "environment.json", records.environment(
        strategy_description=distribute.describe(outcome.strategy), epochs=outcome.epochs_trained,
        wall_seconds=outcome.wall_seconds, total_seconds=round(time.perf_counter() - started, 1),
        data_source=data_source))
