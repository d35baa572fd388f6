"""Helpers for the tests that run real processes: a server on loopback, HTTP calls."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from recommender.catalog.films import load_catalog
from tests.conftest import ROOT, SEEDS


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(url: str, method: str = "GET", body: dict | None = None,
         timeout: float = 30, headers: dict[str, str] | None = None) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={
        **({"Content-Type": "application/json"} if data else {}), **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


@contextmanager
def running_server(index: Path, workers: int = 2, env: dict | None = None,
                   start_timeout: float = 120, checkout: Path = ROOT
                   ) -> Iterator[tuple[str, subprocess.Popen]]:
    """``recommender serve`` on a free loopback port, stopped (SIGTERM) afterwards;
    ``checkout``: whose code serves (another one's first on the path: a benchmark's
    "before" column)."""
    port = free_port()
    path = {"PYTHONPATH": str(checkout)} if checkout != ROOT else {}
    proc = subprocess.Popen(
        [sys.executable, "-m", "recommender.cli", "serve", "--index", str(index),
         "--port", str(port), "--workers", str(workers)],
        cwd=checkout, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, **path, "RECOMMENDER_LOG_LEVEL": "warning", **(env or {})},
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + start_timeout
    try:
        while True:
            try:
                if call(base + "/ready", timeout=5)[0] == 200:
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server did not start (exit code {proc.poll()})")
            time.sleep(0.3)
        yield base, proc
    finally:
        stop(proc)


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM (gunicorn's graceful stop), then SIGKILL if it hasn't gone in 30 s."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def big_catalog(path: Path, n: int = 300) -> Path:
    """A catalog of ``n`` films made of the seeds, numbered: a build that takes a while."""
    films = load_catalog(SEEDS).films
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            f = films[i % len(films)]
            fh.write(json.dumps({"id": f"film-{i}", "title": f"{f.title} {i}",
                                 "synopsis": f"{f.synopsis} ({i})", "language": "da"}) + "\n")
    return path


def stored_event_ids(events_url: str) -> set[str]:
    """The ids of the events a database holds, read by its own driver (SQLite or PostgreSQL)."""
    if events_url.startswith("sqlite:///"):
        conn = sqlite3.connect(events_url.removeprefix("sqlite:///"))
        try:
            return {row[0] for row in conn.execute("SELECT event_id FROM events")}
        finally:
            conn.close()
    import psycopg

    with psycopg.connect(events_url) as conn:
        return {row[0] for row in conn.execute("SELECT event_id FROM events")}
