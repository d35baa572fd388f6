"""Serving the app with gunicorn, the production WSGI server.

The master process never imports torch: each worker builds its own app after
the fork (no ``preload_app``), loads the index and the model once, and caps
torch and FAISS at ``cores / workers`` threads, so workers neither hang on a
lock inherited through ``fork`` nor oversubscribe the cores.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication

from recommender.config import Settings


class _Server(BaseApplication):
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.experiments: Any = None
        self.rules: Any = None
        super().__init__()

    def _read_rules(self) -> None:
        """The rules file, read by the master as the experiments' is: a bad one stops the
        start, and on SIGHUP is logged while the rules in force go on."""
        from recommender.viewers.rules import RulesError, load_rules

        if not self.settings.rules:
            return
        try:
            self.rules = load_rules(self.settings.rules)
        except RulesError as exc:
            if self.rules is None:
                raise
            logging.getLogger(__name__).error("%s; the rules in force go on", exc)

    def _read_experiments(self) -> None:
        """The experiments file, read by the master: at start a bad one stops the server
        (naming line and field); on SIGHUP a bad one is logged and the experiments already
        running go on, so a file broken after start never keeps workers from booting."""
        from recommender.viewers.experiments import ExperimentsError, load_experiments

        if not self.settings.experiments:
            return
        try:
            self.experiments = load_experiments(self.settings.experiments)
        except ExperimentsError as exc:
            if self.experiments is None:
                raise
            logging.getLogger(__name__).error("%s; the experiments running go on", exc)

    def load_config(self) -> None:
        self._read_experiments()  # gunicorn calls this at start and on every SIGHUP
        self._read_rules()
        s = self.settings
        for key, value in {
            "bind": f"{s.host}:{s.port}",
            "workers": s.workers,
            # gthread whose threads never wait on a slow client (recommender/worker.py)
            "worker_class": "recommender.api.worker.BufferingThreadWorker",
            "threads": s.threads,
            # gthread beats from its event loop, not from the threads answering requests:
            # a worker that misses beats for this long is stopped (SIGSTOP, a hang) and
            # replaced, however slow a request is. Starting beats too (_BootBeat).
            "timeout": s.worker_timeout_seconds,
            "graceful_timeout": 20,
            "max_requests": s.worker_max_requests,
            "max_requests_jitter": s.worker_max_requests // 10,
            # one JSON line per request comes from the app itself (observability.py)
            "accesslog": None,
            "child_exit": _child_exit,
            # a worker's heartbeat file holds the wall clock until its first beat, and
            # gunicorn compares it with the monotonic one: one that hung (or was stopped)
            # before its first beat was never replaced. The master beats for it first.
            "pre_fork": _first_beat,
            "post_fork": self._post_fork,
            "loglevel": s.log_level,
            "limit_request_line": 8190,
            # one shared default path would make two servers on a machine collide
            "control_socket_disable": True,
        }.items():
            self.cfg.set(key, value)

    def _post_fork(self, server: Any, worker: Any) -> None:
        worker.read_timeout = self.settings.read_timeout_seconds
        # bodies up to the largest any route allows (a bulk catalog change's 8 MiB) are
        # read on the loop, under the read timeout: a larger limit on one route must not
        # hand a slow upload to a thread that waits on it for ever
        worker.max_body = max(self.settings.max_body_bytes,
                              self.settings.catalog_max_body_bytes)
        self._booting = _BootBeat(worker)

    def load(self) -> Any:
        # imported here, in the worker: prometheus-client picks its multiprocess
        # mode at import, after serve() has set PROMETHEUS_MULTIPROC_DIR
        from recommender.api.observability import JsonFormatter

        handler = logging.StreamHandler()
        handler.setFormatter(JsonFormatter())
        logging.basicConfig(level=self.settings.log_level.upper(), handlers=[handler],
                            force=True)
        threads = self.settings.effective_torch_threads()
        os.environ["OMP_NUM_THREADS"] = str(threads)
        import faiss

        faiss.omp_set_num_threads(threads)
        from recommender.api.app import create_app

        booting = getattr(self, "_booting", None)
        try:
            return create_app(self.settings, experiments=self.experiments, rules=self.rules)
        finally:
            if booting is not None:
                booting.stop()  # the worker's own loop beats from here on


class _BootBeat:
    """Tells the master a worker is alive while it starts (imports, the index, the model),
    which can take longer than ``worker_timeout_seconds`` for a large catalog: the timeout
    is for a worker that stopped answering, not for one still starting. Beats at once,
    then every second, from its own thread, so a stopped process (SIGSTOP) stops beating."""

    def __init__(self, worker: Any) -> None:
        self._done = threading.Event()
        self._worker = worker
        worker.notify()
        threading.Thread(target=self._beat, name="boot-heartbeat", daemon=True).start()

    def _beat(self) -> None:
        while not self._done.wait(1.0):
            self._worker.notify()

    def stop(self) -> None:
        self._done.set()


def _first_beat(server: Any, worker: Any) -> None:
    worker.notify()


def _child_exit(server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


METRICS_PREFIX = "recommender-metrics-"


def _check_port_free(host: str, port: int) -> None:
    """Fail at once, saying so, where another process holds the port (gunicorn retries for
    seconds, then says only "Can't connect")."""
    import socket

    from recommender.errors import PortUnavailable

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn binds
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise PortUnavailable(
                f"{host}:{port} can't be listened on ({exc.strerror}): another server holds "
                f"it, or the address isn't this machine's. Choose another port with --port, "
                f"RECOMMENDER_PORT or `make run PORT=8001`.") from None


def _sweep_stale_metrics() -> None:
    """Remove the metrics folders of masters that are gone: one SIGKILLed can't remove its
    own, so the next server to start does (a folder is named by its master's pid)."""
    for folder in Path(tempfile.gettempdir()).glob(f"{METRICS_PREFIX}*-*"):
        pid = folder.name.removeprefix(METRICS_PREFIX).split("-", 1)[0]
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:  # no such process: its folder is left over
            shutil.rmtree(folder, ignore_errors=True)
        except PermissionError:  # another user's live process
            pass


def serve(settings: Settings) -> None:
    """Run the API under gunicorn until interrupted.

    Workers share their metrics through a fresh folder (prometheus-client's
    multiprocess mode), so ``/metrics`` counts every worker's requests. The folder is
    the master's: made before the first fork and removed only when the master leaves.
    A worker leaves through this same frame (gunicorn's ``sys.exit`` in the child), so
    the removal checks whose process this is: a ``TemporaryDirectory`` here once let the
    first worker to exit (a SIGHUP, SIGTERM, timeout or ``max_requests``) delete the
    folder, and every replacement then failed to boot.
    """
    _check_port_free(settings.host, settings.port)
    master = os.getpid()
    _sweep_stale_metrics()
    folder = tempfile.mkdtemp(prefix=f"{METRICS_PREFIX}{master}-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
    try:
        _Server(settings).run()
    finally:
        if os.getpid() == master:
            shutil.rmtree(folder, ignore_errors=True)
