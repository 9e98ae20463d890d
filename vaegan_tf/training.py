"""The one training harness: build inside the strategy, `fit` with Keras callbacks, resume, stop on NaN.

Scratch output (backup checkpoint, CSV log, TensorBoard, the cumulative clock) goes to `work/<name>/`,
which git ignores. An interrupted run restarted with the same config resumes from the last completed
epoch (`keras.callbacks.BackupAndRestore`); the backup is removed only after a successful finish, and a NaN
loss stops training with `TrainingDiverged`, keeping the last good backup. `run.json` beside the backup
says which seed, schedule and commit made it: a backup of another seed or schedule is refused, one made by
another commit is resumed with a warning, and the outcome says where it resumed from (results record it).
A finished run leaves its weights in `final.weights.h5` with `finished.json`; a later study that needs the
same trained model (e.g. Figure 7 needs Figure 6's CVAE) passes `reuse_finished=True` to load it instead
of training it again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import shutil
import sys
import time
import warnings
from pathlib import Path
from typing import Callable

import keras
import tensorflow as tf

from vaegan_tf import distribute, records


@dataclasses.dataclass(frozen=True)
class RunConfig:
    name: str
    epochs: int
    seed: int = 0
    strategy: str = "auto"
    work_root: str = "work"
    steps_per_epoch: int | None = None  # None: the whole training set each epoch
    verbose: int | None = None  # None: a progress bar on a terminal, one line per epoch in a log file
    nan_check_every: int = 50  # batches; a check is a host round trip, so not every step
    model_signature: str | None = None  # `signature(model_config)`: a backup or finished run of another model is not this run's

    @property
    def work_dir(self) -> Path:
        return Path(self.work_root) / self.name


@dataclasses.dataclass
class TrainingOutcome:
    model: keras.Model
    history: dict[str, list[float]]
    epochs_trained: int
    wall_seconds: float  # over all sessions of a resumed run
    strategy: tf.distribute.Strategy
    log_csv: Path
    resumed_from_epoch: int = 0  # 0: trained from scratch in one go
    resumed_from_commit: str | None = None
    reused_finished: bool = False  # True: loaded from an earlier finished run, not trained here


FINISHED, FINAL_WEIGHTS = "finished.json", "final.weights.h5"


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


def set_seed(seed: int) -> None:
    """Seeds Python, NumPy and TensorFlow (and so every Keras SeedGenerator created afterwards)."""
    keras.utils.set_random_seed(seed)


class StopOnNonFinite(keras.callbacks.Callback):
    """Stops at the first non-finite training metric (checked every `every` batches and each epoch)."""

    def __init__(self, every: int):
        super().__init__()
        self.every, self.epoch, self.found = every, 0, None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def _check(self, logs, where):
        bad = {k: float(v) for k, v in (logs or {}).items() if not math.isfinite(float(v))}
        if bad and self.found is None:
            self.found = f"{where}: {bad}"
            self.model.stop_training = True

    def on_train_batch_end(self, batch, logs=None):
        if batch % self.every == 0:
            self._check(logs, f"epoch {self.epoch + 1}, batch {batch + 1}")

    def on_epoch_end(self, epoch, logs=None):
        self._check(logs, f"end of epoch {epoch + 1}")


class CumulativeClock(keras.callbacks.Callback):
    """Wall time and epochs over interruptions, kept in `progress.json` beside the backup."""

    def __init__(self, path: Path):
        super().__init__()
        self.path = path
        saved = json.loads(path.read_text()) if path.exists() else {}
        self.seconds, self.epochs = saved.get("wall_seconds", 0.0), saved.get("epochs", 0)
        self.started = None

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds += time.perf_counter() - self.started
        self.epochs = epoch + 1
        self.path.write_text(json.dumps({"wall_seconds": self.seconds, "epochs": self.epochs}))


def _callbacks(run: RunConfig, resuming: bool):
    work = run.work_dir
    if not resuming:  # a fresh run must not append to the log of an earlier, finished one
        for stale in ("log.csv", "progress.json", "tensorboard", FINISHED, FINAL_WEIGHTS):
            target = work / stale
            shutil.rmtree(target) if target.is_dir() else target.unlink(missing_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    return [
        keras.callbacks.BackupAndRestore(str(work / "backup"), delete_checkpoint=False),
        keras.callbacks.CSVLogger(str(work / "log.csv"), append=True),
        keras.callbacks.TensorBoard(str(work / "tensorboard"), write_graph=False),
        StopOnNonFinite(run.nan_check_every),
        CumulativeClock(work / "progress.json"),
    ]


def _check_resume(run: RunConfig) -> tuple[int, str | None]:
    """(epoch to resume from, commit that made the backup); writes run.json for a fresh run."""
    identity = {"seed": run.seed, "steps_per_epoch": run.steps_per_epoch, "model": run.model_signature,
                "commit": records.START_COMMIT}
    marker, progress = run.work_dir / "run.json", run.work_dir / "progress.json"
    if not (run.work_dir / "backup").exists():
        run.work_dir.mkdir(parents=True, exist_ok=True)
        marker.write_text(json.dumps(identity))
        return 0, None
    saved = json.loads(marker.read_text()) if marker.exists() else {}
    for key in ("seed", "steps_per_epoch", "model"):
        if saved.get(key) != identity[key]:
            raise ValueError(f"{run.work_dir / 'backup'} was made by a run with {key} {saved.get(key)!r}, not "
                             f"{identity[key]!r}: delete that folder to start over, or use its settings to resume")
    epoch = json.loads(progress.read_text()).get("epochs", 0) if progress.exists() else 0
    if saved.get("commit") != identity["commit"]:
        print(f"warning: resuming {run.name!r} from epoch {epoch} of a backup made at commit {saved.get('commit')}; "
              f"the code is now at {identity['commit']}", file=sys.stderr)
    return epoch, saved.get("commit")


def signature(model_config) -> str:
    """A short fingerprint of a model config, so that a run's backup is resumed only by the same model."""
    text = json.dumps(records.jsonable(model_config), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _identity(run: RunConfig) -> dict:
    return {"seed": run.seed, "steps_per_epoch": run.steps_per_epoch, "epochs": run.epochs, "model": run.model_signature}


def _finished_run(run: RunConfig) -> dict | None:
    """What `finished.json` says of an earlier run of this very seed and schedule, if it left weights."""
    marker = run.work_dir / FINISHED
    if not (marker.exists() and (run.work_dir / FINAL_WEIGHTS).exists()):
        return None
    saved = json.loads(marker.read_text())
    return saved if all(saved.get(k) == v for k, v in _identity(run).items()) else None


def _reuse(run: RunConfig, build_model, finished: dict) -> TrainingOutcome:
    set_seed(run.seed)
    strategy = distribute.make_strategy(run.strategy)
    with strategy.scope():
        model = build_model()
    with warnings.catch_warnings():  # the optimizer state is saved but not needed: this model is not trained on
        warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
        model.load_weights(str(run.work_dir / FINAL_WEIGHTS))
    commit = finished.get("commit")
    if commit != records.START_COMMIT:
        print(f"warning: reusing {run.name!r}, trained at commit {commit}; the code is now at "
              f"{records.START_COMMIT}", file=sys.stderr)
    history = {key: values.tolist() for key, values in records.read_csv_log(run.work_dir / "log.csv").items()
               if key != "epoch"}
    return TrainingOutcome(model, history, finished["epochs"],
                           finished["wall_seconds"], strategy, run.work_dir / "log.csv",
                           resumed_from_commit=commit if commit != records.START_COMMIT else None,
                           reused_finished=True)


def train(run: RunConfig, build_model: Callable[[], keras.Model], train_data: tf.data.Dataset,
          validation_data: tf.data.Dataset | None = None, callbacks=(), reuse_finished: bool = False
          ) -> TrainingOutcome:
    """Seeds, builds `build_model()` inside the strategy, fits for `run.epochs` (resuming if a backup
    exists) and returns the trained model with its history and cumulative wall time. `callbacks` run
    after the harness's own (so an epoch is backed up before they see it). With `reuse_finished`, an
    earlier finished run of the same name, seed and schedule is loaded instead of trained again."""
    if reuse_finished and (finished := _finished_run(run)):
        return _reuse(run, build_model, finished)
    if run.steps_per_epoch is None and train_data.cardinality() == tf.data.INFINITE_CARDINALITY:
        raise ValueError(f"run {run.name!r}: the training stream is endless; set RunConfig.steps_per_epoch "
                         "(data.steps_per_epoch gives one pass over a split)")
    set_seed(run.seed)
    strategy = distribute.make_strategy(run.strategy)
    with strategy.scope():
        model = build_model()
    backup = run.work_dir / "backup"
    resumed_from_epoch, resumed_from_commit = _check_resume(run)
    backup_cb, log_cb, board_cb, nan_stop, clock = _callbacks(run, resuming=backup.exists())
    history = model.fit(train_data, validation_data=validation_data, epochs=run.epochs,
                        steps_per_epoch=run.steps_per_epoch,
                        callbacks=[backup_cb, log_cb, board_cb, nan_stop, clock, *callbacks],
                        verbose=run.verbose if run.verbose is not None else (1 if sys.stdout.isatty() else 2),
                        shuffle=False)  # the tf.data pipeline shuffles, with its own seed
    if nan_stop.found:
        raise TrainingDiverged(
            f"run {run.name!r} diverged ({nan_stop.found}). The last good epoch is kept in {backup}; "
            "lower the learning rate or check the data, or delete that folder to start over.")
    if distribute.is_chief(strategy):
        model.save_weights(str(run.work_dir / FINAL_WEIGHTS))
        (run.work_dir / FINISHED).write_text(json.dumps(
            {**_identity(run), "commit": records.START_COMMIT, "wall_seconds": clock.seconds}))
    shutil.rmtree(backup, ignore_errors=True)
    return TrainingOutcome(model, history.history, clock.epochs, clock.seconds, strategy, run.work_dir / "log.csv",
                           resumed_from_epoch, resumed_from_commit)
