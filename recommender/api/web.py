"""The page for people: ``GET /`` with its script and style, served from the package.

Everything it shows comes from the JSON API (``static/app.js``); nothing is
fetched from elsewhere, so it works on a closed network.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template

from recommender.api import http_io

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
    films = len(live.engine().index) if live.loaded else "No"
    return render_template("index.html", films=films)
