"""Faults the service must survive, each caused for real against real processes: workers
that come and go under load, a database stopped and started, a locked SQLite file, a
version corrupted on disk, and two builds into one folder at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.ops import call, running_server

pytestmark = pytest.mark.server


class Load:
    """Clients asking ``urls`` in turn from ``threads`` threads until stopped; every
    answer that isn't a 2xx (or a connection that fails) is kept with its reason."""

    def __init__(self, urls: list[str], threads: int = 4, timeout: float = 30.0,
                 accept: tuple[int, ...] = (200,)) -> None:
        self.urls, self.timeout, self.accept = urls, timeout, accept
        self.ok = 0
        self.failures: list[str] = []
        self.slowest = 0.0
        self.statuses: dict[int, int] = {}
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=(i,), daemon=True)
                         for i in range(threads)]

    def _run(self, offset: int) -> None:
        i = offset
        while not self._stop.is_set():
            url = self.urls[i % len(self.urls)]
            i += 1
            started = time.monotonic()
            try:
                with urllib.request.urlopen(url, timeout=self.timeout) as r:
                    r.read()
                    status, reason = r.status, ""
            except urllib.error.HTTPError as e:
                status, reason = e.code, e.read()[:200].decode(errors="replace")
            except OSError as e:
                status, reason = 0, repr(e)
            with self._lock:
                self.slowest = max(self.slowest, time.monotonic() - started)
                self.statuses[status] = self.statuses.get(status, 0) + 1
                if status in self.accept:
                    self.ok += 1
                else:
                    self.failures.append(f"{status} {url}: {reason}")

    def __enter__(self) -> Load:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=60)


def workers_of(master: int) -> set[int]:
    out = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True)
    return {int(pid) for pid in out.stdout.split()}


def alive(pid: int) -> bool:
    """Running, stopped or sleeping; not gone and not a zombie waiting to be reaped."""
    try:
        status = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return status.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def wait_for(predicate, timeout: float, what) -> float:
    """Seconds until ``predicate()`` holds; fails the test past ``timeout``."""
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout:
            pytest.fail(f"not within {timeout} s: {what() if callable(what) else what}")
        time.sleep(0.2)
    return time.monotonic() - started


def _urls(base: str) -> list[str]:
    return [base + "/search?q=boxer&k=3", base + "/films/rocky-1976/similar?k=3",
            base + "/ready"]


# -- workers come and go ------------------------------------------------------------------


def test_sighup_and_workers_leaving_never_take_the_service_down(seed_index_dir):
    """The documented graceful reload (SIGHUP to the master), a worker told to stop
    (SIGTERM) and max_requests recycling, all under load: no request fails. Before the
    fix the first worker to exit deleted the shared metrics folder and every replacement
    failed to boot: the port closed."""
    env = {"RECOMMENDER_WORKER_MAX_REQUESTS": "150"}
    with running_server(seed_index_dir, workers=2, env=env) as (base, proc), \
            Load(_urls(base)) as load:
        time.sleep(1.0)
        first = workers_of(proc.pid)
        assert len(first) == 2
        proc.send_signal(signal.SIGHUP)
        wait_for(lambda: len(workers_of(proc.pid)) == 2 and not workers_of(proc.pid) & first,
                 60, "SIGHUP replaced both workers")
        victim = sorted(workers_of(proc.pid))[0]
        os.kill(victim, signal.SIGTERM)
        wait_for(lambda: not alive(victim), 60, "a worker told to stop left")
        wait_for(lambda: call(base + "/ready", timeout=30)[0] == 200, 60, "ready again")
        time.sleep(2.0)
        recycled = load.ok
    assert load.failures == [], load.failures[:5]
    assert recycled > 300, load.statuses  # max_requests 150: each worker recycled too
    print(f"\n{load.ok} requests, 0 failed, slowest {load.slowest:.1f} s")


def test_a_hung_worker_is_replaced_in_seconds(seed_index_dir):
    """A worker that stops answering (SIGSTOP) is killed after worker_timeout_seconds
    and replaced; what it held is lost (at most its threads' requests), everything else
    is answered, and no client waits the old 120 s."""
    env = {"RECOMMENDER_WORKER_TIMEOUT_SECONDS": "4"}
    with running_server(seed_index_dir, workers=2, env=env) as (base, proc), \
            Load(_urls(base), timeout=60) as load:
        time.sleep(1.0)
        hung = sorted(workers_of(proc.pid))[0]
        os.kill(hung, signal.SIGSTOP)
        replaced_in = wait_for(lambda: not alive(hung), 30, "a hung worker was killed")
        wait_for(lambda: len(workers_of(proc.pid)) == 2, 60, "a new worker started")
        time.sleep(3.0)
        before = load.ok
        time.sleep(2.0)
    assert replaced_in < 12, replaced_in  # 4 s, plus the master's 1 s ticks
    assert len(load.failures) <= 8, load.failures  # the hung worker's 4 threads' share
    assert load.ok > before  # answering after
    assert load.slowest < 20, load.slowest
    print(f"\n{load.ok} requests, {len(load.failures)} lost with the hung worker, slowest "
          f"{load.slowest:.1f} s, replaced in {replaced_in:.1f} s")


def test_metrics_survive_a_worker_leaving(seed_index_dir):
    with running_server(seed_index_dir, workers=2) as (base, proc):
        victim = sorted(workers_of(proc.pid))[0]
        os.kill(victim, signal.SIGTERM)
        wait_for(lambda: victim not in workers_of(proc.pid)
                 and len(workers_of(proc.pid)) == 2, 60, "replaced")
        wait_for(lambda: call(base + "/ready", timeout=30)[0] == 200, 60, "ready again")
        with urllib.request.urlopen(base + "/metrics", timeout=30) as r:
            assert r.status == 200
            assert b"recommender_index_films" in r.read()
