"""Data flows one way (docs/architecture.md): a module imports only from its own layer
or the layers before it, so the engine never learns about HTTP and nothing that runs no
model is made to import one."""

import ast
from pathlib import Path

from tests.conftest import ROOT

LAYERS = [
    ("foundation", {"__init__", "config", "errors", "files", "budget", "ranking"}),
    ("catalog", {"catalog", "titles", "lexical"}),
    ("embedding", {"encoders", "embedding"}),
    ("index", {"ann", "index", "store", "build"}),
    ("engine", {"query", "filters", "explain", "neighbours", "engine", "evaluation"}),
    ("live", {"live"}),
    ("api", {"schemas", "access", "observability", "openapi", "web", "api", "worker",
             "server"}),
    ("cli", {"cli", "reference"}),
]
LAYER_OF = {module: i for i, (_, modules) in enumerate(LAYERS) for module in modules}


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "recommender":
                found |= {a.name for a in node.names if a.name in LAYER_OF}
            elif node.module.startswith("recommender."):
                found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names
                      if a.name.startswith("recommender.")}
    return found


def test_every_module_has_a_layer():
    modules = {p.stem for p in (ROOT / "recommender").glob("*.py")}
    assert modules == set(LAYER_OF), "place new modules in LAYERS and docs/architecture.md"


def test_no_module_imports_from_a_later_layer():
    upward = []
    for path in sorted((ROOT / "recommender").glob("*.py")):
        for imported in _imports(path) - {path.stem}:
            if LAYER_OF[imported] > LAYER_OF[path.stem]:
                upward.append(f"{path.stem} ({LAYERS[LAYER_OF[path.stem]][0]}) imports "
                              f"{imported} ({LAYERS[LAYER_OF[imported]][0]})")
    assert not upward, upward


def test_the_architecture_page_lists_every_module():
    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    missing = [m for m in LAYER_OF if m != "__init__" and f"`{m}.py`" not in page]
    assert not missing, missing
