"""The documentation site, built by mkdocs --strict: no broken link."""

import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT


def test_the_site_builds_with_no_broken_link(tmp_path):
    mkdocs = Path(sys.executable).with_name("mkdocs")
    result = subprocess.run([str(mkdocs), "build", "--strict", "-d", str(tmp_path / "site")],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    built = {p.relative_to(tmp_path / "site").as_posix()
             for p in (tmp_path / "site").rglob("index.html")}
    assert {"api/index.html", "configuration/index.html", "architecture/index.html"} <= built
