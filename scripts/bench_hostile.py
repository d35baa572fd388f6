"""A hostile client against the real server: the worst requests (tests/hostile.py) and a
slowloris, timed through `recommender serve` (gunicorn, 2 workers) at Netflix's scale.

    python scripts/bench_hostile.py --index /tmp/netflix [--checkout DIR] [--out FILE]

``--checkout`` serves with the code of another checkout of this repository (e.g. a
``git worktree`` of an older commit), so the same requests can be timed before and
after a change; each request is given ``--timeout`` seconds (an older server may hold
one far longer: it is then reported as "> timeout").
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

from benchlib import ROOT, save_report

from tests.hostile import timed, worst_requests
from tests.ops import call, free_port, stop


def start_server(checkout: Path, index: Path) -> tuple[str, subprocess.Popen]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "recommender.cli", "serve", "--index", str(index),
         "--port", str(port), "--workers", "2"],
        cwd=checkout, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(checkout), "RECOMMENDER_LOG_LEVEL": "warning"})
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            if call(base + "/ready", timeout=5)[0] == 200:
                return base, proc
        except OSError:
            pass
        time.sleep(0.5)
    proc.kill()
    sys.exit("the server did not start")


def slowloris(base: str, connections: int, timeout: float) -> dict:
    port = urlsplit(base).port
    held = []
    for _ in range(connections):
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        sock.sendall(b"GET /similar?title=Rocky HT")
        held.append(sock)
    time.sleep(0.5)
    started = time.perf_counter()
    try:
        status = call(base + "/similar?title=Rocky&k=3", timeout=timeout)[0]
        seconds: float | None = round(time.perf_counter() - started, 3)
    except OSError:
        status, seconds = None, None
    for sock in held:
        sock.close()
    return {"connections": connections, "normal_request_status": status,
            "normal_request_seconds": seconds, "client_timeout": timeout}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", required=True, type=Path, help="a built Netflix index")
    parser.add_argument("--checkout", type=Path, default=ROOT,
                        help="serve with the code of this checkout (default: this one)")
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--out", default="bench-results/hostile.json")
    args = parser.parse_args()
    base, proc = start_server(args.checkout.resolve(), args.index.resolve())
    try:
        films = call(base + "/films?limit=1000")[1]["films"]
        requests = worst_requests([f["id"] for f in films], [f["title"] for f in films])
        rows = []
        for request in requests:
            rows.append(timed(base, request, args.timeout))
            row = rows[-1]
            print(f"| {row['request']} | {row['status']} {row.get('code', '')} | "
                  f"{row['seconds'] if row['seconds'] is not None else row['note']} |",
                  flush=True)
        attack = slowloris(base, 200, 30.0)
        print(f"slowloris: {attack}")
    finally:
        stop(proc)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=args.checkout,
                            capture_output=True, text=True).stdout.strip()
    save_report(args.out, {"checkout": str(args.checkout), "commit": commit,
                           "index": str(args.index), "requests": rows, "slowloris": attack})


if __name__ == "__main__":
    main()
