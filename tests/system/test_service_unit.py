"""deploy/recommender.service as systemd reads it: `systemd-analyze verify` finds nothing
wrong (with ExecStart pointing at this checkout's command, which verify requires to
exist), and `systemd-analyze security` rates its exposure as OK or better. Skipped where
systemd-analyze isn't installed. Not run under a live systemd: there is none as PID 1 in
the test's machine."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

UNIT = ROOT / "deploy" / "recommender.service"
ANALYZE = shutil.which("systemd-analyze")
pytestmark = pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed "
                                "(Debian's systemd package)")


@pytest.fixture
def unit(tmp_path) -> Path:
    command = Path(sys.executable).parent / "recommender"
    text = UNIT.read_text().replace("/opt/recommender/bin/recommender", str(command))
    path = tmp_path / "recommender.service"
    path.write_text(text)
    return path


def test_systemd_finds_nothing_wrong_with_the_unit(unit):
    run = subprocess.run([ANALYZE, "verify", str(unit)], capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 0 and run.stderr.strip() == "", run.stderr


def test_the_unit_is_hardened(unit):
    run = subprocess.run([ANALYZE, "security", "--offline=true", str(unit)],
                         capture_output=True, text=True, timeout=60)
    level = re.search(r"Overall exposure level for \S+: ([\d.]+) (\w+)", run.stdout)
    assert level, run.stdout[-500:] + run.stderr
    assert float(level.group(1)) <= 2.0 and level.group(2) in ("OK", "SAFE"), level.group(0)


def test_the_unit_says_what_the_service_needs():
    text = UNIT.read_text()
    for line in ("User=recommender", "ExecReload=/bin/kill -HUP $MAINPID", "Restart=on-failure",
                 "NoNewPrivileges=yes", "ProtectSystem=strict", "StateDirectory=recommender",
                 "KillMode=mixed"):
        assert line in text, line
