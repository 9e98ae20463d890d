"""The one training harness: build in the strategy, `fit` with Keras callbacks, resume, stop on NaN.

Scratch output (backup checkpoint, CSV log, TensorBoard) goes to `work/<name>/`, which git ignores,
and belongs to one process at a time: a lock file (`fcntl.flock`) makes a second run of the same
name fail at once with the pid of the first (`RunLocked`).

An interrupted run restarted with the same config resumes from the last completed epoch (the backup
of `keras.callbacks.BackupAndRestore`, written here by `FiniteBackup`). A backup is written only
when every value it saves, weights and optimizer slots alike, is finite and the epoch ran to its
end; it replaces the previous one in a single rename, so a kill during the write leaves the previous
one. A non-finite metric stops training with `TrainingDiverged`, which names the epoch the backup
keeps (or says there is none); a non-finite backup (left by an older version of this harness) is
refused on resume. `run.json` beside the backup says which seed, schedule and commit made it: a
backup of another seed or schedule is refused (`ResumeRefused`), one made by another commit is
resumed with a warning, and the outcome says where it resumed from (results record it). The CSV log
of a resumed run is cut back to the backup's epoch, so it stays contiguous.

A run that completed all its epochs leaves `final.weights.h5` with `finished.json`; an untrained or
partly trained model never does. A finished run of the same name, seed, schedule and model is loaded
instead of trained again (with a warning if another commit trained it), never deleted: delete
`work/<name>/` to train it anew.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import fcntl
import hashlib
import json
import math
import os
import shutil
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import h5py
import keras
import numpy as np
import tensorflow as tf

from vaegan_tf import distribute, dtypes, records
from vaegan_tf.choices import check_choice


@dataclasses.dataclass(frozen=True)
class RunConfig:
    name: str
    epochs: int
    seed: int = 0
    strategy: str = "auto"
    work_root: str = "work"
    steps_per_epoch: int | None = None  # None: the whole training set each epoch
    # None: a progress bar on a terminal, one line per epoch in a log file
    verbose: int | None = None
    nan_check_every: int = 50  # batches; a check is a host round trip, so not every step
    # `signature(model_config)`: a backup or finished run of another model is not this run's
    model_signature: str | None = None
    # the Keras dtype policy the model is built under (`dtypes`); part of the run's identity
    precision: str = "float32"

    def __post_init__(self):
        if not self.name or "/" in self.name or self.name in (".", ".."):
            raise ValueError(f"run name {self.name!r} must be a plain folder name")
        for field, value in (
            ("epochs", self.epochs),
            ("nan_check_every", self.nan_check_every),
            ("steps_per_epoch", self.steps_per_epoch),
        ):
            if value is not None and (
                not isinstance(value, int) or isinstance(value, bool) or value < 1
            ):
                raise ValueError(
                    f"run {self.name!r}: {field} must be a whole number >= 1, not {value!r}"
                )
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            raise ValueError(
                f"run {self.name!r}: seed must be a whole number >= 0, not {self.seed!r}"
            )
        check_choice(self.strategy, distribute.STRATEGIES, "strategy")
        check_choice(self.precision, dtypes.PRECISIONS, "precision")

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

    def summary(self) -> dict:
        """What a study records of a model it trained or loaded: epochs, wall time over every
        session, whether it was loaded finished, and the commit a resumed run began at."""
        return {
            "epochs": self.epochs_trained,
            "wall_seconds": round(self.wall_seconds, 1),
            "loaded_from_finished_run": self.reused_finished,
            "trained_at_commit": self.resumed_from_commit,
        }


FINISHED, FINAL_WEIGHTS, LOCK = "finished.json", "final.weights.h5", "lock"
BACKUP, BACKUP_WEIGHTS, BACKUP_EPOCH, BACKUP_PROGRESS = (
    "backup",
    "latest.weights.h5",
    "training_metadata.json",
    "progress.json",
)


class TrainingDiverged(RuntimeError):
    """The loss, a weight or an optimizer slot became NaN or infinite."""


class TrainingIncomplete(RuntimeError):
    """`fit` returned before the last epoch (a callback stopped it) without diverging."""


class ResumeRefused(ValueError):
    """The backup in the work folder cannot be resumed by this run; the message names the fix."""


class RunLocked(RuntimeError):
    """Another process is running in the same work folder."""


def set_seed(seed: int) -> None:
    """Seeds Python, NumPy and TensorFlow (and so every Keras SeedGenerator created afterwards)."""
    keras.utils.set_random_seed(seed)


# ---- one process per work folder ------------------------------------------------------------

# resolved lock path -> [open file, depth]: a process may re-enter the locks it holds
_HELD_LOCKS: dict[str, list] = {}


def _cluster_task() -> str | None:
    """`<type>-<index>` of this process in the TF_CONFIG cluster, or None for a lone process or the
    chief (the `chief` task, else worker 0): the one that writes the run's shared files."""
    task = json.loads(os.environ.get("TF_CONFIG") or "{}").get("task") or {}
    kind, index = task.get("type"), task.get("index", 0)
    if not task or kind == "chief" or (kind == "worker" and index == 0):
        return None
    return f"{kind}-{index}"


@contextlib.contextmanager
def exclusive(work_dir: Path, name: str | None = None):
    """Holds an exclusive lock on `work_dir` for the block; raises `RunLocked` at once if another
    process holds it. The lock is an `fcntl.flock` on `work_dir/lock`, which the kernel releases
    when the process dies, so a killed run never leaves it held. Re-entrant within one process."""
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    task = _cluster_task()
    path = work_dir / (LOCK if task is None else f"{LOCK}.{task}")
    key = str(path.resolve())
    if key in _HELD_LOCKS:
        _HELD_LOCKS[key][1] += 1
        try:
            yield
        finally:
            _HELD_LOCKS[key][1] -= 1
        return
    handle = open(path, "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        owner = handle.read().strip() or "unknown"
        handle.close()
        raise RunLocked(
            f"run {name or work_dir.name!r} is already running, pid {owner}, in {work_dir}: "
            "wait for it to finish or stop it, or give this run another --work_root"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    _HELD_LOCKS[key] = [handle, 1]
    try:
        yield
    finally:
        del _HELD_LOCKS[key]
        handle.truncate(0)
        handle.close()  # closing releases the flock


# ---- the finite backup ----------------------------------------------------------------------


def count_nonfinite(weights_file: Path) -> tuple[int, int]:
    """(non-finite values, all floating-point values) stored in a Keras `.weights.h5` file: every
    layer's weights and every optimizer's slots, as written by `save_weights`."""
    counts = [0, 0]

    def visit(_, item):
        if isinstance(item, h5py.Dataset) and np.issubdtype(item.dtype, np.floating):
            values = item[()]
            counts[0] += int(np.size(values) - np.count_nonzero(np.isfinite(values)))
            counts[1] += int(np.size(values))

    with h5py.File(weights_file, "r") as stored:
        stored.visititems(visit)
    return counts[0], counts[1]


def _nonfinite_metrics(logs) -> dict[str, float]:
    return {k: float(v) for k, v in (logs or {}).items() if not math.isfinite(float(v))}


class StopOnNonFinite(keras.callbacks.Callback):
    """Stops at the first non-finite training metric (checked every `every` batches and each
    epoch)."""

    def __init__(self, every: int):
        super().__init__()
        self.every, self.epoch, self.found = every, 0, None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def _check(self, logs, where):
        bad = _nonfinite_metrics(logs)
        if bad and self.found is None:
            self.found = f"{where}: {bad}"
            self.model.stop_training = True

    def on_train_batch_end(self, batch, logs=None):
        if batch % self.every == 0:
            self._check(logs, f"epoch {self.epoch + 1}, batch {batch + 1}")

    def on_epoch_end(self, epoch, logs=None):
        self._check(logs, f"end of epoch {epoch + 1}")


class CumulativeClock(keras.callbacks.Callback):
    """Wall time and epochs over interruptions; the backup stores them with the epoch they belong
    to."""

    def __init__(self, seconds: float = 0.0, epochs: int = 0):
        super().__init__()
        self.seconds, self.epochs, self.started = seconds, epochs, None

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds += time.perf_counter() - self.started
        self.epochs = epoch + 1


class FiniteBackup(keras.callbacks.BackupAndRestore):
    """`BackupAndRestore` that keeps only epochs worth resuming. At each epoch's end it writes the
    weights (with every optimizer slot), the epoch and the clock into `<backup>.next/`, reads the
    weights file back, and only if the epoch ran to its end (`epoch_completed()`) and every stored
    value is finite swaps the folder in for the previous backup in one rename. Otherwise the
    previous backup stays and training stops. Restoring is Keras's own (`on_train_begin`). On a
    cluster every worker checks its own copy, so all take the same decision, and only the chief
    keeps it."""

    def __init__(
        self,
        backup_dir: Path,
        clock: CumulativeClock,
        epoch_completed: Callable[[], bool],
        keep: bool = True,
    ):
        super().__init__(str(backup_dir), delete_checkpoint=False)
        self.directory, self.clock = Path(backup_dir), clock
        self.epoch_completed, self.keep = epoch_completed, keep
        self.saved_epoch: int | None = None  # the epoch this session's last backup holds
        self.refused: str | None = None  # why the first refused epoch was not backed up

    def on_epoch_end(self, epoch, logs=None):
        self._current_epoch, self._last_batch_seen = epoch + 1, 0
        if not self.epoch_completed():
            self.refused = f"epoch {epoch + 1} not backed up: a training metric was non-finite"
            return
        staging = self.directory.with_name(
            f"{self.directory.name}.next" + ("" if self.keep else f"-{os.getpid()}")
        )
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        try:
            self.model.save_weights(str(staging / BACKUP_WEIGHTS))
            bad, total = count_nonfinite(staging / BACKUP_WEIGHTS)
            if bad:
                self.refused = (
                    f"epoch {epoch + 1} ended with {bad:,} of {total:,} stored values non-finite"
                )
                self.model.stop_training = True
                return
            if not self.keep:
                return
            (staging / BACKUP_EPOCH).write_text(json.dumps({"epoch": epoch + 1, "batch": 0}))
            (staging / BACKUP_PROGRESS).write_text(
                json.dumps({"wall_seconds": self.clock.seconds, "epochs": epoch + 1})
            )
            records.replace_directory(staging, self.directory)
            self.saved_epoch = epoch + 1
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def on_train_batch_end(self, batch, logs=None):
        pass  # epochs only: a mid-epoch backup is never resumed here


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


def _recover_backup(work: Path) -> None:
    """Cleans what a kill during a backup swap can leave: a half-written `backup.next*`; or, where
    the swap is two renames, the old backup parked beside an absent `backup`."""
    for leftover in work.glob(f"{BACKUP}.next*"):
        shutil.rmtree(leftover, ignore_errors=True)
    parked = sorted(work.glob(f".{BACKUP}.old-*"))
    if parked and not (work / BACKUP).exists():
        os.rename(parked[-1], work / BACKUP)


def _truncate_log(log_csv: Path, epochs: int) -> None:
    """Keeps the log rows of the first `epochs` epochs (Keras numbers them from 0): a session
    stopped after logging an epoch it did not back up must not leave that row twice."""
    if not log_csv.exists():
        return
    with open(log_csv, newline="") as handle:
        reader = csv.reader(handle)
        rows = list(reader)
    if not rows:
        return
    header, body = rows[0], rows[1:]
    column = header.index("epoch") if "epoch" in header else 0
    kept = [row for row in body if row and row[column].isdigit() and int(row[column]) < epochs]
    if len(kept) != len(body):
        with open(log_csv, "w", newline="") as handle:
            csv.writer(handle).writerows([header, *kept])


# what `run.json` must share with a run for it to resume that backup (the epochs may differ)
_RESUME_KEYS = ("seed", "steps_per_epoch", "model", "precision")


def _differing(saved: dict, identity: dict) -> list[str]:
    """The keys of `_RESUME_KEYS` on which a `run.json` and a run's identity differ."""
    return [key for key in _RESUME_KEYS if _saved(saved, key) != _saved(identity, key)]


def _backed_up(work: Path) -> tuple[int, float]:
    """(epochs the backup in `work` holds, wall seconds of training they took)."""
    backup = work / BACKUP
    progress = _read_json(backup / BACKUP_PROGRESS) or _read_json(work / BACKUP_PROGRESS)
    return int(_read_json(backup / BACKUP_EPOCH).get("epoch", 0)), float(
        progress.get("wall_seconds", 0.0)
    )


def _check_resume(run: RunConfig) -> tuple[int, str | None, float]:
    """(epoch to resume from, commit that made the backup, wall seconds it took); writes run.json
    for a fresh run; raises `ResumeRefused` for a backup of another run or with non-finite
    values."""
    identity = {
        **{key: value for key, value in _identity(run).items() if key != "epochs"},
        "commit": records.START_COMMIT,
    }
    marker, backup = run.work_dir / "run.json", run.work_dir / BACKUP
    if not backup.exists():
        run.work_dir.mkdir(parents=True, exist_ok=True)
        records.write_text_atomically(marker, json.dumps(identity))
        return 0, None, 0.0
    saved = _read_json(marker)
    differing = _differing(saved, identity)
    if differing:
        key = differing[0]
        raise ResumeRefused(
            f"{backup} was made by a run with {key} {_saved(saved, key)!r}, not "
            f"{_saved(identity, key)!r}: delete that folder to start over, or use its settings "
            "to resume"
        )
    if (backup / BACKUP_WEIGHTS).exists():
        bad, total = count_nonfinite(backup / BACKUP_WEIGHTS)
        if bad:
            raise ResumeRefused(
                f"{backup} holds {bad:,} non-finite values of {total:,} (a diverged epoch backed "
                f"up before backups were checked): delete {backup} to start over"
            )
    epoch, wall_seconds = _backed_up(run.work_dir)
    if saved.get("commit") != identity["commit"]:
        print(
            f"warning: resuming {run.name!r} from epoch {epoch} of a backup made at commit "
            f"{saved.get('commit')}; the code is now at {identity['commit']}",
            file=sys.stderr,
        )
    return epoch, saved.get("commit"), wall_seconds


def _start_work_dir(work: Path, resuming: bool) -> None:
    if not resuming:  # a fresh run must not append to the log of an earlier one
        for stale in ("log.csv", BACKUP_PROGRESS, "tensorboard", FINISHED, FINAL_WEIGHTS):
            target = work / stale
            shutil.rmtree(target) if target.is_dir() else target.unlink(missing_ok=True)
    work.mkdir(parents=True, exist_ok=True)


def signature(model_config) -> str:
    """A short fingerprint of a model config, so that a run's backup is resumed only by the same
    model."""
    text = json.dumps(records.jsonable(model_config), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# what an identity key means where a run.json or finished.json made before it existed lacks it
_IDENTITY_DEFAULTS = {"precision": "float32"}


def _saved(saved: dict, key: str):
    return saved.get(key, _IDENTITY_DEFAULTS.get(key))


def _identity(run: RunConfig) -> dict:
    identity = {
        "seed": run.seed,
        "steps_per_epoch": run.steps_per_epoch,
        "epochs": run.epochs,
        "model": run.model_signature,
    }
    # named only when it is not the default, so float32 runs made before it existed still match
    if run.precision != "float32":
        identity["precision"] = run.precision
    return identity


def _finished_run(run: RunConfig) -> dict | None:
    """What `finished.json` says of an earlier run of this very seed, schedule and model, if it left
    weights."""
    marker = run.work_dir / FINISHED
    if not (marker.exists() and (run.work_dir / FINAL_WEIGHTS).exists()):
        return None
    saved = json.loads(marker.read_text())
    identity = _identity(run)
    same = all(_saved(saved, key) == _saved(identity, key) for key in {*identity, "precision"})
    return saved if same else None


def under_way(run: RunConfig, work_dir: Path | None = None) -> dict | None:
    """What a backup in `work_dir` (default `run.work_dir`) of this very run (seed, steps per
    epoch, model and precision, as `run.json` names them), not yet finished, has done: {"epochs":
    epochs backed up, "wall_seconds": over its sessions, "commit": where it began, "history": the
    log's columns over those epochs}; None if there is no such backup. Reads files only: a run
    training meanwhile in another process is reported as of its last backup."""
    work = Path(work_dir or run.work_dir)
    backup = work / BACKUP
    if not (backup / BACKUP_EPOCH).exists() or (work / FINISHED).exists():
        return None
    saved = _read_json(work / "run.json")
    if _differing(saved, _identity(run)):
        return None
    epochs, wall_seconds = _backed_up(work)
    try:  # the log may be mid-write in the other process: then the epochs without the curve
        logged = records.read_csv_log(work / "log.csv") if epochs else {}
    except (OSError, ValueError):
        logged = {}
    history = {key: values[:epochs].tolist() for key, values in logged.items() if key != "epoch"}
    return {
        "epochs": epochs,
        "wall_seconds": wall_seconds,
        "commit": saved.get("commit"),
        "history": history,
    }


def _reuse(run: RunConfig, build_model, finished: dict) -> TrainingOutcome:
    set_seed(run.seed)
    strategy = distribute.make_strategy(run.strategy)
    with strategy.scope(), dtypes.dtype_policy(run.precision):
        model = build_model()
    with (
        warnings.catch_warnings()
    ):  # the optimizer state is saved but not needed: this model is not trained on
        warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
        model.load_weights(str(run.work_dir / FINAL_WEIGHTS))
    commit = finished.get("commit")
    print(
        f"reusing the finished run in {run.work_dir} ({finished['epochs']} epochs"
        + (
            f", trained at commit {commit}; the code is now at {records.START_COMMIT}"
            if commit != records.START_COMMIT
            else ""
        )
        + "); delete that folder to train it again",
        file=sys.stderr,
    )
    history = {
        key: values.tolist()
        for key, values in records.read_csv_log(run.work_dir / "log.csv").items()
        if key != "epoch"
    }
    return TrainingOutcome(
        model,
        history,
        finished["epochs"],
        finished["wall_seconds"],
        strategy,
        run.work_dir / "log.csv",
        resumed_from_commit=commit if commit != records.START_COMMIT else None,
        reused_finished=True,
    )


def _diverged_message(
    run: RunConfig, found: str | None, backup: FiniteBackup, resumed_from: int
) -> str:
    what = "; ".join(part for part in (found, backup.refused) if part)
    kept = backup.saved_epoch or resumed_from
    where = run.work_dir / BACKUP
    if kept:
        return (
            f"run {run.name!r} diverged ({what}). The backup in {where} keeps epoch {kept}, "
            "the last with every weight and optimizer slot finite: lower the learning rate or "
            f"check the data, then rerun to resume from it, or delete {run.work_dir} to start over."
        )
    return (
        f"run {run.name!r} diverged ({what}). No epoch ended with finite weights, so there is no "
        "backup to resume: lower the learning rate or check the data, then rerun."
    )


def train(
    run: RunConfig,
    build_model: Callable[[], keras.Model],
    train_data: tf.data.Dataset,
    validation_data: tf.data.Dataset | None = None,
    callbacks=(),
    reuse_finished: bool = True,
) -> TrainingOutcome:
    """Seeds, builds `build_model()` inside the strategy, fits for `run.epochs` (resuming if a
    backup exists) and returns the trained model with its history and cumulative wall time.
    `callbacks` run after the harness's own (so an epoch is backed up before they see it). An
    earlier finished run of the same name, seed, schedule and model is loaded instead of trained
    again; `reuse_finished` is accepted for callers written when that had to be asked for, and no
    longer changes anything."""
    # always: a finished run of this very config is worth hours and is never thrown away
    del reuse_finished
    if run.steps_per_epoch is None and train_data.cardinality() == tf.data.INFINITE_CARDINALITY:
        raise ValueError(
            f"run {run.name!r}: the training stream is endless; set RunConfig.steps_per_epoch "
            "(data.steps_per_epoch gives one pass over a split)"
        )
    with exclusive(run.work_dir, run.name):
        if finished := _finished_run(run):
            return _reuse(run, build_model, finished)
        return _train(run, build_model, train_data, validation_data, callbacks)


def _train(run, build_model, train_data, validation_data, callbacks) -> TrainingOutcome:
    set_seed(run.seed)
    accelerators = len(
        tf.config.list_physical_devices("GPU") + tf.config.list_physical_devices("TPU")
    )
    if warning := dtypes.slow_bfloat16_warning(
        run.precision, records.cpu_bfloat16_instructions(), accelerators
    ):
        print(warning, file=sys.stderr)
    strategy = distribute.make_strategy(run.strategy)
    with strategy.scope(), dtypes.dtype_policy(run.precision):
        model = build_model()
    chief = distribute.is_chief(strategy)
    if chief:
        _recover_backup(run.work_dir)
        resumed_from_epoch, resumed_from_commit, seconds = _check_resume(run)
        scratch = run.work_dir
    else:  # resumes from the chief's backup (the cluster shares one folder), logs in its own folder
        epoch = _read_json(run.work_dir / BACKUP / BACKUP_EPOCH).get("epoch", 0)
        resumed_from_epoch, resumed_from_commit, seconds = epoch, None, 0.0
        scratch = run.work_dir / (_cluster_task() or "worker")
    resuming = (run.work_dir / BACKUP).exists()
    _start_work_dir(scratch, resuming)
    log_csv = scratch / "log.csv"
    if resuming:
        _truncate_log(log_csv, resumed_from_epoch)
    nan_stop = StopOnNonFinite(run.nan_check_every)
    clock = CumulativeClock(seconds, resumed_from_epoch)
    backup = FiniteBackup(run.work_dir / BACKUP, clock, lambda: nan_stop.found is None, keep=chief)
    harness = [
        nan_stop,
        keras.callbacks.CSVLogger(str(log_csv), append=True),
        clock,
        backup,
        keras.callbacks.TensorBoard(str(scratch / "tensorboard"), write_graph=False),
    ]
    history = model.fit(
        train_data,
        validation_data=validation_data,
        epochs=run.epochs,
        steps_per_epoch=run.steps_per_epoch,
        callbacks=[*harness, *callbacks],
        verbose=run.verbose if run.verbose is not None else (1 if sys.stdout.isatty() else 2),
        shuffle=False,  # the tf.data pipeline shuffles, with its own seed
    )
    if nan_stop.found or backup.refused:
        raise TrainingDiverged(_diverged_message(run, nan_stop.found, backup, resumed_from_epoch))
    if clock.epochs != run.epochs:
        raise TrainingIncomplete(
            f"run {run.name!r} stopped after {clock.epochs} of {run.epochs} epochs (a callback "
            f"stopped it); the backup in {run.work_dir / BACKUP} resumes it"
        )
    if chief:
        partial = run.work_dir / f"partial.{FINAL_WEIGHTS}"
        model.save_weights(str(partial))
        partial.replace(run.work_dir / FINAL_WEIGHTS)
        records.write_text_atomically(
            run.work_dir / FINISHED,
            json.dumps(
                {**_identity(run), "commit": records.START_COMMIT, "wall_seconds": clock.seconds}
            ),
        )
        shutil.rmtree(run.work_dir / BACKUP, ignore_errors=True)
    return TrainingOutcome(
        model,
        history.history,
        clock.epochs,
        clock.seconds,
        strategy,
        log_csv,
        resumed_from_epoch,
        resumed_from_commit,
    )
