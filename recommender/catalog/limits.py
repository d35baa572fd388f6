"""What a film's fields may hold, wherever it enters (a catalog file, PUT, PATCH, bulk):
checked by :mod:`recommender.catalog.films` and stated in the OpenAPI document, so that a
200 KB title, 20,000 aliases or an image path that climbs out of the server's own paths
(``/../../etc/passwd``) is refused naming its field, not stored and served."""

from __future__ import annotations

import re

ID_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
MIN_YEAR, MAX_YEAR = 1870, 2100
IMAGE_URL = re.compile(r"^(https?://[^\s\"'<>]+|/[^\s\"'<>]*)$")
"""What an image_url may be: shown in the page's cards, so never a javascript: URL. A
path is checked by :data:`IMAGE_PATH_ESCAPES` too (not in this pattern: the OpenAPI
document states it, and JSON Schema's validators don't all read look-arounds)."""
IMAGE_PATH_ESCAPES = re.compile(r"(^|/)(\.|%2e){1,2}(/|$)|^//|^/%2f|\\", re.IGNORECASE)
"""A path that climbs (``/../``, ``/%2e%2e/``), a protocol-relative URL (``//host``) or a
backslash: an image path must stay under this server's own paths."""
MAX_URL_CHARS = 2000
MAX_TITLE_CHARS = 500
"""A title, an original title or an alias (the longest real title we know is ~200)."""
MAX_SYNOPSIS_CHARS = 20_000
"""A synopsis (the model reads its first few hundred tokens; the words index all of it)."""
MAX_LIST_ITEMS = 100
"""Aliases or genres of one film."""
MAX_GENRE_CHARS = 100
MAX_LANGUAGE_CHARS = 16
