"""tests/parallel.py, `make test`'s runner: every test file runs once, in one of the processes."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

RUNNER = Path(__file__).resolve().parent / "parallel.py"
# each test file records which process ran it; one waits, so that both processes get files
TEST_FILE = """
import os, time
from pathlib import Path

def test_{name}():
    time.sleep({sleep})
    with open(Path(os.environ["RAN"]) / "{name}", "a") as handle:
        handle.write(f"{{os.getpid()}}\\n")
    assert {passes}
"""


def run(tmp_path, names, failing=(), slow_first="a"):
    suite, ran = tmp_path / "suite", tmp_path / "ran"
    suite.mkdir()
    ran.mkdir()
    for name in names:
        (suite / f"test_{name}.py").write_text(
            TEST_FILE.format(
                name=name, sleep=3.0 if name == slow_first else 0.0, passes=name not in failing
            )
        )
    env = {**os.environ, "RAN": str(ran), "TEST_PROCESSES": "2"}
    done = subprocess.run(
        [sys.executable, str(RUNNER), "-q", "-p", "no:cacheprovider", str(suite)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done, {path.name: path.read_text().split() for path in ran.iterdir()}


def test_every_file_runs_once_and_both_processes_work(tmp_path):
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("one core: the runner is plain pytest")
    done, ran = run(tmp_path, "abcdef")
    assert done.returncode == 0, done.stdout
    assert sorted(ran) == list("abcdef") and all(len(pids) == 1 for pids in ran.values())
    # the first file keeps one process busy while the other runs the rest
    assert len({pids[0] for pids in ran.values()}) == 2
    assert "2 test processes ran 6 test files" in done.stdout


def test_a_failing_file_fails_the_run(tmp_path):
    done, ran = run(tmp_path, "abcd", failing="c")
    assert done.returncode == 1 and "test_c" in done.stdout
    assert sorted(ran) == list("abcd")
