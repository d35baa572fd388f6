"""Make the client's generated files again: ``models.py`` from the service's OpenAPI
document (datamodel-code-generator, pinned options) and ``aio.py`` from ``client.py``
(the same methods, awaited: qdrant-client makes its async client the same way).

    python clients/python/generate.py --openapi http://127.0.0.1:8000/openapi.json
    python clients/python/generate.py --openapi URL --check   # exit 1 where either is stale

tests/system/test_client.py runs the check against a real server's ``/openapi.json``.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent / "src" / "recommender_client"
CODEGEN = ["--input-file-type", "openapi", "--output-model-type", "pydantic_v2.BaseModel",
           "--target-python-version", "3.10", "--disable-timestamp",
           "--use-standard-collections", "--use-union-operator", "--formatters", "builtin",
           "--enum-field-as-literal", "all", "--field-constraints"]


def models_source(document: dict) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        source, out = Path(tmp) / "openapi.json", Path(tmp) / "models.py"
        source.write_text(json.dumps(document, sort_keys=True))
        subprocess.run([sys.executable, "-m", "datamodel_code_generator", "--input",
                        str(source), "--output", str(out), *CODEGEN], check=True,
                       capture_output=True, text=True)
        text = out.read_text()
    text = text.replace("#   filename:  openapi.json", "#   from the service's /openapi.json "
                        "by clients/python/generate.py: don't edit by hand")
    # the generator gives an optional field of a request's model a default of None under
    # a type without None (pydantic takes it; mypy doesn't), and a map whose keys have a
    # pattern (a film's attributes) a key type of constr(...) (pydantic takes it; mypy
    # reads a call in an annotation as invalid): said once, here
    return '# mypy: disable-error-code="assignment,arg-type,valid-type"\n' + text


def aio_source(sync: str) -> str:
    """``client.py`` with every request awaited."""
    out = sync.replace(
        '"""The synchronous client: one :class:`httpx.Client`, the routes as methods."""',
        '"""The asynchronous client: :class:`Client`\'s methods, awaited (made from client.py '
        'by\nclients/python/generate.py: don\'t edit by hand)."""')
    for old, new in [
            ("import time\n", "import asyncio\n"),
            ("from collections.abc import Iterable, Iterator, Mapping",
             "from collections.abc import AsyncIterator, Iterable, Mapping"),
            ("class Client:", "class AsyncClient:"),
            ("httpx.Client(", "httpx.AsyncClient("),
            ("httpx.BaseTransport", "httpx.AsyncBaseTransport"),
            ("    def __enter__(self) -> Client:\n        return self\n\n    def __exit__(self, "
             "*exc: object) -> None:\n        self.close()\n\n    def close(self) -> None:\n"
             "        self._http.close()",
             "    async def __aenter__(self) -> AsyncClient:\n        return self\n\n    async def "
             "__aexit__(self, *exc: object) -> None:\n        await self.close()\n\n    async def "
             "close(self) -> None:\n        await self._http.aclose()"),
            ("    def _call(", "    async def _call("),
            ("response = self._http.request(", "response = await self._http.request("),
            ("time.sleep(", "await asyncio.sleep(")]:
        out = out.replace(old, new)
    out = re.sub(r"\n    def (?!_)", "\n    async def ", out)
    out = re.sub(r"(?<!await )self\._call\(", "await self._call(", out)
    out = out.replace("return self.send_events(", "return await self.send_events(")
    out = out.replace("-> Iterator[models.FilmListItem]:", "-> AsyncIterator[models.FilmListItem]:")
    return out.replace("            yield from page.films\n",
                       "            for item in page.films:\n                yield item\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--openapi", required=True,
                        help="the service's /openapi.json (URL or file)")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if stale")
    args = parser.parse_args()
    if args.openapi.startswith(("http://", "https://")):
        with urllib.request.urlopen(args.openapi, timeout=30) as answer:
            document = json.load(answer)
    else:
        document = json.loads(Path(args.openapi).read_text())
    wanted = {PACKAGE / "models.py": models_source(document),
              PACKAGE / "aio.py": aio_source((PACKAGE / "client.py").read_text())}
    stale = [p.name for p, text in wanted.items() if not p.exists() or p.read_text() != text]
    if args.check:
        print("stale: " + ", ".join(stale) if stale else "up to date")
        return 1 if stale else 0
    for path, text in wanted.items():
        path.write_text(text)
    print(f"written {', '.join(p.name for p in wanted)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
