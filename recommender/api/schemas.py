"""The JSON bodies the API accepts, as pydantic models.

They validate requests (unknown fields and wrong types are refused, naming the field)
and describe them (``model_json_schema``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)

from recommender.api.patterns import NOT_BLANK
from recommender.config import Mode
from recommender.errors import InvalidParameter
from recommender.search.engine import Known, film_for_data
from recommender.search.query import DEFAULT_K, FILTERS, MAX_LIST_LIMIT
from recommender.storage import Event

Number = StrictFloat  # a JSON number: ints are accepted, strings are not


# -- query parameters of the GET routes -------------------------------------------------
# Read in lax mode: a query string holds text, so "5" is the integer 5.


class ListParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    offset: int = Field(0, ge=0, description="films to skip")
    limit: int = Field(50, ge=1, le=MAX_LIST_LIMIT, description="films to return")


class FilterParams(BaseModel):
    """The catalog filters of a query string, made from :data:`recommender.search.query.
    FILTERS` (one declaration for these models, the JSON bodies' and the command line's)."""

    model_config = ConfigDict(extra="forbid")

    year_min: int | None = Field(None, description=FILTERS["year_min"])
    year_max: int | None = Field(None, description=FILTERS["year_max"])
    genres: list[str] = Field(default_factory=list,
                              description=FILTERS["genres"] + " (comma-separated or repeated)")
    language: str | None = Field(None, description=FILTERS["language"])


class QueryParams(FilterParams):
    """What every query takes (``/similar``, ``/films/{id}/similar``, ``/search``)."""

    k: int = Field(DEFAULT_K, ge=1, description="how many films, 1..RECOMMENDER_MAX_K (100)")
    offset: int = Field(0, ge=0, description="results to skip first (paging); "
                        "offset + k <= 1000")
    mode: Mode | None = Field(
        None, description="ranking: vectors, words (BM25) or both fused (default hybrid)")
    exclude: list[str] = Field(default_factory=list,
                               description="ids never to return (comma-separated or repeated)")
    min_score: float | None = Field(None, allow_inf_nan=False,
                                    description="only films scoring at least this")
    diversity: float = Field(0.0, ge=0.0, le=1.0, allow_inf_nan=False,
                             description="re-rank by maximal marginal relevance: 0 off, "
                             "1 most diverse")
    explain: bool = Field(False, description="say why each film was chosen")
    synopsis: bool = Field(False, description="include each result's synopsis")


class SimilarParams(QueryParams):
    title: str = Field(min_length=1, pattern=NOT_BLANK,
                       description="the film's title, alias or original title")
    year: int | None = Field(None, description="the film's year, where titles are shared")


class SearchParams(QueryParams):
    q: str = Field(min_length=1, pattern=NOT_BLANK,
                   description="a free-text description, in any language the model reads")


LIST_FIELDS = frozenset({"genres", "exclude"})


class Filters(BaseModel):
    """The same filters in a JSON body (``POST /recommend``), typed as JSON is."""

    model_config = ConfigDict(extra="forbid")

    year_min: JsonInt | None = Field(None, description=FILTERS["year_min"])
    year_max: JsonInt | None = Field(None, description=FILTERS["year_max"])
    genres: list[NonBlank] = Field(default_factory=list, description=FILTERS["genres"])
    language: StrictStr | None = Field(None, description=FILTERS["language"])


def _whole_float_to_int(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


JsonInt = Annotated[StrictInt, BeforeValidator(_whole_float_to_int)]
"""An integer as JSON Schema means it: 14 and 14.0, but not "14" or 14.5."""

NonBlank = Annotated[StrictStr, Field(min_length=1, max_length=300, pattern=NOT_BLANK)]
"""Text with at least one character that isn't white space."""


class FilmById(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: NonBlank


class FilmByTitle(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: NonBlank
    year: JsonInt | None = None


FilmItem = NonBlank | FilmById | FilmByTitle


class RecommendRequest(BaseModel):
    """``POST /recommend``: films like the liked ones, unlike the disliked ones; at least
    one of ``positive`` (non-empty) or ``query`` is required."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"anyOf": [
        {"required": ["query"], "properties": {"query": {"type": "string"}}},
        {"required": ["positive"], "properties": {"positive": {"minItems": 1}}},
    ]})

    positive: list[FilmItem] = Field(
        default_factory=list, max_length=50,
        description='liked films: titles, {"id": ...} or {"title": ..., "year": ...}')
    negative: list[FilmItem] = Field(default_factory=list, max_length=50,
                                     description="disliked films, the same way")
    query: NonBlank | None = None
    strategy: Literal["average", "best_score"] = "average"
    mode: Mode | None = None
    k: JsonInt = Field(DEFAULT_K, ge=1)
    offset: JsonInt = Field(0, ge=0)
    filters: Filters = Field(default_factory=Filters)
    exclude: list[StrictStr] = Field(default_factory=list, max_length=1000)
    min_score: Number | None = Field(None, allow_inf_nan=False)
    diversity: Number = Field(0.0, ge=0.0, le=1.0, allow_inf_nan=False)
    explain: StrictBool = False
    user: UserId | None = Field(None, description="the viewer asking, where known")

    def items(self, name: str) -> list[Any]:
        """``positive`` or ``negative`` as the engine takes them (strings and dicts)."""
        return [i if isinstance(i, str) else i.model_dump(exclude_none=True)
                for i in getattr(self, name)]


class BatchRequest(BaseModel):
    """``POST /recommend/batch``: each request is answered as if sent alone."""

    model_config = ConfigDict(extra="forbid")

    requests: list[dict[str, Any]] = Field(
        min_length=1, description="request bodies of POST /recommend; each is validated "
        "and answered on its own")


class MapParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(10_000, ge=1, le=20_000, description="points at most (an even "
                       "sample of the catalog where it is larger)")
    color_by: Literal["genre", "year"] = Field("genre", description="what groups the "
                                               "points: first genre, or decade")


# -- viewers and their events -------------------------------------------------------------

FORBIDDEN_IN_IDS = (r"\x00-\x1f\x7f-\x9f"  # Unicode's Cc: C0 controls, DEL, C1 controls
                    r"\u200e\u200f\u202a-\u202e\u2066-\u2069"  # bidi marks and overrides
                    r"\u2028\u2029")  # the line and paragraph separators
"""Characters no id may hold: they hide or reorder text in a log or a page (U+202E shows
``abc`` as ``cba``), break lines, or can't be stored at all (NUL in PostgreSQL)."""
UserId = Annotated[StrictStr, Field(min_length=1, max_length=200,
                                    pattern=rf"^[^{FORBIDDEN_IN_IDS}/]+$",
                                    description="the viewer's id in your application: no '/', "
                                    "control, bidi or line-separator characters")]
TextId = Annotated[StrictStr, Field(min_length=1, max_length=200,
                                    pattern=rf"^[^{FORBIDDEN_IN_IDS}]+$")]

EARLIEST_TS = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_TS = datetime(2100, 1, 1, tzinfo=UTC)
"""An event's time is from 1970-01-01 (inclusive) to 2100-01-01 (exclusive), UTC; a time
ahead of the server's clock is then taken as now."""


def _seconds(value: Any) -> Any:
    """A number is seconds since 1970-01-01 UTC, whatever its size (pydantic alone reads
    a large one as milliseconds); strings and datetimes are parsed as ISO 8601."""
    if isinstance(value, bool):
        raise ValueError("a time is ISO 8601 text or a number of seconds since 1970")
    if isinstance(value, int | float):
        if not EARLIEST_TS.timestamp() <= value < LATEST_TS.timestamp():
            raise ValueError(f"ts must be from {EARLIEST_TS:%Y-%m-%d} to before "
                             f"{LATEST_TS:%Y-%m-%d}; got {value!r} seconds since 1970")
        return datetime.fromtimestamp(value, UTC)
    return value


def _in_range(value: datetime) -> datetime:
    try:
        inside = EARLIEST_TS <= value < LATEST_TS
    except OverflowError:  # its offset takes it past the calendar's ends
        inside = False
    if not inside:
        raise ValueError(f"ts must be from {EARLIEST_TS:%Y-%m-%d} to before "
                         f"{LATEST_TS:%Y-%m-%d} (UTC); got {value.isoformat()}")
    return value


EventTime = Annotated[
    AwareDatetime, BeforeValidator(_seconds), AfterValidator(_in_range),
    # said in the OpenAPI document too, so that clients (and schemathesis) see the range;
    # the pattern's years are 1971-2099 where an offset can't move a time out of range
    WithJsonSchema({"anyOf": [
        {"type": "string", "format": "date-time", "pattern": r"^(197[1-9]|19[89]\d|20\d\d)-"},
        {"type": "number", "minimum": EARLIEST_TS.timestamp(),
         "exclusiveMaximum": LATEST_TS.timestamp()}]})]
EventType = Literal["view", "like", "dislike", "rating", "watchlist", "click"]
EventValue = Annotated[StrictFloat, Field(allow_inf_nan=False)]


class EventIn(BaseModel):
    """One thing a viewer did with a film. Validated by itself: a bad event is rejected
    alone, the others in the same request are stored."""

    # what the value validator below checks, said in JSON Schema for the OpenAPI document
    model_config = ConfigDict(extra="forbid", json_schema_extra={"allOf": [
        {"if": {"properties": {"type": {"const": "rating"}}, "required": ["type"]},
         "then": {"required": ["value"],
                  "properties": {"value": {"type": "number", "minimum": 0, "maximum": 5}}}},
        {"if": {"properties": {"type": {"const": "view"}}, "required": ["type"]},
         "then": {"properties": {"value": {"anyOf": [
             {"type": "number", "minimum": 0, "maximum": 1}, {"type": "null"}]}}}},
        {"if": {"properties": {"type": {"enum": ["like", "dislike", "watchlist", "click"]}},
                "required": ["type"]},
         "then": {"properties": {"value": {"type": "null"}}}},
    ]})

    user: UserId
    film: FilmItem = Field(description="a title, {\"id\"} or {\"title\", \"year\"}")
    type: EventType
    value: EventValue | None = Field(
        None, validate_default=True, description="rating: 0..5 (required); view: the "
        "fraction watched, 0..1 (default 1); like, dislike, watchlist, click: none")
    ts: EventTime | None = Field(None, description="when: ISO 8601 with its offset, or a "
                                 "number of seconds since 1970-01-01 UTC; from 1970 to "
                                 "before 2100 (default: now; a time ahead of the server's "
                                 "is now)")
    event_id: TextId | None = Field(
        None, description="your id of the event: the same event_id twice is stored once")
    recommendation_id: TextId | None = \
        Field(None, description="the recommendation_id of the answer that led to it")

    @field_validator("value")
    @classmethod
    def _value_fits_the_type(cls, value: float | None, info: ValidationInfo) -> float | None:
        kind = info.data.get("type")
        if kind == "rating" and (value is None or not 0 <= value <= 5):
            raise ValueError("a rating needs a value from 0 to 5")
        if kind == "view" and value is not None and not 0 <= value <= 1:
            raise ValueError("a view's value is the fraction watched, from 0 to 1")
        if kind in ("like", "dislike", "watchlist", "click") and value is not None:
            raise ValueError(f"a {kind} takes no value")
        return value


_USER_ID = TypeAdapter(UserId)


def user_id(user: str) -> str:
    """``user`` as a viewer id (a path's or a body's), or a 400 saying what one is."""
    try:
        return _USER_ID.validate_python(user)
    except ValidationError:
        raise InvalidParameter("user", "a user id is 1 to 200 characters, without '/', "
                               "control, bidi or line-separator characters; got "
                               f"{user[:80]!r}") from None


def event_from(engine: Any, event: EventIn, now: float, known: Known | None = None,
               tally: dict[str, int] | None = None) -> Event:
    """A validated event, its film found exactly (``film_for_data``; ``known``, ``tally``
    as there): what ``POST /events`` and ``recommender events import`` store. A time
    ahead of the server's clock is taken as now (else newest for ever)."""
    film = event.film if isinstance(event.film, str) else event.film.model_dump(exclude_none=True)
    film_id = film_for_data(engine, film, known, tally=tally)
    ts = min(event.ts.timestamp(), now) if event.ts is not None else now
    return Event(user=user_id(event.user), film_id=film_id, type=event.type,
                 value=event.value, ts=ts, event_id=event.event_id or "",
                 recommendation_id=event.recommendation_id)


class EventBatch(BaseModel):
    """``POST /events``: ``{"events": [...]}`` (or one event as the whole body)."""

    model_config = ConfigDict(extra="forbid")

    events: list[Any] = Field(min_length=1, description="up to 1,000 events (EventIn)")


class UserRecommendationParams(QueryParams):
    include_seen: bool = Field(False, description="include films the viewer has seen")


class RowsParams(FilterParams):
    rows: int = Field(3, ge=1, le=10, description="rows, one per recent liked film")
    k: int = Field(DEFAULT_K, ge=1, le=50, description="films in each row")
    mode: Mode | None = None


class HistoryParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(50, ge=1, le=1000, description="events, newest first")


class TrendingParams(FilterParams):
    k: int = Field(DEFAULT_K, ge=1, description="how many films, 1..100")
    offset: int = Field(0, ge=0, description="results to skip first; offset + k <= 1000")
    window_days: float | None = Field(None, gt=0, le=3650, allow_inf_nan=False,
                                      description="count events of this many days back "
                                      "(default RECOMMENDER_TRENDING_WINDOW_DAYS, 14)")
    exclude: list[str] = Field(default_factory=list)


_FIELD_NAMES = frozenset().union(*(
    model.model_fields for model in list(globals().values())
    if isinstance(model, type) and issubclass(model, BaseModel) and model is not BaseModel))
"""Every field of this module's models (an error's ``parameter`` is a path of them): found,
not listed by hand."""


Model = TypeVar("Model", bound=BaseModel)


def parse_args(model: type[Model], args: Any) -> Model:
    """Validate a query string (a werkzeug MultiDict) against ``model``.

    List parameters may be comma-separated or repeated (empty items are skipped);
    any other empty value is refused like any other invalid one.
    """
    data: dict[str, Any] = {}
    for name in args:
        if name in LIST_FIELDS:
            data[name] = [v.strip() for raw in args.getlist(name) for v in raw.split(",")
                          if v.strip()]
        elif len(args.getlist(name)) > 1:
            raise InvalidParameter(name, f"{name} is given {len(args.getlist(name))} times; "
                                   "give it once")
        else:
            data[name] = args.get(name, "").strip()
    return parse(model, data, lax=True)


def parse(model: type[Model], body: Any, *, lax: bool = False) -> Model:
    """Validate ``body`` against ``model``; the first problem becomes an InvalidParameter."""
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = error["loc"]
        # the parameter is the path of field names; indices and union tags go to the message
        names = _FIELD_NAMES | model.model_fields.keys()  # a model of another module's too
        location = ".".join(str(p) for p in loc if isinstance(p, str) and p in names)
        location = location or "body"
        what = "parameter" if lax else "field"
        if loc and loc[0] in ("positive", "negative") and len(loc) > 1:
            message = (f"{loc[0]}[{loc[1]}] must be a non-blank title, {{\"id\": str}} or "
                       f"{{\"title\": str, \"year\": int}}: {error['msg']}")
        elif error["type"] == "extra_forbidden":
            allowed = ", ".join(model.model_fields) if len(error["loc"]) == 1 else \
                ", ".join(Filters.model_fields)
            location = ".".join(str(p) for p in loc) or "(empty name)"
            message = f"unknown {what} {location!r}; allowed: {allowed}"
        elif error["type"] == "missing":
            message = f"{location} is required"
        elif error["type"] == "model_type":
            message = "the body must be a JSON object"
        else:
            message = f"{location}: {error['msg'].removeprefix('Value error, ')}"
        raise InvalidParameter(location, message) from None
