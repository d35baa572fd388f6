"""The page for people: ``GET /`` with its script and style, served from the package.

Everything it shows comes from the JSON API (``static/app.js``); nothing is
fetched from elsewhere, so it works on a closed network.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from flask import Blueprint, render_template, send_from_directory

from recommender.api import http_io
from recommender.catalog.films import Film

bp = Blueprint("web", __name__, template_folder="templates", static_folder="static",
               static_url_path="/static")


@bp.get("/dashboard")
def dashboard() -> Any:
    """The operators' dashboard: its figures come from the /admin routes (the admin key
    where one is set, asked for by the page), the page itself holds none."""
    return render_template("dashboard.html")


@bp.get("/")
def index() -> Any:
    live = http_io.live()
    films = live.engine().index.films if live.loaded else []
    return render_template("index.html", films=len(films) if films else "No",
                           examples=example_titles(films))


@bp.get("/favicon.ico")
def favicon() -> Any:
    """The page's icon where a browser asks for it by the old name (the page links the
    SVG itself)."""
    return send_from_directory(Path(__file__).parent / "static", "favicon.svg",
                               mimetype="image/svg+xml", max_age=86400)


def example_titles(films: Sequence[Film], count: int = 2) -> list[str]:
    """A few of the catalog's own titles for the search box's placeholder (it showed the
    Danish seeds' whatever the catalog): short, plain ones, from rows spread over the
    catalog, so the same for a version and found without reading every film."""
    out: list[str] = []
    step = max(1, len(films) // 50)
    for film in films[::step]:
        title = film.title
        if 3 <= len(title) <= 24 and title[:1].isalpha() and title.isprintable() \
                and title not in out:
            out.append(title)
        if len(out) == count:
            break
    return out
