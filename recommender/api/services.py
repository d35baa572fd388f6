"""Everything an app's routes reach, as one typed object: :class:`Services`, kept in
``app.extensions`` and reached through the accessors below (as flaskr's ``get_db()``),
never by string keys. The app factory (:func:`recommender.api.app.create_app`) fills it in;
a route asks for what it needs: :func:`services`, :func:`viewers`, :func:`personal`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import current_app

from recommender.api.observability import Metrics
from recommender.api.viewer_context import ContextCache
from recommender.api.viewer_store import ViewerStore
from recommender.config import Settings
from recommender.distribution.live import LiveIndex
from recommender.viewers.experiments import Experiments
from recommender.viewers.impressions import ImpressionRecorder
from recommender.viewers.personal import Personalizer
from recommender.viewers.rules import Rules

EXTENSION = "recommender"


@dataclass
class Services:
    """What an app serves with: its settings, the live index, the metrics, the viewers'
    side (the event store opened on first use), the experiments, the impression
    recorder."""

    settings: Settings
    live: LiveIndex
    metrics: Metrics
    viewers: ViewerStore | None = None
    experiments: Experiments = field(default_factory=Experiments)
    impressions: ImpressionRecorder | None = None
    """None where ``RECOMMENDER_IMPRESSIONS=off``."""
    rules: Rules | None = None
    """The rules in force (``RECOMMENDER_RULES``): named filters, promotions, pins, boosts."""
    contexts: ContextCache = field(default_factory=ContextCache)
    """Viewers' stored country and age limit, kept a moment per process."""


def services(app: Any = None) -> Services:
    """The services of ``app`` (default: the app of the request being answered)."""
    found = (app or current_app).extensions[EXTENSION]
    assert isinstance(found, Services)
    return found


def viewers(app: Any = None) -> ViewerStore:
    """The viewers' side of ``app`` (default: the app of the request being answered)."""
    found = services(app).viewers
    assert found is not None, "create_app attaches the viewers' side"
    return found


def personal() -> Personalizer:
    """This request's app's personaliser (503 ``events_unavailable`` while unreachable)."""
    return viewers().open()


def events_status() -> dict[str, Any]:
    return viewers().status()
