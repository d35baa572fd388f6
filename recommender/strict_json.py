"""Strict JSON: what every body and every line of ``recommender events import`` is parsed
with. Malformed text, nesting deeper than :data:`MAX_JSON_DEPTH` and a key given twice are
each an :class:`~recommender.errors.InvalidJson` naming where, never a traceback (a line
nested 100,000 deep was a RecursionError) and never a silent choice between two values.
Standard library only: the command line parses with it without loading Flask."""

from __future__ import annotations

import json
from typing import Any

from recommender.errors import InvalidJson

MAX_JSON_DEPTH = 32
"""Deepest nesting of arrays and objects a body may have; ours need 4."""


def parse_json(text: str, what: str = "The body") -> Any:
    """``text`` as JSON, strictly: ``InvalidJson`` if malformed, deeper than
    :data:`MAX_JSON_DEPTH` or with a key given twice. Bodies and the lines of
    ``recommender events import`` alike."""
    try:
        value = json.loads(text, object_pairs_hook=_refuse_duplicate_keys)
    except json.JSONDecodeError as exc:
        raise InvalidJson(f"{what} is not valid JSON: {exc.msg} at line {exc.lineno}, "
                          f"column {exc.colno}.", position=exc.pos) from None
    except RecursionError:
        raise InvalidJson(f"{what} nests deeper than {MAX_JSON_DEPTH} levels.") from None
    except _DuplicateKey as exc:
        raise InvalidJson(f"The key {exc.args[0]!r} is given twice in one object; give "
                          "each key once.", key=exc.args[0]) from None
    if _depth(value) > MAX_JSON_DEPTH:
        raise InvalidJson(f"{what} nests deeper than {MAX_JSON_DEPTH} levels.")
    return value


class _DuplicateKey(ValueError):
    pass


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return out


def _depth(value: Any) -> int:
    """How deeply ``value`` nests, walked without recursion (a parsed body can be deep)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict | list):
            deepest = max(deepest, level)
            if level > MAX_JSON_DEPTH:
                return level
            stack.extend((child, level + 1) for child in
                         (node.values() if isinstance(node, dict) else node))
    return deepest
