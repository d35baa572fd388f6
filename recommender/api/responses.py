"""The JSON the API answers, as pydantic models: for the OpenAPI document (``/openapi.json``),
checked against real answers by schemathesis (tests/integration/test_openapi.py). What requests may
hold is :mod:`recommender.api.schemas`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class MapPoint(BaseModel):
    id: str
    title: str
    x: float
    y: float
    group: str


class MapOut(BaseModel):
    points: list[MapPoint]
    method: str = Field(description="the projection: pca")
    explained_variance: list[float] = Field(description="share of the variance per axis")
    total: int = Field(description="films in the catalog")
    color_by: str
    groups: list[dict[str, Any]] = Field(description="{name, count}, largest first")
    version: str


class FilmRef(BaseModel):
    id: str
    title: str
    year: int | None


class ScoreParts(BaseModel):
    semantic: float | None = None
    lexical: float | None = None


class ResultFilm(FilmRef):
    score: float = Field(description="the mode's score: in hybrid a fused rank score in "
                         "(0, 1], in semantic the cosine (docs/api.md)")
    genres: list[str]
    scores: ScoreParts | None = None
    explanation: dict[str, Any] | None = Field(None, description="with explain=true")
    synopsis: str | None = Field(None, description="with synopsis=true")
    image_url: str | None = Field(None, description="a poster, where the catalog has one")
    reasons: list[dict[str, Any]] | None = Field(
        None, description="per-viewer answers: why it is there, e.g. {\"because\": \"liked\", "
        "\"film\": {...}} or {\"because\": \"trending\"}")
    promoted: str | None = Field(None, description="the rule that placed it (a promotion "
                                 "or a pin, RECOMMENDER_RULES); absent: organic")


class ExperimentLabel(BaseModel):
    name: str
    variant: str


class ResultPageOut(BaseModel):
    query: dict[str, Any] = Field(description="what was understood")
    results: list[ResultFilm]
    has_more: bool
    nearest: list[ResultFilm] | None = Field(
        None, description="a free-text search close to nothing (its nearest film under the "
        "model's relevance floor, no word matching a film): results is empty, and these are "
        "the nearest few, to show marked as far; query.relevance_floor says where the line is")
    recommendation_id: str = Field(description="send it back with the events it leads to")
    experiment: ExperimentLabel | None = Field(
        None, description="the experiment and variant this answer was served under "
        "(RECOMMENDER_EXPERIMENTS); absent outside any")


class EventsOut(BaseModel):
    accepted: int = Field(description="events stored now (committed)")
    duplicates: int = Field(description="events whose event_id was already stored")
    rejected: list[dict[str, Any]] = Field(description="{index, error} of each refused event")


class RowOut(BaseModel):
    title: str = Field(description="what to show above the row: 'Because you liked X', "
                       "'Trending this week', 'New on the service', 'From the catalog'")
    because: FilmRef | None = Field(description="the liked or watched film (null: the "
                                    "other rows)")
    reason: str = Field(description="liked, watched, rated, watchlisted, trending, "
                        "new_on_the_service or catalog")
    window_days: float | None = Field(None, description="the days a trending row counts, "
                                      "or a new row's films arrived within")
    results: list[ResultFilm]


class RowsOut(BaseModel):
    user: str
    experiment: ExperimentLabel | None = None
    rows: list[RowOut]
    recommendation_id: str


class EventOut(BaseModel):
    event_id: str
    user: str
    film: dict[str, Any]
    type: str
    value: float | None
    ts: str
    recommendation_id: str | None


class HistoryOut(BaseModel):
    user: str
    events: list[EventOut]


class FilmOut(BaseModel):
    id: str
    title: str
    synopsis: str
    year: int | None
    original_title: str | None
    aliases: list[str]
    genres: list[str]
    language: str | None
    image_url: str | None = Field(None, description="a poster, where the catalog has one")
    available_from: str | None = Field(None, description="when it may first be shown "
                                       "(ISO 8601 UTC); only where the film has a window")
    available_until: str | None = Field(None, description="when it may no longer be shown")
    kind: str | None = Field(None, description="film or series")
    maturity: str | None = Field(None, description="its rating on the maturity scale")
    people: list[dict[str, str]] = Field(default_factory=list,
                                         description="{name, role}: directors and cast")
    territories: list[dict[str, Any]] | None = Field(
        None, description="{country, from, until}: where and when; null: everywhere")
    attributes: dict[str, Any] = Field(default_factory=dict,
                                       description="the operator's own fields")


class FilmListItem(FilmRef):
    genres: list[str]


class FilmListOut(BaseModel):
    total: int
    films: list[FilmListItem]


class HealthOut(BaseModel):
    status: Literal["ok"]
    films: int
    model: str
    index: dict[str, Any]


class EventsStatusOut(BaseModel):
    status: Literal["ok", "read_only", "unavailable"] = Field(
        description="unavailable: the viewer routes answer 503 events_unavailable for now; "
                    "every other route goes on. read_only: the database answers reads but "
                    "refuses writes (a probe write, at most every 5 s, tells): events and "
                    "impressions are refused until it takes writes again")
    reason: str | None = Field(None, description="why, where read_only")
    retry_after: int | None = Field(None, description="seconds, where not ok")


class ReadyOut(BaseModel):
    status: Literal["ready"]
    films: int
    model: str
    version: str
    events: EventsStatusOut = Field(description="the event database, looked at once a second")
    refused: str | None = Field(None, description="why the newest version on disk isn't "
                                                  "served (the one named is)")
    collaborative: dict[str, Any] | None = Field(
        None, description="the collaborative model serving: version, algorithm, films, "
        "events, trained_at, age_seconds, bytes, tuned (the ranking's values its training "
        "chose on the log, and the backtest's figures; null: not tuned) (null: none "
        "trained yet)")
    collaborative_refused: str | None = Field(None, description="why the newest model "
                                              "isn't the one serving")
    catalog: dict[str, Any] | None = Field(
        None, description="the live catalog: changes above the version (added, changed, "
        "withdrawn, hidden by their window), newest_change_at, read_through, database")


class ReloadOut(BaseModel):
    reloaded: bool
    version: str
    previous: str | None


class AdminStatusOut(BaseModel):
    status: Literal["ok"]
    films: int
    model: str
    index: dict[str, Any] = Field(description="as /health's, with path and root")
    similar_table: bool = Field(description="whether this worker answers more-like-this "
                                "from the version's table yet (else by the pipeline)")
    last_reload_error: str | None
    catalog: dict[str, Any] | None = Field(None, description="the live catalog, as /ready's")
    rules: dict[str, Any] | None = Field(None, description="the rules in force (docs/rules.md)")
    context: dict[str, Any] | None = Field(None, description="the default country, whether "
                                           "one is required, the maturity scale")
    ranking: dict[str, Any] | None = Field(
        None, description="the per-viewer ranking's weights and half-lives serving, each "
        "with `value` and `from`: explicit (a variable or flag), tuned (the serving model's "
        "training chose it on the log) or default")


class ViewerOut(BaseModel):
    user: str
    country: str | None = Field(description="ISO 3166-1 alpha-2; null: none stored")
    max_age: int | None = Field(description="the age limit (a kids profile); null: none")
    stored: bool = Field(description="whether the viewer has a stored context")


class BatchAnswer(BaseModel):
    status: int
    body: dict[str, Any]


class BatchOut(BaseModel):
    responses: list[BatchAnswer]


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="allow")

    code: Literal["invalid_parameter", "not_found", "title_not_found", "method_not_allowed",
                  "ambiguous_title", "payload_too_large", "unsupported_media_type",
                  "rate_limited", "index_unavailable", "unauthorized", "forbidden",
                  "invalid_json", "timeout", "events_unavailable", "internal_error"]
    message: str


class ErrorOut(BaseModel):
    error: ErrorDetail
