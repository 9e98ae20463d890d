"""What a results folder records besides its figures (config.json, metrics.json, environment.json),
and how a folder is replaced whole (`replace_directory`), so a reader never finds half of one run
and half of another."""

from __future__ import annotations

import contextlib
import csv
import ctypes
import dataclasses
import errno
import json
import math
import os
import platform
import shutil
import subprocess
from importlib import metadata
from pathlib import Path

import numpy as np
import tensorflow as tf

PACKAGES = (
    "tensorflow",
    "keras",
    "tensorflow-probability",
    "tensorflow-datasets",
    "numpy",
    "matplotlib",
)


def jsonable(value):
    """Dataclasses, tuples, numpy scalars and arrays, Paths -> plain JSON values (NaN -> null)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (np.ndarray, np.generic)):
        return jsonable(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


def write_json(path: Path, value) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomically(path, json.dumps(jsonable(value), indent=2, sort_keys=True) + "\n")
    return path


def write_text_atomically(path: Path, text: str) -> None:
    """Writes `path` through a temporary sibling and a rename: a crash leaves the old file or the
    new one."""
    partial = Path(path).with_name(f".{Path(path).name}.partial-{os.getpid()}")
    partial.write_text(text)
    partial.replace(path)


_RENAME_EXCHANGE, _AT_FDCWD = 2, -100


def _exchange(first: Path, second: Path) -> bool:
    """Swaps two paths in one system call (Linux renameat2 RENAME_EXCHANGE); False where
    unsupported."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    if (
        renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE)
        == 0
    ):
        return True
    code = ctypes.get_errno()
    if code in (
        errno.ENOSYS,
        errno.EINVAL,
        errno.ENOTSUP,
    ):  # an old kernel or a file system without it
        return False
    raise OSError(code, f"cannot swap {first} and {second}: {os.strerror(code)}")


def replace_directory(new: Path, target: Path) -> None:
    """Puts the folder `new` at `target` (same file system) in one step and deletes what was
    there: a reader sees the old folder or the new one, never a mix. Without an atomic swap (not
    Linux), two renames; a crash between them leaves the old folder beside `target` as
    `.<name>.old-<pid>`."""
    new, target = Path(new), Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        os.rename(new, target)
        return
    if _exchange(new, target):
        shutil.rmtree(new)  # it now holds the old folder
        return
    old = target.with_name(f".{target.name}.old-{os.getpid()}")
    os.rename(target, old)
    os.rename(new, target)
    shutil.rmtree(old)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_abandoned(parent: Path, prefix: str) -> None:
    """Removes `<parent>/<prefix><pid>` folders whose process is gone (a run killed before it
    finished)."""
    for folder in Path(parent).glob(f"{prefix}*"):
        pid = folder.name[len(prefix) :]
        if pid.isdigit() and int(pid) != os.getpid() and not _process_alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


# Files of a results folder that no run writes: a run's history, written by hand, outlives the run.
HAND_WRITTEN = ("HISTORY.md",)


STAGING_PREFIX = ".staging-"  # `staged_directory`'s folders: <parent>/.staging-<pid>/<name>/


def final_parent(folder: Path) -> Path:
    """The folder `folder` will be in: its parent, or for a staged folder (`staged_directory`) its
    target's, where its finished siblings are."""
    folder = Path(folder)
    staged = folder.parent.name.startswith(STAGING_PREFIX)
    return folder.parent.parent if staged else folder.parent


@contextlib.contextmanager
def staged_directory(target: Path):
    """Yields a folder with `target`'s name, under `<parent>/.staging-<pid>/`, to be filled in place
    of `target`: empty but for the `HAND_WRITTEN` files `target` has, copied in. If the block
    completes, it replaces `target` in one step (`replace_directory`); if it fails, it is removed and
    `target` is left as it was."""
    target = Path(target)
    remove_abandoned(target.parent, STAGING_PREFIX)
    scratch = target.parent / f"{STAGING_PREFIX}{os.getpid()}"
    staging = scratch / target.name
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for name in HAND_WRITTEN:
        if (target / name).is_file():
            shutil.copy2(target / name, staging / name)
    try:
        yield staging
        replace_directory(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        with contextlib.suppress(OSError):
            scratch.rmdir()  # once empty: other folders of this process may still be staged there


def read_json(path: Path):
    return json.loads(Path(path).read_text())


def read_run(out: Path) -> tuple[dict, dict, dict]:
    """(metrics, config, environment) of the run recorded in `out`, for rendering its README."""
    return tuple(
        read_json(Path(out) / f"{name}.json") for name in ("metrics", "config", "environment")
    )


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(["git", *args], capture_output=True, text=True, timeout=10)
        return done.stdout.strip() if done.returncode == 0 else None
    except OSError:
        return None


# Taken when a run starts (this module is imported then), not when it ends: commits made while a
# long run trains must not be credited with its results. `dirty`: tracked files not committed.
START_COMMIT = _git("rev-parse", "HEAD")
START_DIRTY = (_git("status", "--porcelain", "--untracked-files=no") or "").splitlines()
# The command that reproduces this process's run (`make smoke`, `make vae ARGS='--epochs=10'`), set
# by the experiment's entry point; a README names it instead of the study's usual command.
COMMAND: str | None = None


def training_commit(summary: dict) -> str:
    """Where a model loaded finished was trained, from its `TrainingOutcome.summary()`: its
    `trained_at_commit` is None when that was the commit the loading run began at."""
    if "trained_at_commit" not in summary:  # recorded before the summary had it
        return "its training commit not recorded"
    commit = summary["trained_at_commit"]
    return f"trained at commit `{commit[:7]}`" if commit else "trained at the same commit"


def uncommitted_code(dirty_lines) -> str:
    """ ", with uncommitted changes to <files>" for the files of `git status --porcelain` lines
    outside results/, or "": committed results a run rewrites are not code it ran (environment.json
    keeps every line)."""
    changed = [line.split()[-1] for line in dirty_lines or [] if line.strip()]
    code = [path for path in changed if not path.startswith("results/")]
    return f", with uncommitted changes to {', '.join(code)}" if code else ""


def cpu_name() -> str:
    """The CPU's model name, from /proc/cpuinfo or lscpu; "unknown" where neither says."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        listing = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        for line in listing.splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown"


# The x86 instructions that compute in bfloat16 (/proc/cpuinfo's names): AVX-512 BF16's dot products
# and AMX's tile multiplies. Without them oneDNN converts bfloat16 to float32 around float32 FMAs.
BFLOAT16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_bfloat16_instructions(cpuinfo: str | None = None) -> list[str] | None:
    """The BFLOAT16_CPU_FLAGS this CPU has (empty: none), from `cpuinfo` (default /proc/cpuinfo);
    None where the flags cannot be read (not Linux, or not x86)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return None
    for line in cpuinfo.splitlines():
        if line.lower().startswith("flags"):
            present = set(line.split(":", 1)[1].split())
            return [flag for flag in BFLOAT16_CPU_FLAGS if flag in present]
    return None


def onednn_enabled() -> bool | None:
    """Whether this TensorFlow runs oneDNN's CPU kernels (read once, at import, from
    TF_ENABLE_ONEDNN_OPTS and the CPU's features); None where the build does not say."""
    with contextlib.suppress(ImportError, AttributeError):
        from tensorflow.python.util import _pywrap_util_port

        return bool(_pywrap_util_port.IsMklEnabled())
    return None


def cpu_threads() -> dict:
    """The cores this process may run on (`taskset`) and the threads TensorFlow was asked for: wall
    times compare only between runs with the same."""
    return {
        "cores_allowed": len(os.sched_getaffinity(0)),
        "TF_NUM_INTRAOP_THREADS": os.environ.get("TF_NUM_INTRAOP_THREADS"),
        "TF_NUM_INTEROP_THREADS": os.environ.get("TF_NUM_INTEROP_THREADS"),
    }


def environment(
    *,
    strategy_description: dict | None = None,
    epochs: int | None = None,
    wall_seconds: float | None = None,
    **extra,
) -> dict:
    """Versions, devices, the strategy used, epochs trained and wall time, for environment.json."""
    versions = {}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": cpu_name(),
        # whether bfloat16 runs natively here: a mixed_bfloat16 run's speed depends on it
        "cpu_bfloat16_instructions": cpu_bfloat16_instructions(),
        # which CPU kernels TensorFlow ran, oneDNN's or Eigen's: the Makefile asks for oneDNN, which
        # TensorFlow otherwise enables only on CPUs with AVX-512 VNNI, BF16 or AMX
        "tf_enable_onednn_opts": os.environ.get("TF_ENABLE_ONEDNN_OPTS"),
        "onednn": onednn_enabled(),
        "cpu_threads": cpu_threads(),
        "packages": versions,
        "devices": [d.name for d in tf.config.list_logical_devices()],
        "distribution": strategy_description,
        "epochs": epochs,
        "wall_seconds": None if wall_seconds is None else round(wall_seconds, 1),
        "git_commit": START_COMMIT,
        "git_dirty_at_start": START_DIRTY,
        **({"command": COMMAND} if COMMAND else {}),
        **extra,
    }


def evaluator_fingerprints(quality: dict) -> list[str]:
    """The fingerprints of the evaluators that scored the rows of a sample-quality table (sorted,
    each once); rows measured before fingerprints were recorded, or unscored, add none."""
    return sorted(
        {
            row["evaluator"]
            for row in quality.values()
            if isinstance(row, dict) and "evaluator" in row
        }
    )


def evaluator_sentence(quality: dict) -> str:
    """Which evaluator scored a sample-quality table (its weights' fingerprint), or "" for results
    measured before fingerprints were recorded."""
    prints = evaluator_fingerprints(quality)
    if not prints:
        return ""
    return (
        f"Scored by the evaluator with fingerprint {', '.join(prints)} (`make evaluator`; FD and "
        "KID from another evaluator differ in their last digits)."
    )


def provenance(env: dict, command: str) -> str:
    """One sentence for a results README: what produced it, at which commit, how long it trained,
    where. The command recorded in `env` (the one actually run, e.g. `make smoke`) wins over
    `command`, the study's usual one."""
    command = env.get("command") or command
    where = env.get("distribution") or {}
    trained = (
        f"{env['epochs']} epochs in {env['wall_seconds'] / 60:.1f} min of training"
        if env.get("epochs") is not None
        else "no training"
    )
    resumed = env.get("resumed_from_epoch")
    # a resumed run's training time spans sessions, its process time only the last one
    total = (
        f" ({env['total_seconds'] / 60:.1f} min in all{' in the last session' if resumed else ''})"
        if env.get("total_seconds")
        else ""
    )
    if env.get("reused_finished"):
        trained = f"weights of an earlier finished run ({trained}) reused" + (
            f", trained at commit `{env['resumed_from_commit']}`"
            if env.get("resumed_from_commit")
            else ""
        )
        resumed = None
    if resumed:
        trained += " over more than one session"
        made_at = env.get("resumed_from_commit")
        total += f", resumed after epoch {resumed} from a backup made at commit `{made_at}`"
    dirty = uncommitted_code(env.get("git_dirty_at_start"))
    place = f"{where['strategy']} over {where['devices']}" if where else f"{env.get('devices')}"
    if env.get("cpu"):
        place += f" of an {env['cpu']}" if env["cpu"][0] in "AEIOU" else f" of a {env['cpu']}"
    # a join of cells trained apart names each cell's commits beside it, not here
    made = (
        "Joined from cells trained apart (their commits below)" if env.get("models") else "Produced"
    )
    return (
        f"{made} by `{command}` at commit `{env.get('git_commit')}`{dirty}: {trained}{total}, on "
        f"{place}, TensorFlow {env['packages']['tensorflow']}"
        + (f", data from {env['data_source']}." if env.get("data_source") else ".")
    )


def _parse_float(text):
    """A CSVLogger cell; non-numeric cells (Keras writes "NA" for a metric an epoch did not report)
    are NaN."""
    try:
        return float(text)
    except (TypeError, ValueError):
        return float("nan")


def read_csv_log(csv_path) -> dict[str, np.ndarray]:
    """A Keras CSVLogger file as {column: float array [epochs]}, epoch 1-based."""
    with open(csv_path, newline="") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
        columns = reader.fieldnames
    if not columns or not rows:
        raise ValueError(f"{csv_path} has no header or no data rows")
    if "epoch" not in columns:
        raise ValueError(f"{csv_path} has no 'epoch' column; columns are {columns}")
    log = {name: np.array([_parse_float(row[name]) for row in rows]) for name in columns}
    # Keras counts epochs from 0; plots and tables read better from 1
    log["epoch"] = log["epoch"] + 1
    return log
