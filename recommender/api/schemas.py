"""The JSON bodies the API accepts, as pydantic models.

They validate requests (unknown fields and wrong types are refused, naming the field)
and describe them (``model_json_schema``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictStr,
    ValidationError,
    WithJsonSchema,
)

from recommender.api import event_schemas
from recommender.api.event_schemas import (  # noqa: F401 - callers' names
    EventBatch,
    EventIn,
    FilmItem,
    JsonInt,
    NonBlank,
    UserId,
    event_from,
    user_id,
)
from recommender.api.facet_schemas import Country
from recommender.api.patterns import NOT_BLANK
from recommender.config import Mode
from recommender.errors import InvalidParameter
from recommender.search.expressions import MAX_CHARS as MAX_FILTER_CHARS
from recommender.search.query import DEFAULT_K, FILTERS, MAX_AGE, MAX_LIST_LIMIT

Number = StrictFloat  # a JSON number: ints are accepted, strings are not


# -- query parameters of the GET routes -------------------------------------------------
# Read in lax mode: a query string holds text, so "5" is the integer 5.


class ContextParams(BaseModel):
    """Who is asking, for what may be shown them: the viewer's country and age limit
    (overriding what the viewer stored) and a filter expression."""

    model_config = ConfigDict(extra="forbid")

    filter: str | None = Field(None, min_length=1, max_length=MAX_FILTER_CHARS,
                               description=FILTERS["filter"])
    country: Country | None = Field(None, description=FILTERS["country"] +
                                    "; overrides the viewer's")
    max_age: int | None = Field(None, ge=0, le=MAX_AGE,
                                description=FILTERS["max_age"] + "; overrides the viewer's")


class FilmParams(ContextParams):
    """``GET /films/{id}``: the film, where the context may see it."""

    user: UserId | None = Field(None, description="the viewer asking: their stored context")


class ListParams(FilmParams):

    offset: int = Field(0, ge=0, description="films to skip")
    limit: int = Field(50, ge=1, le=MAX_LIST_LIMIT, description="films to return")


class FilterParams(ContextParams):
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


class ContextIn(BaseModel):
    """The viewer's context in a JSON body: it overrides what the viewer has stored."""

    model_config = ConfigDict(extra="forbid")

    country: Country | None = Field(None, description=FILTERS["country"])
    max_age: Annotated[JsonInt, Field(ge=0, le=MAX_AGE), WithJsonSchema(
        {"type": "integer", "minimum": 0, "maximum": MAX_AGE})] | None = Field(
        None, description=FILTERS["max_age"])


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
    filter: StrictStr | None = Field(None, min_length=1, max_length=MAX_FILTER_CHARS,
                                     description=FILTERS["filter"])
    context: ContextIn | None = Field(None, description="the viewer's country and max_age")

    def items(self, name: str) -> list[Any]:
        """``positive`` or ``negative`` as the engine takes them (strings and dicts)."""
        return [i if isinstance(i, str) else i.model_dump(exclude_none=True)
                for i in getattr(self, name)]


MAX_RANK = 500
"""Films ``POST /users/{user}/rank`` orders at most."""


class RankRequest(BaseModel):
    """``POST /users/{user}/rank``: the films given, in this viewer's order."""

    model_config = ConfigDict(extra="forbid")

    films: list[NonBlank] = Field(min_length=1, max_length=MAX_RANK,
                                  description="film ids, 1 to 500")
    context: ContextIn | None = Field(None, description="the viewer's country and max_age")
    filter: StrictStr | None = Field(None, min_length=1, max_length=MAX_FILTER_CHARS,
                                     description=FILTERS["filter"])


class BatchRequest(BaseModel):
    """``POST /recommend/batch``: each request is answered as if sent alone."""

    model_config = ConfigDict(extra="forbid")

    requests: list[dict[str, Any]] = Field(
        min_length=1, description="request bodies of POST /recommend; each is validated "
        "and answered on its own")


class MapParams(FilmParams):

    limit: int = Field(10_000, ge=1, le=20_000, description="points at most (an even "
                       "sample of the catalog where it is larger)")
    color_by: Literal["genre", "year"] = Field("genre", description="what groups the "
                                               "points: first genre, or decade")


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
    model.model_fields for model in [*globals().values(), *vars(event_schemas).values()]
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
