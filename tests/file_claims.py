"""A pytest plugin for tests/parallel.py: every pytest process collects the whole suite and runs
the test files it claims, in turn. A file goes to the first process to reach it (an empty file
created exclusively in the folder VAEGAN_TF_TEST_CLAIMS names), so each file runs once, its module
fixtures are built once, and the processes end within about one file of each other. Files with
the most slow tests come first, to keep the last file short. Without that variable it does
nothing."""

import os
from pathlib import Path

import pytest

CLAIMS = os.environ.get("VAEGAN_TF_TEST_CLAIMS")
_claimed: dict[str, bool] = {}


def file_of(item) -> str:
    return item.nodeid.split("::")[0]


def claim(claims: str, name: str) -> bool:
    """True if this process is the first to claim test file `name` in the folder `claims`."""
    try:
        os.close(os.open(Path(claims) / name.replace("/", "__"), os.O_CREAT | os.O_EXCL))
    except FileExistsError:
        return False
    return True


def pytest_collection_modifyitems(config, items):
    if not CLAIMS:
        return
    slow = {}
    for item in items:
        name = file_of(item)
        slow[name] = slow.get(name, 0) + bool(item.get_closest_marker("slow"))
    order = {name: index for index, name in enumerate(slow)}
    items.sort(key=lambda item: (-slow[file_of(item)], order[file_of(item)]))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item, nextitem):
    if not CLAIMS:
        return None
    name = file_of(item)
    if name not in _claimed:
        _claimed[name] = claim(CLAIMS, name)
    return None if _claimed[name] else True  # True: another process runs this file
