"""The unit tier runs in one process: it starts no process and reaches no database server,
so ``make test-fast`` needs nothing but the package. A test that tries fails saying where it
belongs."""

from __future__ import annotations

import subprocess

import pytest


@pytest.fixture(autouse=True)
def _no_process(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a unit test started a process: move it to tests/system")

    monkeypatch.setattr(subprocess.Popen, "__init__", refuse)


@pytest.fixture(scope="session")
def postgres() -> None:
    raise AssertionError("a unit test asked for the PostgreSQL server: move it to "
                         "tests/integration")
