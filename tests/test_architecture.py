"""Data flows one way (docs/architecture.md): a module imports only from its own layer
or the layers before it, so the engine never learns about HTTP and nothing that runs no
model is made to import one."""

import ast
from pathlib import Path

from tests.conftest import ROOT

LAYERS = [
    ("foundation", {"__init__", "config", "errors", "files", "budget", "ranking",
                    "strict_json"}),
    ("catalog", {"catalog", "titles", "lexical"}),
    ("embedding", {"encoders", "embedding"}),
    ("index", {"ann", "index", "store", "published", "distributed", "build"}),
    ("events", {"events"}),
    ("engine", {"query", "filters", "explain", "vectors", "pipeline", "neighbours",
                "projection", "engine", "factory", "evaluation", "collaborative", "blend",
                "personal",
                "baselines", "user_evaluation"}),
    ("live", {"live"}),
    ("api", {"schemas", "responses", "access", "observability", "openapi", "web", "http_io", "api",
             "users_api", "worker", "server"}),
    ("cli", {"cli", "viewers_cli", "reference"}),
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


def _modules() -> dict[str, list[Path]]:
    """Each module or package of recommender/ and its files (a package counts as one)."""
    found: dict[str, list[Path]] = {}
    for path in sorted((ROOT / "recommender").rglob("*.py")):
        parts = path.relative_to(ROOT / "recommender").parts
        found.setdefault(parts[0].removesuffix(".py"), []).append(path)
    return found


def test_every_module_has_a_layer():
    assert set(_modules()) == set(LAYER_OF), \
        "place new modules in LAYERS and docs/architecture.md"


def test_no_module_imports_from_a_later_layer():
    upward = []
    for module, paths in _modules().items():
        for imported in set().union(*(_imports(p) for p in paths)) - {module}:
            if LAYER_OF[imported] > LAYER_OF[module]:
                upward.append(f"{module} ({LAYERS[LAYER_OF[module]][0]}) imports "
                              f"{imported} ({LAYERS[LAYER_OF[imported]][0]})")
    assert not upward, upward


def test_the_architecture_page_lists_every_module():
    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    missing = [m for m in LAYER_OF if m != "__init__" and f"`{m}.py`" not in page
               and f"`{m}/`" not in page]
    assert not missing, missing
