"""The viewers' events as the API takes them: an event, a batch of them, the viewer's id
(what ``POST /events`` and ``recommender events import`` check alike)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
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
from recommender.errors import InvalidParameter
from recommender.search.engine import Known, film_for_data
from recommender.storage import Event

Number = StrictFloat


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
