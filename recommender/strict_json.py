"""Strict JSON: what every body and every line of ``recommender events import`` is parsed
with. Malformed text, nesting deeper than :data:`MAX_JSON_DEPTH`, a key given twice, a number
JSON has no room for (``NaN``, ``Infinity``, ``1e400``, an integer of thousands of digits)
and text that is not Unicode (a lone surrogate, ``"\ud800"``, which no UTF-8 answer or
database can hold) are each an :class:`~recommender.errors.InvalidJson` naming where,
never a traceback (a line nested 100,000 deep was a RecursionError; ``"year": NaN`` and a
lone surrogate in a title were 500s) and never a silent choice between two values.
Standard library only: the command line parses with it without loading Flask."""

from __future__ import annotations

import json
import math
from typing import Any

from recommender.errors import InvalidJson

MAX_JSON_DEPTH = 32
"""Deepest nesting of arrays and objects a body may have; ours need 4."""


def parse_json(text: str, what: str = "The body") -> Any:
    """``text`` as JSON, strictly: ``InvalidJson`` if malformed, deeper than
    :data:`MAX_JSON_DEPTH` or with a key given twice. Bodies and the lines of
    ``recommender events import`` alike."""
    try:
        value = json.loads(text, object_pairs_hook=_refuse_duplicate_keys,
                           parse_constant=_refuse_constant, parse_float=_finite_float,
                           parse_int=_bounded_int)
    except json.JSONDecodeError as exc:
        raise InvalidJson(f"{what} is not valid JSON: {exc.msg} at line {exc.lineno}, "
                          f"column {exc.colno}.", position=exc.pos) from None
    except RecursionError:
        raise InvalidJson(f"{what} nests deeper than {MAX_JSON_DEPTH} levels.") from None
    except _DuplicateKey as exc:
        raise InvalidJson(f"The key {exc.args[0]!r} is given twice in one object; give "
                          "each key once.", key=exc.args[0]) from None
    except _NotANumber as exc:
        raise InvalidJson(f"{what} holds the number {exc.args[0]}, which JSON has no room "
                          "for: send a finite number (NaN, Infinity and numbers past "
                          "1.8e308 or of more than 4,300 digits are refused).") from None
    _check(value, what)
    return value


class _NotANumber(ValueError):
    pass


def _refuse_constant(name: str) -> Any:
    raise _NotANumber(name)


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):  # 1e400 reads as inf
        raise _NotANumber(text[:40])
    return number


def _bounded_int(text: str) -> int:
    try:
        return int(text)
    except ValueError:  # Python's limit on converting long digit strings
        raise _NotANumber(f"{text[:20]}... ({len(text)} digits)") from None


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


def _check(value: Any, what: str) -> None:
    """Refuse ``value`` if it nests deeper than :data:`MAX_JSON_DEPTH` or holds a string
    (a key or a value) that is not Unicode, naming the field; walked without recursion
    (a parsed body can be deep)."""
    stack: list[tuple[Any, int, str]] = [(value, 1, "")]
    while stack:
        node, level, path = stack.pop()
        if isinstance(node, str):
            _refuse_surrogates(node, path, what)
        elif isinstance(node, dict | list):
            if level > MAX_JSON_DEPTH:
                raise InvalidJson(f"{what} nests deeper than {MAX_JSON_DEPTH} levels.")
            if isinstance(node, dict):
                for key, child in node.items():
                    _refuse_surrogates(key, path, what)
                    stack.append((child, level + 1, f"{path}.{key}" if path else key))
            else:
                stack.extend((child, level + 1, f"{path}[{i}]") for i, child in enumerate(node))


def _refuse_surrogates(text: str, path: str, what: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        where = f"{path[:200]!r}" if path else what.lower()
        raise InvalidJson(
            f"The text of {where} holds {text[exc.start]!r} at character {exc.start}, half "
            "of a UTF-16 surrogate pair and no character: send valid Unicode.",
            **({"field": path[:200]} if path else {})) from None
