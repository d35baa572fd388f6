"""Operators' reports of live traffic and the app's experiments: ``GET /admin/stats``,
``GET /admin/experiments`` and ``GET /admin/experiments/{name}`` (the admin key where one
is set, as every ``/admin`` route). The figures are
:mod:`recommender.evaluation.online`'s; the experiments are read from
``RECOMMENDER_EXPERIMENTS`` when the app starts (a bad file stops it, naming the line and
field: :mod:`recommender.viewers.experiments`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from flask import Blueprint, Flask, jsonify, request
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from recommender.api.schemas import parse_args
from recommender.api.services import personal, services
from recommender.catalog.moments import in_utc
from recommender.config import Settings
from recommender.errors import InvalidParameter, NotFound
from recommender.evaluation.online import MAX_DAYS, experiment_report, stats_report
from recommender.storage.impressions import CONVERSIONS, ImpressionLog
from recommender.viewers.experiments import Experiments, Ranking, load_experiments
from recommender.viewers.personal import Personalizer
from recommender.viewers.surfaces import Surface

bp = Blueprint("reports", __name__)


def init_app(app: Flask, settings: Settings, given: Experiments | None = None) -> None:
    """The experiments ``given`` (read by the server's master), else those of the file
    (none: no experiment); a bad file raises
    :class:`~recommender.viewers.experiments.ExperimentsError` and the app doesn't start."""
    if given is None:
        given = load_experiments(settings.experiments) if settings.experiments \
            else Experiments()
    services(app).experiments = given


def experiments() -> Experiments:
    return services().experiments


def variant(surface: Surface, user: str | None) -> tuple[tuple[str, str] | None, Ranking | None]:
    """The (experiment, variant) names ``user`` is served on ``surface``, and the
    variant's ranking (None, None: in no experiment)."""
    assigned = experiments().assign(surface, user)
    if assigned is None:
        return None, None
    experiment, chosen = assigned
    return (experiment.name, chosen.name), chosen.ranking


def personal_for(ranking: Ranking | None) -> Personalizer | None:
    """The viewers' store, where a variant's source counts events (popular, trending); a
    plain "more like this" never opens it."""
    if ranking is None or ranking.source not in ("popular", "trending"):
        return None
    return personal()


class StatsParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    days: int = Field(7, ge=1, le=MAX_DAYS, description="the days reported, today included")


Moment = Annotated[AwareDatetime, AfterValidator(in_utc)]
"""A time with its offset that stays inside the calendar in UTC (else a 400 naming it)."""


class ExperimentParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    since: Moment | None = Field(None, description="from (ISO 8601 with its offset; "
                                        f"default: {MAX_DAYS} days before until)")
    until: Moment | None = Field(None, description="to (default: now)")


class FiguresOut(BaseModel):
    viewers: int
    impressions: int
    clicks: int = Field(description="films shown that got a conversion, one per film per "
                        "impression")
    ctr: float = Field(description="clicks / impressions")
    ctr_ci95: list[float] = Field(description="Wilson's 95% interval (scipy)")
    conversions: dict[str, int] = Field(description="per type: " + ", ".join(CONVERSIONS) +
                                        " (a rating of 4 or more)")


class VariantOut(FiguresOut):
    name: str
    lift_vs_control: float | None = Field(description="ctr / the control's - 1")
    p_value: float | None = Field(description="two-sided, equal click rates per impression "
                                  "(scipy.stats.poisson_means_test); null for the control")


class ExperimentOut(BaseModel):
    name: str
    since: str
    until: str
    variants: list[VariantOut]


class SurfaceDayOut(FiguresOut):
    surface: str
    day: str


class SurfaceTotalOut(FiguresOut):
    surface: str


class StatsOut(BaseModel):
    since: str
    until: str
    days: int
    surfaces: list[SurfaceDayOut]
    totals: list[SurfaceTotalOut] = Field(description="per surface over every day")
    unattributed_events: int = Field(description="events naming a recommendation_id that "
                                     "didn't show their film (unknown, expired, forged)")


RESPONSE_MODELS: list[type[BaseModel]] = [ExperimentOut, StatsOut]


def _log() -> ImpressionLog:
    return ImpressionLog(personal().store)


@bp.get("/admin/stats")
def admin_stats() -> Any:
    """Click-through per surface per day, every variant together."""
    params = parse_args(StatsParams, request.args)
    return jsonify(stats_report(_log(), params.days))


@bp.get("/admin/experiments")
def admin_experiments() -> Any:
    """The experiments the server runs, as its file says."""
    if request.args:
        raise InvalidParameter(next(iter(request.args)), "this route takes no parameters")
    return jsonify({"experiments": [e.model_dump() for e in experiments().all]})


@bp.get("/admin/experiments/<name>")
def admin_experiment(name: str) -> Any:
    """One experiment's variants: impressions, clicks, CTR with its interval, lift."""
    params = parse_args(ExperimentParams, request.args)
    experiment = experiments().by_name.get(name)
    if experiment is None:
        known = sorted(experiments().by_name)
        raise NotFound(f"No experiment named {name[:100]!r}; this server runs "
                       f"{', '.join(known) if known else 'none'} (RECOMMENDER_EXPERIMENTS).",
                       experiments=known)
    since, until = (_ts(params.since), _ts(params.until))
    if since is not None and until is not None and since >= until:
        raise InvalidParameter("since", "since must be before until")
    return jsonify(experiment_report(_log(), name, [v.name for v in experiment.variants],
                                     since, until))


def _ts(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()


def openapi_paths(responses: Any, query_parameters: Any) -> dict[str, Any]:
    """These routes in the OpenAPI document (``responses(model, errors)`` and
    ``query_parameters(model)`` as the document shapes them)."""
    return {
        "/admin/stats": {"get": {
            "summary": "Click-through per surface per day (impressions, clicks, CTR with "
                       "its 95% interval, conversions by type)",
            "parameters": query_parameters(StatsParams),
            "responses": responses("StatsOut", [400, 401, 403, 503])}},
        "/admin/experiments": {"get": {
            "summary": "The experiments this server runs (RECOMMENDER_EXPERIMENTS)",
            "responses": {"200": {"description": "{experiments: [...]}", "content": {
                "application/json": {"schema": {"type": "object"}}}},
                **responses(None, [400, 401, 403])}}},
        "/admin/experiments/{name}": {"get": {
            "summary": "One experiment's variants against the control: impressions, "
                       "clicks, CTR with its interval, conversions, lift and p-value",
            "parameters": [{"name": "name", "in": "path", "required": True,
                            "schema": {"type": "string"}},
                           *query_parameters(ExperimentParams)],
            "responses": responses("ExperimentOut", [400, 401, 403, 404, 503])}},
    }
