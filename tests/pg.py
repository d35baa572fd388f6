"""A real PostgreSQL server for the tests: Debian's `postgresql` package (installed by
`make test` where it can be), started with initdb + pg_ctl in a temporary folder on a free
loopback port, as the `postgres` user when the tests run as root (PostgreSQL refuses to
run as root). Where it can't start, the tests that need it are skipped, saying why."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.ops import free_port


def server_binaries() -> Path | None:
    """The folder of initdb and pg_ctl: on PATH, else Debian's newest version."""
    found = shutil.which("initdb")
    if found:
        return Path(os.path.realpath(found)).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                      key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    return Path(versions[-1]).parent if versions else None


def why_not() -> str | None:
    """Why no test server can start here, or None."""
    if server_binaries() is None:
        return ("no PostgreSQL server here: `make test` installs Debian's postgresql where it "
                "can (root and apt-get); the PostgreSQL tests are skipped without it")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root with no 'postgres' user to run the server as"
    return None


def _as_server_user(args: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


class Server:
    """A PostgreSQL server in its own folder, on one port, that a test may stop and start
    again (a database restart under load); ``url`` is its ``postgres`` database."""

    def __init__(self) -> None:
        binaries = server_binaries()
        assert binaries is not None, why_not()
        self.binaries = binaries
        self.folder = Path(tempfile.mkdtemp(prefix="recommender-pg-"))
        self.data, self.port = self.folder / "data", free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
        subprocess.run(_as_server_user([str(binaries / "initdb"), "-D", str(self.data), "-A",
                                        "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"]),
                       check=True, capture_output=True, text=True, timeout=120)

    def start(self) -> None:
        subprocess.run(_as_server_user([
            str(self.binaries / "pg_ctl"), "-D", str(self.data), "-l",
            str(self.folder / "server.log"), "-w", "-o",
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1", "start"]),
            check=True, capture_output=True, text=True, timeout=120)

    def stop(self) -> None:
        subprocess.run(_as_server_user([str(self.binaries / "pg_ctl"), "-D", str(self.data),
                                        "-m", "fast", "-w", "stop"]), capture_output=True,
                       timeout=60)

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


@contextmanager
def restartable_server() -> Iterator[Server]:
    """A fresh server, started; stopped and removed afterwards."""
    server = Server()
    try:
        server.start()
        try:
            yield server
        finally:
            server.stop()
    finally:
        server.remove()


@contextmanager
def postgres_server() -> Iterator[str]:
    """A fresh server; yields the URL of its `postgres` database. Stopped afterwards."""
    with restartable_server() as server:
        yield server.url


def fresh_database(server_url: str) -> str:
    """A new, empty database on the server at ``server_url``; its URL."""
    import psycopg

    name = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return server_url.rsplit("/", 1)[0] + "/" + name
