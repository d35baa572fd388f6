"""What a film carries for the rules (kind, maturity, people, territories, attributes), as
the OpenAPI document states it: the same limits :mod:`recommender.catalog.facets` checks,
so a client's validator and the server agree on what a film may hold."""

from __future__ import annotations

from typing import Annotated, Any

import iso3166
from pydantic import Field, WithJsonSchema

from recommender.api.patterns import NOT_BLANK
from recommender.catalog import facets

COUNTRIES = sorted(iso3166.countries_by_alpha2)
COUNTRY_SCHEMA = {"type": "string", "enum": COUNTRIES + [c.lower() for c in COUNTRIES],
                  "description": "ISO 3166-1 alpha-2, e.g. DK"}
_MOMENT = {"type": "string", "format": "date-time"}

Country = Annotated[str, Field(min_length=2, max_length=2), WithJsonSchema(COUNTRY_SCHEMA)]
Kind = Annotated[str | None, WithJsonSchema(
    {"anyOf": [{"type": "string", "enum": sorted(facets.KIND_WORDS)}, {"type": "null"}],
     "description": "film or series (Movie and TV Show are read as those)"})]
Maturity = Annotated[str | None, WithJsonSchema(
    {"anyOf": [{"type": "string", "enum": sorted(facets.DEFAULT_SCALE)}, {"type": "null"}],
     "description": "a rating of the maturity scale (the default one's here; "
                    "RECOMMENDER_MATURITY_SCALE gives another)"})]
People = Annotated[list[dict[str, str]] | None, WithJsonSchema(
    {"anyOf": [{"type": "array", "maxItems": facets.MAX_PEOPLE, "items": {
        "type": "object", "additionalProperties": False, "required": ["name"], "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": facets.MAX_NAME_CHARS,
                     "pattern": NOT_BLANK},
            "role": {"type": "string", "pattern": facets.PERSON_ROLES_PATTERN.pattern,
                     "description": "director, cast, writer ... (default cast)"}}}},
        {"type": "null"}], "description": "directors and cast, found by words and filters"})]
Territories = Annotated[list[dict[str, Any]] | None, WithJsonSchema(
    {"anyOf": [{"type": "array", "maxItems": facets.MAX_TERRITORIES, "items": {
        "type": "object", "additionalProperties": False, "required": ["country"],
        "properties": {"country": COUNTRY_SCHEMA, "from": _MOMENT, "until": _MOMENT}}},
        {"type": "null"}],
     "description": "where and when it may be shown (from <= now < until); null: everywhere"})]
_VALUE = {"anyOf": [{"type": "string", "maxLength": facets.MAX_ATTRIBUTE_CHARS},
                    {"type": "number", "minimum": -facets.MAX_EXACT_INT,
                     "maximum": facets.MAX_EXACT_INT}, {"type": "boolean"},
                    {"type": "array", "maxItems": 100,
                     "items": {"type": "string", "maxLength": facets.MAX_NAME_CHARS}}]}
Attributes = Annotated[dict[str, Any] | None, WithJsonSchema(
    {"anyOf": [{"type": "object", "maxProperties": facets.MAX_ATTRIBUTES,
                "propertyNames": {"pattern": facets.ATTRIBUTE_NAME.pattern},
                "additionalProperties": _VALUE}, {"type": "null"}],
     "description": "the operator's own fields: string, number, boolean or list of strings"})]

