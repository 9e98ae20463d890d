"""What every experiment body shares: where it runs and reads and writes (`RunSettings`), and what it does
after training: keep the training log and its loss curves, write metrics.json, config.json and
environment.json into results/<name>/."""

from __future__ import annotations

import dataclasses
import shutil
import time
from pathlib import Path

import numpy as np

from vaegan_tf import data, distribute, plots, records, training


@dataclasses.dataclass(frozen=True)
class RunSettings:
    """Where a study runs and where its data and outputs live; none of it changes what is reproduced."""
    strategy: str = "auto"
    source: str = "auto"
    data_dir: str | None = None
    results_root: str = "results"
    work_root: str = "work"
    steps_per_epoch: int | None = None  # None: one pass over the training data
    # smoke runs only: the first N validation and test images, so a check of the wiring does not spend its
    # minutes evaluating; None (every real run) keeps all of them
    evaluation_images: int | None = None

    def load(self, dataset: str = "mnist") -> data.DatasetSplits:
        splits = data.load(dataset, split="tf1", source=self.source, data_dir=self.data_dir)
        if self.evaluation_images is None:
            return splits
        first = lambda split: None if split is None else split.subset(np.arange(min(len(split), self.evaluation_images)))
        return dataclasses.replace(splits, validation=first(splits.validation), test=first(splits.test))

    def training_run(self, name: str, epochs: int, seed: int, steps_per_epoch: int,
                     model_config=None) -> training.RunConfig:
        """The harness's RunConfig; `steps_per_epoch` is the study's own, unless these settings override it.
        With `model_config`, a backup or finished run is resumed or reused only by that same model."""
        return training.RunConfig(name, epochs, seed=seed, strategy=self.strategy, work_root=self.work_root,
                                  steps_per_epoch=self.steps_per_epoch or steps_per_epoch,
                                  model_signature=None if model_config is None else training.signature(model_config))

    def results(self, name: str) -> Path:
        return Path(self.results_root) / name


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
        data_source=data_source, resumed_from_epoch=outcome.resumed_from_epoch,
        resumed_from_commit=outcome.resumed_from_commit))
