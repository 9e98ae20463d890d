"""Nothing lost, nothing mixed: two processes on one work folder, a run killed with SIGKILL, results
folders replaced whole. The other process is a real Python process running the real harness."""

import csv
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import pytest
from conftest import fake_splits

from vaegan_tf import data, records, training
from vaegan_tf.models.vae import VAEConfig, build_vae
from vaegan_tf.studies.common import RunSettings

TESTS = Path(__file__).resolve().parent
TINY = VAEConfig(image_shape=(28, 28, 1), hidden_units=(16,), latent_dim=2)
EPOCHS, STEPS = 4, 6


def tiny_run(work_root) -> training.RunConfig:
    return training.RunConfig(
        "run", EPOCHS, work_root=str(work_root), verbose=0, steps_per_epoch=STEPS
    )


def tiny_stream():
    return data.pipeline(
        fake_splits().train, batch_size=50, preprocessing="dynamic_binarize", shuffle=True
    )


class Pause(keras.callbacks.Callback):
    """In the child: at `epoch` (0-based), after batch `batch`, prints `signal` and waits: for a
    line on stdin (`hold`) or until killed (`kill`)."""

    def __init__(self, mode, epoch, batch):
        super().__init__()
        self.mode, self.epoch, self.batch, self.current = mode, epoch, batch, 0

    def on_epoch_begin(self, epoch, logs=None):
        self.current = epoch

    def on_train_batch_end(self, batch, logs=None):
        if (self.current, batch) == (self.epoch, self.batch):
            print(f"PAUSED {os.getpid()}", flush=True)
            if self.mode == "hold":
                sys.stdin.readline()
            else:
                time.sleep(600)


def child(mode: str, work_root: str) -> None:
    """What the other process runs: the tiny run, paused in epoch 3 (after two backed-up epochs)."""
    training.train(
        tiny_run(work_root),
        lambda: build_vae(TINY),
        tiny_stream(),
        callbacks=[Pause(mode, epoch=2, batch=2)],
    )
    print("FINISHED", flush=True)


def start_child(mode, work_root) -> subprocess.Popen:
    code = (
        f"import sys; sys.path[:0] = [{str(TESTS)!r}]; import test_reliability; "
        f"test_reliability.child({mode!r}, {str(work_root)!r})"
    )
    return subprocess.Popen(
        [sys.executable, "-c", code],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )


def wait_for(process: subprocess.Popen, word: str, timeout: float = 180) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], 1.0)
        if ready:
            line = process.stdout.readline()
            if line.startswith(word):
                return line
            if not line and process.poll() is not None:
                break
    process.kill()
    raise AssertionError(f"the child never printed {word!r}: {process.stderr.read()[-3000:]}")


def logged_epochs(path):
    with open(path) as stream:
        return [int(row["epoch"]) for row in csv.DictReader(stream)]


def test_a_second_run_on_the_same_work_folder_fails_at_once_naming_the_first(tmp_path):
    first = start_child("hold", tmp_path)
    try:
        wait_for(first, "PAUSED")
        started = time.perf_counter()
        with pytest.raises(training.RunLocked, match=f"'run' is already running, pid {first.pid}"):
            training.train(tiny_run(tmp_path), lambda: build_vae(TINY), tiny_stream())
        with pytest.raises(
            training.RunLocked, match=f"pid {first.pid}"
        ):  # a whole study session too
            with RunSettings(work_root=str(tmp_path)).session("run"):
                pass
        assert time.perf_counter() - started < 10  # at once, not after waiting for the first run
        assert not (tmp_path / "run" / "finished.json").exists()  # the refused run touched nothing
        first.stdin.write("go on\n")
        first.stdin.flush()
        wait_for(first, "FINISHED")
        assert first.wait(timeout=60) == 0
    finally:
        first.kill()
    # the first run's work is whole and is what the second run now gets, without training
    outcome = training.train(tiny_run(tmp_path), lambda: build_vae(TINY), tiny_stream())
    assert outcome.reused_finished and outcome.epochs_trained == EPOCHS
    assert logged_epochs(outcome.log_csv) == list(range(EPOCHS))


def test_a_run_killed_mid_epoch_resumes_from_its_backup_with_a_contiguous_log(tmp_path):
    victim = start_child("kill", tmp_path)
    try:
        wait_for(victim, "PAUSED")  # in epoch 3, two epochs backed up
    finally:
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(timeout=60)
    work = tmp_path / "run"
    # the dead run's lock file is still there
    assert (work / "lock").read_text().strip() == str(victim.pid)
    assert not (work / "finished.json").exists()
    outcome = training.train(tiny_run(tmp_path), lambda: build_vae(TINY), tiny_stream())
    assert outcome.resumed_from_epoch == 2 and outcome.epochs_trained == EPOCHS
    assert len(outcome.history["loss"]) == EPOCHS - 2  # only epochs 3 and 4 ran again
    assert logged_epochs(outcome.log_csv) == list(range(EPOCHS))
    assert (work / "finished.json").exists() and not (work / "backup").exists()


def write_files(folder: Path, **files):
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)


@pytest.mark.parametrize("atomic_swap", [True, False], ids=["renameat2", "two_renames"])
def test_results_are_the_old_run_or_the_new_one_never_a_mix(tmp_path, monkeypatch, atomic_swap):
    if not atomic_swap:
        monkeypatch.setattr(records, "_exchange", lambda first, second: False)
    settings = RunSettings(results_root=str(tmp_path / "results"), work_root=str(tmp_path / "work"))
    final = tmp_path / "results" / "study"
    write_files(final, **{"metrics.json": "old", "only_in_old_run.png": "old"})
    with settings.session("study"):
        out = settings.results("study")
        # READMEs titled by the folder's name stay right
        assert out != final and out.name == "study"
        write_files(out, **{"metrics.json": "new"})
        assert settings.results("study") == out
        assert (
            final / "metrics.json"
        ).read_text() == "old"  # nothing visible before the study completes
    assert {p.name: p.read_text() for p in final.iterdir()} == {"metrics.json": "new"}
    assert sorted(p.name for p in (tmp_path / "results").iterdir()) == ["study"]  # no staging left
    with pytest.raises(RuntimeError, match="evaluation failed"):
        with settings.session("study"):
            write_files(settings.results("study"), **{"metrics.json": "half"})
            raise RuntimeError("evaluation failed")
    assert {p.name: p.read_text() for p in final.iterdir()} == {"metrics.json": "new"}
    assert sorted(p.name for p in (tmp_path / "results").iterdir()) == ["study"]
    assert settings.results("study") == final  # outside a session: the folder itself


def test_a_rerun_keeps_the_folders_hand_written_history(tmp_path):
    settings = RunSettings(results_root=str(tmp_path / "results"), work_root=str(tmp_path / "work"))
    final = tmp_path / "results" / "study"
    write_files(final, **{"metrics.json": "old", "HISTORY.md": "how it was chosen"})
    with settings.session("study"):
        write_files(settings.results("study"), **{"metrics.json": "new"})
    assert {p.name: p.read_text() for p in final.iterdir()} == {
        "metrics.json": "new",
        "HISTORY.md": "how it was chosen",
    }


def test_staging_left_by_a_killed_run_is_cleared_by_the_next(tmp_path):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    ).stdout.strip()
    write_files(tmp_path / "results" / f".staging-{dead}" / "study", **{"metrics.json": "half"})
    settings = RunSettings(results_root=str(tmp_path / "results"), work_root=str(tmp_path / "work"))
    with settings.session("study"):
        write_files(settings.results("study"), **{"metrics.json": "new"})
    assert sorted(p.name for p in (tmp_path / "results").iterdir()) == ["study"]
