"""Catalog changes as operators send them: checked by the catalog file's own rules, folded
into a file for a build, and the windows that hide a film."""

from __future__ import annotations

import time

import numpy as np
import pytest

from recommender.catalog.changes import (
    MAX_BULK,
    Change,
    film_from_body,
    fold,
    next_boundary,
    parse_requests,
    patched,
)
from recommender.catalog.films import load_catalog
from recommender.errors import InvalidParameter
from tests.conftest import SEEDS

BODY = {"title": "Creed", "synopsis": "Adonis bliver trænet af Rocky.", "year": 2015}


def test_a_body_becomes_a_film_with_its_window_in_utc():
    film = film_from_body("creed-2015", {**BODY, "available_from": "2026-12-05T10:00:00+01:00",
                                         "available_until": "2027-01-31T23:59:59Z"})
    assert (film.available_from, film.available_until) == ("2026-12-05T09:00:00Z",
                                                           "2027-01-31T23:59:59Z")
    start, end = film.window()
    assert not film.available_at(start - 1) and film.available_at(start)
    assert film.available_at(end - 1) and not film.available_at(end)
    assert film_from_body("creed-2015", BODY).available_at(time.time())  # no window: always


@pytest.mark.parametrize(("body", "field", "words"), [
    ({"synopsis": "x"}, "title", "title is required"),
    ({"title": "x"}, "synopsis", "synopsis is required"),
    ({**BODY, "synopsis": "  "}, "synopsis", "empty"),
    ({**BODY, "year": "1999"}, "year", "integer"),
    ({**BODY, "titel": "x"}, "titel", "unknown field 'titel'"),
    ({**BODY, "id": "other"}, "id", "not the path's"),
    ({**BODY, "available_until": "2026-12-31"}, "available_until", "time zone"),
    ({**BODY, "available_until": "soon"}, "available_until", "ISO 8601"),
    ({**BODY, "available_from": "2026-12-31T00:00:00Z",
      "available_until": "2026-12-01T00:00:00Z"}, "available_until", "must be after"),
    ({**BODY, "genres": "Drama"}, "genres", "list of strings"),
    ({**BODY, "image_url": "javascript:alert(1)"}, "image_url", "http(s)"),
])
def test_a_bad_body_names_its_field(body, field, words):
    with pytest.raises(InvalidParameter) as caught:
        film_from_body("creed-2015", body)
    assert caught.value.parameter == field
    assert words in caught.value.message


def test_an_id_outside_the_pattern_is_refused():
    for bad in ("Creed", "creed_2015", "-creed", "créed", ""):
        with pytest.raises(InvalidParameter, match=r"\[a-z0-9-\]\+"):
            film_from_body(bad, BODY)


def test_a_patch_changes_only_its_fields_and_is_checked_whole():
    film = film_from_body("creed-2015", BODY)
    later = patched(film, {"available_until": "2026-12-31T23:59:59Z", "year": None})
    assert later.available_until == "2026-12-31T23:59:59Z" and later.year is None
    assert later.title == film.title and later.synopsis == film.synopsis
    with pytest.raises(InvalidParameter, match="title is required"):
        patched(film, {"title": None})
    with pytest.raises(InvalidParameter):
        patched(film, {})


def test_bulk_changes_are_parsed_whole_and_a_film_at_most_once():
    requests = parse_requests([
        {"op": "put", "film": {"id": "creed-2015", **BODY}},
        {"op": "patch", "id": "rocky-1976", "fields": {"year": 1977}},
        {"op": "delete", "id": "rocky-v-1990"}])
    assert [(r.op, r.film_id) for r in requests] == [
        ("put", "creed-2015"), ("patch", "rocky-1976"), ("delete", "rocky-v-1990")]
    for items, where in [
            ([{"op": "put", "film": {"id": "a"}}, {"op": "delete", "id": "a"}], "changes[1].id"),
            ([{"op": "upsert", "id": "a"}], "changes[0].op"),
            ([{"op": "delete", "id": "a", "film": {}}], "changes[0].film"),
            ([{"op": "patch", "id": "a"}], "changes[0].fields"),
            ([{"op": "put", "film": {"id": "Bad Id"}}], "changes[0].film.id"),
            ([], "changes")]:
        with pytest.raises(InvalidParameter) as caught:
            parse_requests(items)
        assert caught.value.parameter == where
    assert MAX_BULK == 1000


def test_a_build_folds_the_changes_in_its_range_into_the_file():
    catalog = load_catalog(SEEDS)
    creed = film_from_body("creed-2015", BODY)
    rocky = patched(catalog.by_id["rocky-1976"], {"year": 1977})
    changes = {"creed-2015": Change(3, "creed-2015", creed, None, None, 0.0),
               "rocky-1976": Change(4, "rocky-1976", rocky, None, None, 0.0),
               "rocky-v-1990": Change(5, "rocky-v-1990", None, None, None, 0.0),
               "lucky-you-2007": Change(1, "lucky-you-2007", None, None, None, 0.0)}
    folded = fold(catalog, changes, 2, 5)  # change 1 is older than the baseline
    assert folded.changes == {"from": 2, "through": 5, "added": 1, "replaced": 1,
                              "withdrawn": 1}
    assert "creed-2015" in folded.by_id and "rocky-v-1990" not in folded.by_id
    assert folded.by_id["rocky-1976"].year == 1977 and "lucky-you-2007" in folded.by_id
    assert folded.sha256 != catalog.sha256 != fold(catalog, changes, 2, 4).sha256


def test_the_next_window_edge_is_the_soonest_future_one():
    now = 1_790_000_000.0  # 2026-09-21
    films = [film_from_body("a", {**BODY, "available_until": "2027-01-15T08:00:00Z"}),
             film_from_body("b", {**BODY, "available_from": "2027-01-15T07:00:00Z"}),
             film_from_body("c", BODY)]
    assert next_boundary(films, now) == films[1].window()[0]
    assert next_boundary(films[2:], now) == float("inf")
    assert np.isinf(next_boundary([], now))
