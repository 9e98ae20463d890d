"""What every experiment body shares: where it runs and reads and writes (`RunSettings`), and what
it does after training: keep the training log and its loss curves, write metrics.json, config.json
and environment.json into results/<name>/.

Inside `RunSettings.session(name)` (how the experiments' entry points run a study) the work folder
work/<name>/ is held exclusively, and every results folder that `RunSettings.results` hands out is a
staging folder of the same name under results/.staging-<pid>/, swapped into place in one step when
the study completes: results/<name>/ is always either the previous run or the new one, never a mix
or a half. A study that fails leaves the previous results untouched. Outside a session (tests,
notebooks) `results` is the final folder itself."""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
import time
from pathlib import Path

import numpy as np

from vaegan_tf import data, distribute, plots, records, training

# The sessions open in this process, innermost last: each stages the results folders it hands out.
_SESSIONS: list[dict] = []


@dataclasses.dataclass(frozen=True)
class RunSettings:
    """Where a study runs and where its data and outputs live; none of it changes what is
    reproduced."""

    strategy: str = "auto"
    source: str = "auto"
    data_dir: str | None = None
    results_root: str = "results"
    work_root: str = "work"
    steps_per_epoch: int | None = None  # None: one pass over the training data
    # smoke runs only: the first N validation and test images, so a check of the wiring does not
    # spend its minutes evaluating; None (every real run) keeps all of them
    evaluation_images: int | None = None

    def __post_init__(self):
        if self.strategy not in distribute.STRATEGIES:
            choices = ", ".join(distribute.STRATEGIES)
            raise ValueError(f"unknown strategy {self.strategy!r}; choose one of {choices}")
        if self.source not in data.SOURCES:
            raise ValueError(
                f"unknown data source {self.source!r}; choose one of {', '.join(data.SOURCES)}"
            )
        for field in ("steps_per_epoch", "evaluation_images"):
            value = getattr(self, field)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 1
            ):
                raise ValueError(f"{field} must be a whole number >= 1 (or None), not {value!r}")

    def load(self, dataset: str = "mnist") -> data.DatasetSplits:
        splits = data.load(dataset, split="tf1", source=self.source, data_dir=self.data_dir)
        if self.evaluation_images is None:
            return splits

        def first(split):
            return (
                None
                if split is None
                else split.subset(np.arange(min(len(split), self.evaluation_images)))
            )

        return dataclasses.replace(
            splits, validation=first(splits.validation), test=first(splits.test)
        )

    def training_run(
        self, name: str, epochs: int, seed: int, steps_per_epoch: int, model_config=None
    ) -> training.RunConfig:
        """The harness's RunConfig; `steps_per_epoch` is the study's own, unless these settings
        override it. With `model_config`, a backup or finished run is resumed or reused only by that
        same model."""
        return training.RunConfig(
            name,
            epochs,
            seed=seed,
            strategy=self.strategy,
            work_root=self.work_root,
            steps_per_epoch=self.steps_per_epoch or steps_per_epoch,
            model_signature=None if model_config is None else training.signature(model_config),
        )

    def results(self, name: str) -> Path:
        """results/<name>/, or inside a `session` the staging folder that will replace it."""
        final = Path(self.results_root) / name
        if not _SESSIONS:
            return final
        staged = _SESSIONS[-1]
        if final.resolve() not in staged["folders"]:
            staged["folders"][final.resolve()] = staged["stack"].enter_context(
                records.staged_directory(final)
            )
        return staged["folders"][final.resolve()]

    @contextlib.contextmanager
    def session(self, name: str):
        """Runs a study called `name`: holds work/<name>/ (a second run of it fails at once with
        `training.RunLocked`), and stages every results folder `results` hands out until the block
        ends: then each replaces its final folder in one step; if the block fails, none does."""
        with training.exclusive(Path(self.work_root) / name, name), contextlib.ExitStack() as stack:
            _SESSIONS.append({"stack": stack, "folders": {}})
            try:
                yield self
            finally:
                _SESSIONS.pop()


def record_run(
    out: Path,
    outcome: training.TrainingOutcome,
    *,
    config,
    metrics: dict,
    started: float,
    data_source: str,
    loss_title: str,
) -> None:
    """`started` is the `time.perf_counter()` of the run's beginning (evaluation time counts in
    total)."""
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(outcome.log_csv, out / "training_log.csv")
    plots.loss_curves(out / "training_log.csv", out / "loss_curves.png", title=loss_title)
    records.write_json(out / "metrics.json", metrics)
    records.write_json(out / "config.json", config)
    records.write_json(
        out / "environment.json",
        records.environment(
            strategy_description=distribute.describe(outcome.strategy),
            epochs=outcome.epochs_trained,
            wall_seconds=outcome.wall_seconds,
            total_seconds=round(time.perf_counter() - started, 1),
            data_source=data_source,
            resumed_from_epoch=outcome.resumed_from_epoch,
            resumed_from_commit=outcome.resumed_from_commit,
            reused_finished=outcome.reused_finished,
        ),
    )
