"""The worst requests we could think of, as a hostile client would send them.

Used by ``tests/system/test_netflix.py`` (each must answer within the time budget, or with
a 4xx, through the real server at Netflix's scale) and by
``scripts/bench_hostile.py`` (their times, before and after the hardening).
"""

from __future__ import annotations

import http.client
import json
import time
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Hostile:
    name: str
    method: str
    path: str
    body: bytes | None = None


def _q(**params: object) -> str:
    return urllib.parse.urlencode(params)


def worst_requests(film_ids: Sequence[str], titles: Sequence[str]) -> list[Hostile]:
    """The list, over a catalog's ids and titles (at least 100 of each)."""
    typos = [f"zq{i}x {t[::-1]} vw" for i, t in enumerate(titles[:100])]  # none resolve
    liked = list(titles[:50])
    deep = {"positive": liked, "negative": [], "query": ("a heist in Spain " * 20)[:300], "k": 100,
            "offset": 900, "diversity": 1.0, "explain": True, "strategy": "best_score"}
    unresolvable = {"positive": typos[:50], "negative": typos[50:100]}

    def post(name: str, path: str, body: object) -> Hostile:
        return Hostile(name, "POST", path, json.dumps(body).encode())

    film = film_ids[0]
    return [
        Hostile("similar, offset 5000, diversity 0.5", "GET",
                f"/films/{film}/similar?" + _q(k=100, offset=5000, diversity=0.5)),
        Hostile("similar, offset 900, diversity 1, explain", "GET",
                f"/films/{film}/similar?" + _q(k=100, offset=900, diversity=1, explain="true")),
        Hostile("search 1,000 chars, offset 900, diversity 1, explain", "GET",
                "/search?" + _q(q=("zombie heist " * 80)[:1000], k=100, offset=900,
                                diversity=1, explain="true")),
        Hostile("search, filters that starve the index", "GET",
                "/search?" + _q(q="love", k=100, genres="No Such Genre", year_min=1900,
                                year_max=1901, language="xx")),
        Hostile("similar by a 300-char unknown title", "GET",
                "/similar?" + _q(title=("qwxz " * 60)[:300], k=100)),
        post("recommend, 100 unresolvable titles", "/recommend", unresolvable),
        post("recommend, 50 liked, best_score, offset 900, diversity 1, explain",
             "/recommend", deep),
        post("recommend, 1,000 excluded ids", "/recommend",
             {"positive": liked[:1], "exclude": list(film_ids[:1000]), "k": 100}),
        post("batch of 32 x (50 liked, offset 900, diversity 1, explain)",
             "/recommend/batch", {"requests": [deep] * 32}),
        post("batch of 32 x (100 unresolvable titles)", "/recommend/batch",
             {"requests": [unresolvable] * 32}),
        Hostile("50,000 nested [ in a body", "POST", "/recommend", b"[" * 50_000),
    ]


def timed(base: str, request: Hostile, timeout: float) -> dict:
    parts = urlsplit(base)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    headers = {"Content-Type": "application/json"} if request.body is not None else {}
    started = time.perf_counter()
    try:
        connection.request(request.method, request.path, body=request.body, headers=headers)
        response = connection.getresponse()
        body = response.read()
        status = response.status
    except TimeoutError:
        return {"request": request.name, "status": None, "seconds": None,
                "note": f"> {timeout:g} s (no answer)"}
    finally:
        connection.close()
    seconds = time.perf_counter() - started
    code = ""
    if status >= 400:
        try:
            code = json.loads(body)["error"]["code"]
        except (ValueError, KeyError, TypeError):
            code = body[:40].decode("utf-8", "replace")
    return {"request": request.name, "status": status, "code": code,
            "seconds": round(seconds, 3), "bytes": len(body)}
