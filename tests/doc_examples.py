"""The example calls of README.md and docs/api.md, run against the real seeds service, so
that an answer the docs show can't drift from the one the service gives (issue 37: the
README showed Rocky IV first where the service answered Rocky II).

A console block's ``$ curl ...`` line is a call; the lines after it, up to the next call,
are the answer shown. An answer may leave things out with ``...``: in an object, keys
left out; in a list, elements left out; ``"..."`` any value. Values that differ on every
run (ids of answers, times, versions) are not compared; numbers are compared to 0.002 (a
build on a CPU with bf16 and one without differ in the fourth decimal).
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

BLOCK = re.compile(r"```console\n(.*?)```", re.S)
MORE = "\u2026"
"""What ``...`` stands for once the shown answer is parsed: a key or an element."""
VOLATILE = {"recommendation_id", "version", "built_at", "ts", "since", "until", "loaded_at",
            "uptime_seconds", "started_at", "catalog_sha256", "time", "event_id"}
TOLERANCE = 0.002


@dataclass
class Example:
    where: str
    method: str
    path: str
    body: Any
    shown: str

    def __str__(self) -> str:
        return f"{self.where}: {self.method} {self.path}"


def examples(path: Path) -> list[Example]:
    """Every ``$ curl`` call of ``path``'s console blocks with the answer it shows."""
    text = path.read_text(encoding="utf-8")
    out = []
    for block in BLOCK.finditer(text):
        line = text.count("\n", 0, block.start()) + 2
        lines = block.group(1).splitlines()
        i = 0
        while i < len(lines):
            if not lines[i].startswith("$ curl"):
                i += 1
                continue
            start = i
            command = lines[i][2:]
            while command.count("'") % 2 or command.endswith("\\"):
                i += 1
                command = command.removesuffix("\\") + "\n" + lines[i]
            i += 1
            answer = []
            while i < len(lines) and not lines[i].startswith("$ "):
                answer.append(lines[i])
                i += 1
            out.append(_parse(command, "\n".join(answer).strip(),
                              f"{path.name}:{line + start}"))
    return out


def _parse(command: str, shown: str, where: str) -> Example:
    args = shlex.split(command)
    method, body, url = "GET", None, ""
    for i, arg in enumerate(args):
        if arg == "-X":
            method = args[i + 1]
        elif arg == "-d":
            body = json.loads(args[i + 1])
            method = "POST" if method == "GET" else method
        elif "localhost:8000" in arg:
            url = arg
    parts = urlsplit("http://" + url.split("://")[-1])
    return Example(where, method, parts.path + (f"?{parts.query}" if parts.query else ""),
                   body, shown)


def call(client: Any, example: Example) -> tuple[int, Any]:
    """The answer of the Flask test client over the real app: (status, JSON or None)."""
    response = client.open(example.path, method=example.method, json=example.body)
    return response.status_code, response.get_json(silent=True)


def differences(shown: str, status: int, actual: Any) -> list[str]:
    """How the answer differs from what the docs show (empty: it is the one shown)."""
    if shown.startswith("(HTTP "):
        wanted = int(shown.split()[1].rstrip(","))
        return [] if status == wanted else [f"status {status}, the docs say {wanted}"]
    expected = json.loads(_with_markers(shown))
    return _compare(expected, actual, "answer")


def _with_markers(text: str) -> str:
    """``text`` as JSON: each ``...`` outside a string becomes a marker key or element."""
    out, stack, i, in_string = [], [], 0, False
    while i < len(text):
        ch = text[i]
        if in_string:
            out.append(ch)
            if ch == "\\":
                out.append(text[i + 1])
                i += 1
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
            out.append(ch)
        elif text.startswith("...", i):
            out.append(f'"{MORE}":"{MORE}"' if stack and stack[-1] == "{" else f'"{MORE}"')
            i += 2
        else:
            if ch in "{[":
                stack.append(ch)
            elif ch in "}]":
                stack.pop()
            out.append(ch)
        i += 1
    return "".join(out)


def _compare(expected: Any, actual: Any, where: str) -> list[str]:
    if expected in ("...", MORE):
        return []
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{where}: {actual!r} is not an object"]
        out = []
        for key, value in expected.items():
            if key == MORE or key in VOLATILE:
                continue
            if key not in actual:
                out.append(f"{where}.{key}: missing from the answer")
            else:
                out += _compare(value, actual[key], f"{where}.{key}")
        if MORE not in expected:
            out += [f"{where}.{k}: in the answer, not in the docs"
                    for k in actual if k not in expected and k not in VOLATILE]
        return out
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return [f"{where}: {actual!r} is not a list"]
        items = [e for e in expected if e != MORE]
        if MORE not in expected and len(items) != len(actual):
            return [f"{where}: {len(actual)} items, the docs show {len(items)}"]
        out = []
        for n, (e, a) in enumerate(zip(items, actual, strict=False)):
            out += _compare(e, a, f"{where}[{n}]")
        return out
    if isinstance(expected, float) or isinstance(actual, float):
        if isinstance(expected, int | float) and isinstance(actual, int | float) and \
                not isinstance(actual, bool) and abs(expected - actual) <= TOLERANCE:
            return []
        return [f"{where}: {actual!r}, the docs say {expected!r}"]
    return [] if expected == actual else [f"{where}: {actual!r}, the docs say {expected!r}"]
