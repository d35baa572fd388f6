"""The build script as a process: the same step as the command."""

import subprocess
import sys

from recommender.index.store import load_index
from tests.conftest import ROOT, SEEDS


def test_build_script_is_the_same_step(tmp_path):
    out = tmp_path / "idx"
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "build_index.py"), "--catalog", str(SEEDS),
         "--out", str(out), "--quiet"], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert "films      8" in result.stdout
    assert len(load_index(out)) == 8
