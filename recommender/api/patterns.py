"""Patterns the OpenAPI document states, spelt so that a client's validator (ECMA regular
expressions) and the server (Python's) read them alike."""

from __future__ import annotations

from recommender.catalog.limits import ID_PATTERN, IMAGE_URL

WHITE_SPACE = r"\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
"""Python's ``\\s`` spelt out, for patterns a client's (ECMA) validator reads the same."""
NOT_BLANK = f"[^{WHITE_SPACE}]"
"""At least one character that isn't white space, spelt out: Python's ``\\S`` (which the
server checks) and ECMA's (which a client's validator may use) differ on U+001C-U+001F,
U+0085 and U+FEFF."""
ID_RE = ID_PATTERN.pattern
"""A film id: lowercase letters, digits and single hyphens."""
IMAGE_RE = IMAGE_URL.pattern.replace(r"\s", WHITE_SPACE)
"""An image URL: http(s) or a path on this server, without white space."""
