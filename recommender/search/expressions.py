"""Filter expressions: ``kind = "series" and year >= 1990 and genres has "Drama" and not
attributes.original and people has "Tom Hanks"``, parsed by a grammar (lark, LALR: never
``eval``) into a small tree, checked against the fields films have, and evaluated by
:class:`~recommender.search.filters.FilterMasks` into a mask over the rows.

The grammar (docs/rules.md): ``or``, ``and``, ``not``, parentheses; ``=``, ``!=``, ``<``,
``<=``, ``>``, ``>=``, ``has``, ``in [...]``; a field alone is true where it is true
(``attributes.original``); ``@name`` is a named filter of the rules file.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lark import Lark, Token, Transformer, UnexpectedCharacters, UnexpectedEOF, UnexpectedInput
from lark.exceptions import VisitError

from recommender.errors import InvalidParameter

MAX_CHARS = 2000
MAX_DEPTH = 24
MAX_LIST = 500

GRAMMAR = r"""
?start: or_
?or_: and_ ("or"i and_)*  -> or_
?and_: not_ ("and"i not_)*  -> and_
?not_: "not"i not_  -> negation
     | atom
?atom: "(" or_ ")"
     | field OP value  -> compare
     | field "has"i value  -> has
     | field "in"i values  -> member
     | field  -> truthy
     | NAMED  -> named
field: NAME ("." NAME)?
values: "[" [value ("," value)*] "]"
?value: ESCAPED_STRING  -> string
      | SIGNED_NUMBER  -> number
      | "true"i  -> true
      | "false"i  -> false
OP: "<=" | ">=" | "!=" | "=" | "<" | ">"
NAMED: /@[A-Za-z_][A-Za-z0-9_-]*/
NAME.-1: /[A-Za-z_][A-Za-z0-9_]*/
%import common.ESCAPED_STRING
%import common.SIGNED_NUMBER
%import common.WS
%ignore WS
"""

SCALARS = {"id": "a film's id", "title": "its title", "kind": "film or series",
           "maturity": "its rating", "age": "the least age of its rating",
           "language": "its synopsis's language", "year": "its year"}
LISTS = {"genres": "its genres", "people": "everyone in it",
         "people.<role>": "the people of one role (people.director, people.cast)"}
"""The fields an expression may name (and ``attributes.<name>``), for the errors and docs."""

_PARSER = Lark(GRAMMAR, parser="lalr", maybe_placeholders=False)
_TERMINALS = {"ESCAPED_STRING": "a \"string\"", "SIGNED_NUMBER": "a number",
              "NAME": "a field", "NAMED": "@a_named_filter", "OP": "a comparison (= < ...)",
              "LPAR": "(", "RPAR": ")", "LSQB": "[", "RSQB": "]", "COMMA": ",",
              "AND": "and", "OR": "or", "NOT": "not", "HAS": "has", "IN": "in",
              "TRUE": "true", "FALSE": "false", "DOT": ".", "$END": "the end"}


@dataclass(frozen=True)
class Field:
    name: str
    """id, title, ..., genres, people, attributes."""
    key: str | None = None
    """The attribute's name or the people's role."""

    def __str__(self) -> str:
        return self.name if self.key is None else f"{self.name}.{self.key}"


@dataclass(frozen=True)
class Node:
    """One node of an expression: ``op`` is and / or / not / compare / has / in / truthy /
    named; ``args`` its children, or (field, operator, value)."""

    op: str
    args: tuple[Any, ...]


class _Tree(Transformer[Token, Node]):
    def or_(self, items: list[Node]) -> Node:
        return items[0] if len(items) == 1 else Node("or", tuple(items))

    def and_(self, items: list[Node]) -> Node:
        return items[0] if len(items) == 1 else Node("and", tuple(items))

    def negation(self, items: list[Node]) -> Node:
        return Node("not", (items[0],))

    def compare(self, items: list[Any]) -> Node:
        return Node("compare", (items[0], str(items[1]), items[2]))

    def has(self, items: list[Any]) -> Node:
        return Node("has", (items[0], items[1]))

    def member(self, items: list[Any]) -> Node:
        return Node("in", (items[0], tuple(items[1])))

    def truthy(self, items: list[Any]) -> Node:
        return Node("truthy", (items[0],))

    def named(self, items: list[Token]) -> Node:
        return Node("named", (str(items[0])[1:],))

    def field(self, items: list[Token]) -> Field:
        name = str(items[0])
        key = str(items[1]) if len(items) > 1 else None
        if name not in SCALARS and name not in ("genres", "people", "attributes"):
            raise InvalidParameter("filter", f"unknown field {name!r}; an expression may name "
                                   f"{', '.join([*SCALARS, 'genres', 'people'])}, "
                                   "people.<role> and attributes.<name>", field_name=name)
        if (name == "attributes" and key is None) or \
                (key is not None and name not in ("attributes", "people")):
            raise InvalidParameter("filter", f"{name}{'.' + key if key else ''} is not a "
                                   "field: attributes need a name (attributes.original); "
                                   "only people take a role (people.director)")
        return Field(name, key)

    def values(self, items: list[Any]) -> list[Any]:
        if len(items) > MAX_LIST:
            raise InvalidParameter("filter", f"a list holds at most {MAX_LIST} values")
        return items

    def string(self, items: list[Token]) -> str:
        return str(items[0])[1:-1].replace('\\"', '"').replace("\\\\", "\\")

    def number(self, items: list[Token]) -> float:
        return float(items[0])

    def true(self, _items: list[Any]) -> bool:
        return True

    def false(self, _items: list[Any]) -> bool:
        return False


@functools.lru_cache(maxsize=1024)
def parse(text: str) -> Node:
    """The tree of ``text``; InvalidParameter (400) naming the column where it stops and
    what was expected there, an unknown field, or one too long or too deep."""
    if len(text) > MAX_CHARS:
        raise InvalidParameter("filter", f"a filter is at most {MAX_CHARS} characters, got "
                               f"{len(text)}")
    if _depth(text) > MAX_DEPTH:
        raise InvalidParameter("filter", f"a filter nests at most {MAX_DEPTH} parentheses "
                               "or lists deep")
    if text.count("not") > 4 * MAX_DEPTH:
        raise InvalidParameter("filter", "a filter holds too many nots")
    try:
        tree = _PARSER.parse(text)
        return _Tree().transform(tree)
    except VisitError as exc:
        if isinstance(exc.orig_exc, InvalidParameter):
            raise exc.orig_exc from None
        raise
    except UnexpectedInput as exc:
        raise _syntax_error(text, exc) from None


def _depth(text: str) -> int:
    depth = deepest = 0
    for char in text:
        depth += (char in "([") - (char in ")]")
        deepest = max(deepest, depth)
    return deepest


def _syntax_error(text: str, exc: UnexpectedInput) -> InvalidParameter:
    column = getattr(exc, "column", None)
    token = getattr(exc, "token", None)
    if isinstance(exc, UnexpectedEOF) or column is None or column < 1 or \
            getattr(token, "type", None) == "$END":
        column = len(text) + 1
    if isinstance(exc, UnexpectedCharacters):
        expected = sorted(exc.allowed or ())
    else:
        expected = sorted(getattr(exc, "expected", None) or ())
    said = sorted({_TERMINALS.get(t, t.lower().strip('"')) for t in expected
                   if not t.startswith("__") and t != "WS"})
    near = text[column - 1:column + 19]
    return InvalidParameter(
        "filter", f"the filter does not parse at column {column}"
        f"{f' (at {near!r})' if near else ''}; expected {' or '.join(said) or 'something else'}."
        " Example: kind = \"series\" and year >= 1990 and genres has \"Drama\"",
        column=column, expected=said)


def named_filters(node: Node) -> set[str]:
    """The ``@names`` an expression uses."""
    if node.op == "named":
        return {node.args[0]}
    if node.op in ("and", "or", "not"):
        return set().union(*(named_filters(a) for a in node.args))
    return set()


def expand(node: Node, resolve: Callable[[str], Node]) -> Node:
    """``node`` with each ``@name`` replaced by ``resolve(name)``'s tree."""
    if node.op == "named":
        return resolve(node.args[0])
    if node.op in ("and", "or", "not"):
        return Node(node.op, tuple(expand(a, resolve) for a in node.args))
    return node
