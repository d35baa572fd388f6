"""Serving the app with gunicorn, the production WSGI server.

The master process never imports torch: each worker builds its own app after
the fork (no ``preload_app``), loads the index and the model once, and caps
torch and FAISS at ``cores / workers`` threads, so workers neither hang on a
lock inherited through ``fork`` nor oversubscribe the cores.
"""

from __future__ import annotations

import logging
import os
import tempfile
from typing import Any

from gunicorn.app.base import BaseApplication

from recommender.config import Settings


class _Server(BaseApplication):  # type: ignore[misc]
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        super().__init__()

    def load_config(self) -> None:
        s = self.settings
        for key, value in {
            "bind": f"{s.host}:{s.port}",
            "workers": s.workers,
            # gthread whose threads never wait on a slow client (recommender/worker.py)
            "worker_class": "recommender.worker.BufferingThreadWorker",
            "threads": 4,
            "timeout": 120,
            "graceful_timeout": 20,
            # one JSON line per request comes from the app itself (observability.py)
            "accesslog": None,
            "child_exit": _child_exit,
            "post_fork": self._post_fork,
            "loglevel": s.log_level,
            "limit_request_line": 8190,
            # one shared default path would make two servers on a machine collide
            "control_socket_disable": True,
        }.items():
            self.cfg.set(key, value)

    def _post_fork(self, server: Any, worker: Any) -> None:
        worker.read_timeout = self.settings.read_timeout_seconds
        worker.max_body = self.settings.max_body_bytes

    def load(self) -> Any:
        # imported here, in the worker: prometheus-client picks its multiprocess
        # mode at import, after serve() has set PROMETHEUS_MULTIPROC_DIR
        from recommender.observability import JsonFormatter

        handler = logging.StreamHandler()
        handler.setFormatter(JsonFormatter())
        logging.basicConfig(level=self.settings.log_level.upper(), handlers=[handler],
                            force=True)
        threads = self.settings.effective_torch_threads()
        os.environ["OMP_NUM_THREADS"] = str(threads)
        import faiss

        faiss.omp_set_num_threads(threads)
        from recommender.api import create_app

        return create_app(self.settings)


def _child_exit(server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def serve(settings: Settings) -> None:
    """Run the API under gunicorn until interrupted.

    Workers share their metrics through a fresh folder (prometheus-client's
    multiprocess mode), so ``/metrics`` counts every worker's requests.
    """
    with tempfile.TemporaryDirectory(prefix="recommender-metrics-") as folder:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
        _Server(settings).run()
