"""The JSON bodies the API accepts, as pydantic models.

They validate requests (unknown fields and wrong types are refused, naming
the field) and describe them (``model_json_schema``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
)

from recommender.errors import InvalidParameter
from recommender.query import DEFAULT_K

Number = StrictFloat  # a JSON number: ints are accepted, strings are not


class Filters(BaseModel):
    model_config = ConfigDict(extra="forbid")

    year_min: StrictInt | None = None
    year_max: StrictInt | None = None
    genres: list[StrictStr] = Field(default_factory=list, description="any of these genres")
    language: StrictStr | None = None


class RecommendRequest(BaseModel):
    """``POST /recommend``: films like the liked ones, unlike the disliked ones."""

    model_config = ConfigDict(extra="forbid")

    positive: list[Any] = Field(default_factory=list,
                                description='titles, {"id": ...} or {"title": ..., "year": ...}')
    negative: list[Any] = Field(default_factory=list)
    query: StrictStr | None = None
    strategy: Literal["average", "best_score"] = "average"
    mode: Literal["semantic", "lexical", "hybrid"] | None = None
    k: StrictInt = DEFAULT_K
    offset: StrictInt = 0
    filters: Filters = Field(default_factory=Filters)
    exclude: list[StrictStr] = Field(default_factory=list)
    min_score: Number | None = None
    diversity: Number = 0.0
    explain: StrictBool = False


class BatchRequest(BaseModel):
    """``POST /recommend/batch``: each request is answered as if sent alone."""

    model_config = ConfigDict(extra="forbid")

    requests: list[Any]


def parse(model: type[BaseModel], body: Any) -> Any:
    """Validate ``body`` against ``model``; the first problem becomes an InvalidParameter."""
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        error = exc.errors()[0]
        location = ".".join(str(part) for part in error["loc"]) or "body"
        if error["type"] == "extra_forbidden":
            allowed = ", ".join(model.model_fields) if len(error["loc"]) == 1 else \
                ", ".join(Filters.model_fields)
            message = f"unknown field {location!r}; allowed: {allowed}"
        elif error["type"] == "model_type":
            message = "the body must be a JSON object"
        else:
            message = f"{location}: {error['msg']}"
        raise InvalidParameter(location, message) from None
