"""Viewer tokens: what a browser holds instead of a key (as Meilisearch's tenant tokens).

An application that has the server's secret (``RECOMMENDER_VIEWER_TOKEN_SECRET``) signs,
for one viewer, a JSON Web Token (HS256) with that viewer's id as ``sub`` and an expiry
as ``exp``: any JWT library in any language makes one, and ``recommender token USER``
does too. Its holder may search and read and write as that viewer only: their
recommendations, rows and history, their events, their erasure; never another viewer's
data, the catalog's writes or ``/admin``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import jwt

ALGORITHM = "HS256"
MAX_TTL_SECONDS = 30 * 24 * 3600
"""The longest a token may live: a token can't be revoked short of changing the secret."""


@dataclass(frozen=True)
class ViewerToken:
    user: str
    expires: float


def sign(secret: str, user: str, ttl_seconds: float = 3600.0) -> str:
    """A token for ``user`` valid for ``ttl_seconds`` (at most :data:`MAX_TTL_SECONDS`)."""
    if not secret:
        raise ValueError("no secret: set RECOMMENDER_VIEWER_TOKEN_SECRET")
    if not 0 < ttl_seconds <= MAX_TTL_SECONDS:
        raise ValueError(f"a token lives 1 s to {MAX_TTL_SECONDS // 86400} days")
    return jwt.encode({"sub": user, "exp": int(time.time() + ttl_seconds)}, secret,
                      algorithm=ALGORITHM)


def verify(secret: str, token: str) -> ViewerToken | None:
    """The viewer ``token`` was signed for, or None where it isn't a valid, unexpired
    token signed with ``secret`` (HS256 only: ``alg: none`` and the others are refused)."""
    if not secret or token.count(".") != 2:
        return None
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM],
                            options={"require": ["sub", "exp"]})
    except jwt.PyJWTError:
        return None
    user = claims.get("sub")
    if not isinstance(user, str) or not user:
        return None
    return ViewerToken(user, float(claims["exp"]))
