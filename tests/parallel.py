"""`make test`'s runner: the suite as one pytest process per core this process may use (at most
`TEST_PROCESSES`, default 2), sharing out the test files (tests/file_claims.py), with one
TensorFlow thread each so that they do not compete for the cores. The first process prints as it
goes, the others' output follows when all end; the exit status is the first failing process's,
else 0.

    python tests/parallel.py [pytest arguments]
"""

import os
import subprocess
import sys
import tempfile
from pathlib import Path


def processes() -> int:
    return max(1, min(int(os.environ.get("TEST_PROCESSES", 2)), len(os.sched_getaffinity(0))))


def main(arguments: list[str]) -> int:
    count = processes()
    if count == 1:
        return subprocess.call([sys.executable, "-m", "pytest", *arguments])
    here = str(Path(__file__).resolve().parent)
    with tempfile.TemporaryDirectory(prefix="vaegan_tf_test_claims_") as claims:
        env = {
            **os.environ,
            "VAEGAN_TF_TEST_CLAIMS": claims,
            "TF_NUM_INTRAOP_THREADS": "1",
            "PYTHONPATH": os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")])),
        }
        command = [sys.executable, "-m", "pytest", "-p", "file_claims", *arguments]
        print(f"=== test process 1 of {count} (the others' output follows when all end) ===")
        sys.stdout.flush()
        logs = [tempfile.TemporaryFile(mode="w+") for _ in range(count - 1)]
        runs = [subprocess.Popen(command, env=env)] + [
            subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT) for log in logs
        ]
        codes = [run.wait() for run in runs]
        for number, log in enumerate(logs, start=2):
            log.seek(0)
            print(f"=== test process {number} of {count} ===")
            print(log.read(), flush=True)
        print(f"=== exit status of each test process: {codes} ===")
        print(f"=== {count} test processes ran {len(os.listdir(claims))} test files ===")
    return next((code for code in codes if code), 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
