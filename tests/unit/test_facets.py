"""What a film carries for the rules, checked where it enters: kind, maturity on a scale,
people, territories, attributes; a CSV's unmapped columns kept as attributes."""

from __future__ import annotations

import json

import pytest

from recommender.catalog.facets import MaturityScale, Territory, check_country
from recommender.catalog.films import CsvColumns, film_from_fields, load_catalog
from recommender.errors import CatalogError

BASE = {"id": "a", "title": "A", "synopsis": "s"}


def test_the_default_scale_knows_both_shared_catalogs_ratings():
    scale = MaturityScale.load(None)
    netflix = ["TV-MA", "TV-14", "TV-PG", "R", "PG-13", "TV-Y", "TV-Y7", "PG", "TV-G", "NR",
               "G", "TV-Y7-FV", "UR", "NC-17"]
    imdb = ["U", "A", "UA", "R", "PG-13", "PG", "Passed", "G", "Approved", "TV-PG", "GP",
            "TV-14", "16", "TV-MA", "Unrated", "U/A"]
    assert all(scale.canonical(r) is not None for r in netflix + imdb)
    assert scale.age("TV-MA") == 17 and scale.age("G") == 0 and scale.age("NR") is None
    assert scale.canonical("tv-ma") == "TV-MA"


def test_an_operators_scale_replaces_the_default(tmp_path):
    path = tmp_path / "scale.json"
    path.write_text(json.dumps({"Tilladt for alle": 0, "7": 7, "15": 15, "Unrated": None}))
    scale = MaturityScale.load(path)
    film = film_from_fields("t", {**BASE, "maturity": "tilladt for alle"}, scale)
    assert film.maturity == "Tilladt for alle"
    with pytest.raises(CatalogError, match="unknown maturity rating 'TV-MA'"):
        film_from_fields("t", {**BASE, "maturity": "TV-MA"}, scale)
    path.write_text(json.dumps({"X": 30}))
    with pytest.raises(ValueError, match="from 0 to 21"):
        MaturityScale.load(path)


def test_a_film_keeps_its_facets_through_its_dict():
    film = film_from_fields("t", {**BASE, "kind": "TV Show", "maturity": "pg-13",
                                  "people": [{"name": " Tom  Hanks ", "role": "Cast"},
                                             {"name": "Nolan", "role": "director"}],
                                  "territories": [{"country": "dk",
                                                   "from": "2026-01-01T01:00:00+01:00"}],
                                  "attributes": {"original": True, "tags": ["a", "b"]}})
    assert film.kind == "series" and film.maturity == "PG-13"
    assert [p.name for p in film.people] == ["Tom Hanks", "Nolan"]
    assert film.territories == (Territory("DK", "2026-01-01T00:00:00Z", None),)
    assert film.attributes == {"original": True, "tags": ("a", "b")}
    again = type(film).from_dict(json.loads(json.dumps(film.to_dict())))
    assert again == film and again.attributes == film.attributes


@pytest.mark.parametrize("fields, field", [
    ({"kind": "podcast"}, "kind"),
    ({"territories": [{"country": "ZZ"}]}, "territories[0].country"),
    ({"territories": [{"country": "DK", "until": "2026-01-01"}]}, "territories[0].until"),
    ({"territories": {"country": "DK"}}, "territories"),
    ({"people": [{"name": "x", "role": "Lead Actor!"}]}, "people[0].role"),
    ({"attributes": {"x": None, "y": float("nan")}}, "attributes.y"),
    ({"attributes": {"a-b": 1}}, "attributes.a-b"),
    ({"attributes": {"big": 10**400}}, "attributes.big"),  # was a 500: no float holds it
])
def test_a_bad_facet_names_its_field(fields, field):
    with pytest.raises(CatalogError) as refused:
        film_from_fields("t", {**BASE, **fields})
    assert refused.value.field == field


def test_countries_are_iso_codes():
    assert check_country(" se ") == "SE"
    with pytest.raises(ValueError):
        check_country("Sweden")


def test_a_csv_maps_kind_maturity_people_and_keeps_the_rest(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("id,title,synopsis,type,Rating,director,cast,No of Votes,studio\n"
                    'a,A,s,Movie,R,Ann Lee,"Bo, Cy",1200,Nordisk\n'
                    "b,B,s,TV Show,,,,,\n", encoding="utf-8")
    columns = CsvColumns(id="id", kind="type", maturity="Rating",
                         people=(("director", "director"), ("cast", "cast")))
    a, b = load_catalog(path, columns).films
    assert (a.kind, a.maturity, b.kind, b.maturity) == ("film", "R", "series", None)
    assert [(p.name, p.role) for p in a.people] == [("Ann Lee", "director"), ("Bo", "cast"),
                                                    ("Cy", "cast")]
    assert a.attributes == {"No_of_Votes": 1200, "studio": "Nordisk"} and b.attributes == {}


def test_a_jsonl_catalogs_unknown_fields_are_kept_as_attributes(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text(json.dumps({**BASE, "studio": "Nordisk", "attributes": {"x": 1},
                                "imdb-id": "tt1", "review": "r" * 5000,
                                "ratings": [{"source": "x"}], "wide": None}) + "\n")
    kept = load_catalog(path).films[0].attributes
    # what no attribute can hold (an object, null) is left out, never a refused film
    assert kept == {"studio": "Nordisk", "x": 1, "imdb_id": "tt1", "review": "r" * 1000}


def test_a_wide_csv_keeps_at_most_fifty_columns_and_refuses_no_row(tmp_path):
    path = tmp_path / "wide.csv"
    names = [f"c{i}" for i in range(80)]
    path.write_text("id,title,synopsis," + ",".join(names) + "\n" +
                    "a,A,s," + ",".join(["x" * 3000] * 80) + "\n", encoding="utf-8")
    film = load_catalog(path, CsvColumns(id="id")).films[0]
    assert len(film.attributes) == 50 and film.attributes["c0"] == "x" * 1000
