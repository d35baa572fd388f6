import dataclasses
import json

import pytest

from recommender.catalog.films import CsvColumns, Film, load_catalog, slugify
from recommender.errors import CatalogError
from tests.conftest import SEEDS, SHARED


def test_seed_catalog_has_the_eight_films(seed_catalog):
    assert len(seed_catalog) == 8
    titles = [f.title for f in seed_catalog.films]
    assert titles == ["Rocky", "Rocky II", "The Karate Kid", "Rocky IV", "Rocky III",
                      "Chariots of Fire", "Rocky V", "Lucky You"]
    assert all(f.language == "da" for f in seed_catalog.films)
    assert seed_catalog.by_id["chariots-of-fire-1981"].aliases == ("Triumfens timer",)
    assert seed_catalog.by_id["the-karate-kid-1984"].aliases == ("Karate Kid",)


def test_seed_synopses_are_word_for_word():
    source = SHARED / "seeds" / "000_f9a23bdac72408c3.txt"
    if not source.exists():
        pytest.skip(f"{source} is absent")
    paragraphs = [p.strip() for p in source.read_text("utf-8").split("\n\n") if p.strip()]
    films = load_catalog(SEEDS).films
    assert [f.synopsis for f in films] == paragraphs
    assert "Eric Lindell" in films[5].synopsis  # not silently corrected


def test_checksum_changes_with_content(tmp_path):
    a = tmp_path / "a.jsonl"
    a.write_text(SEEDS.read_text("utf-8"), "utf-8")
    first = load_catalog(a).sha256
    assert load_catalog(a).sha256 == first
    a.write_text(SEEDS.read_text("utf-8").replace("Rocky", "Rocki", 1), "utf-8")
    assert load_catalog(a).sha256 != first


@pytest.mark.parametrize("text, slug", [
    ("The Karate Kid", "the-karate-kid"), ("Rocky II", "rocky-ii"),
    ("Triumfens timer", "triumfens-timer"), ("Blå mænd & Ørkenen", "blaa-maend-oerkenen"),
    ("Amélie!", "amelie"), ("  ", ""),
])
def test_slugify(text, slug):
    assert slugify(text) == slug


def test_csv_ids_are_derived_from_title_and_year_and_made_unique(tmp_path):
    rows = ["The Karate Kid,A boy learns karate.,1984,\"Action, Drama\"\n",
            "The Karate Kid,A remake in Beijing.,2010,Action\n",
            "The Karate Kid,A mistaken duplicate.,1984,\n",
            "Untitled,No year.,,\n",
            "Untitled,No year.,,\n"]  # a true duplicate: told apart by order
    path = tmp_path / "c.csv"
    path.write_text("name,plot,yr,tags\n" + "".join(rows), "utf-8")
    columns = CsvColumns(title="name", text="plot", year="yr", genres="tags")
    catalog = load_catalog(path, columns)
    ids = [f.id for f in catalog.films]
    # a title and year shared: each film's suffix is its own synopsis's, not its place
    assert ids[1] == "the-karate-kid-2010"
    assert ids[0].startswith("the-karate-kid-1984-") and ids[2].startswith("the-karate-kid-1984-")
    assert len(ids[0]) == len("the-karate-kid-1984-") + 6 and ids[0] != ids[2]
    assert ids[3:] == [ids[3], ids[3] + "-2"] and ids[3].startswith("untitled-")
    assert catalog.derived_ids == (5, 4)
    assert catalog.films[0].genres == ("Action", "Drama")
    assert catalog.films[3].year is None
    # reordered: every film keeps its id
    path.write_text("name,plot,yr,tags\n" + "".join([rows[2], rows[1], rows[0], *rows[3:]]),
                    "utf-8")
    again = {f.synopsis: f.id for f in load_catalog(path, columns).films}
    assert again == {f.synopsis: f.id for f in catalog.films}


def test_a_title_without_latin_letters_gets_a_stable_id(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("title,synopsis,year\n千と千尋,A girl in a spirit world.,2001\n"
                    "東京物語,An old couple visits Tokyo.,2001\n", "utf-8")
    films = load_catalog(path, CsvColumns(year="year")).films
    assert {f.id.rsplit("-", 1)[0] for f in films} == {"film-2001"}
    assert len({f.id for f in films}) == 2


def test_csv_id_column_is_used_when_given(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("id,title,synopsis\ns1,Rocky,A boxer.\n", "utf-8")
    assert load_catalog(path, CsvColumns(id="id")).films[0].id == "s1"


def _jsonl(tmp_path, lines):
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines),
                    "utf-8")
    return path


GOOD = {"id": "a-1", "title": "A", "synopsis": "Some text."}


@pytest.mark.parametrize("lines, line, field, message", [
    ([GOOD, {**GOOD, "title": "B"}], 2, "id", "duplicate id 'a-1' (first on line 1)"),
    ([GOOD, {"id": "b", "title": "B", "synopsis": "  "}], 2, "synopsis", "synopsis is empty"),
    ([GOOD, {"id": "b", "title": "", "synopsis": "x"}], 2, "title", "title is empty"),
    ([GOOD, '{"id": "b", "title": '], 2, None, "malformed JSON"),
    ([GOOD, "[1, 2]"], 2, None, "must be a JSON object"),
    ([{"title": "A", "synopsis": "x"}], 1, "id", "id is missing"),
    ([{**GOOD, "id": "Not Safe"}], 1, "id", "not URL-safe"),
    ([{**GOOD, "year": "1976"}], 1, "year", "year must be an integer"),
    ([{**GOOD, "year": 20000}], 1, "year", "outside"),
    ([{**GOOD, "aliases": "Rocky"}], 1, "aliases", "list of strings"),
])
def test_bad_jsonl_is_refused_naming_line_and_field(tmp_path, lines, line, field, message):
    with pytest.raises(CatalogError) as info:
        load_catalog(_jsonl(tmp_path, lines))
    assert info.value.line == line
    assert info.value.field == field
    assert message in info.value.message
    assert f"line {line}" in info.value.message


def test_csv_unknown_column_is_refused_naming_the_flag(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("title,description\nA,b\n", "utf-8")
    with pytest.raises(CatalogError) as info:
        load_catalog(path, CsvColumns(title="Movie", text="description"))
    assert info.value.field == "Movie"
    assert "--title-col" in info.value.message
    assert "title, description" in info.value.message


def test_csv_bad_year_and_empty_text_name_the_line(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("title,plot,yr\nA,text,1999\nB,text,soon\n", "utf-8")
    with pytest.raises(CatalogError) as info:
        load_catalog(path, CsvColumns(text="plot", year="yr"))
    assert (info.value.line, info.value.field) == (3, "yr")
    path.write_text("title,plot\nA,text\nB,\n", "utf-8")
    with pytest.raises(CatalogError) as info:
        load_catalog(path, CsvColumns(text="plot"))
    assert (info.value.line, info.value.field) == (3, "plot")


def test_csv_row_with_too_many_fields_is_refused(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("title,synopsis\nA,text,extra\n", "utf-8")
    with pytest.raises(CatalogError, match="line 2"):
        load_catalog(path)


def test_missing_empty_and_non_utf8_files(tmp_path):
    with pytest.raises(CatalogError, match="no such catalog file"):
        load_catalog(tmp_path / "nope.jsonl")
    (tmp_path / "empty.jsonl").write_text("\n", "utf-8")
    with pytest.raises(CatalogError, match="holds no films"):
        load_catalog(tmp_path / "empty.jsonl")
    (tmp_path / "latin1.jsonl").write_bytes('{"title": "Bl\xe5"}'.encode("latin-1"))
    with pytest.raises(CatalogError, match="not UTF-8"):
        load_catalog(tmp_path / "latin1.jsonl")


def test_a_film_as_a_dict_has_every_field_and_reads_back(seed_catalog):
    film = seed_catalog.films[0]
    d = film.to_dict()
    assert set(d) == {f.name for f in dataclasses.fields(Film)}
    assert Film.from_dict(json.loads(json.dumps(d))) == film


def test_skip_leaves_out_each_bad_row_and_records_it(write_catalog):
    good = {"id": "a-1", "title": "A", "synopsis": "Text."}
    path = write_catalog([good, {**good, "id": "Bad Id"}, {**good, "id": "b-2", "year": "x"},
                          {**good, "title": "A again"}, {**good, "id": "c-3"}])
    path.write_text(path.read_text("utf-8") + "{not json\n[1]\n", "utf-8")
    with pytest.raises(CatalogError, match=r"line 2, field 'id'.*--on-invalid skip"):
        load_catalog(path)
    catalog = load_catalog(path, on_invalid="skip")
    assert [f.id for f in catalog.films] == ["a-1", "c-3"]
    assert [(r["line"], r["field"]) for r in catalog.rejects] == [
        (2, "id"), (3, "year"), (4, "id"), (6, None), (7, None)]
    assert catalog.rejects[0]["value"] == "Bad Id" and catalog.rejects[1]["value"] == "x"
    assert catalog.rejects[2]["reason"] == "duplicate id 'a-1' (first on line 1)"
    assert catalog.rejects[3]["value"] == "{not json"


def test_skip_with_no_valid_row_is_refused(write_catalog):
    path = write_catalog([{"id": "a-1", "title": "", "synopsis": "Text."}])
    with pytest.raises(CatalogError, match="none of the catalog's 1 rows is valid"):
        load_catalog(path, on_invalid="skip")


def test_skip_reads_on_after_a_malformed_csv_row(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text('title,synopsis\nA,"one"\nB,"bad"quote"\nC,three\n', "utf-8")
    catalog = load_catalog(path, on_invalid="skip")
    assert [f.title for f in catalog.films] == ["A", "C"]
    assert catalog.rejects[0]["line"] == 3 and "malformed CSV" in catalog.rejects[0]["reason"]


def test_imdb_top_1000_builds_with_skip():
    path = SHARED / "datasets" / "imdb_top_1000.csv"
    if not path.exists():
        pytest.skip(f"{path} is absent (it lives in ../shared/datasets, never committed)")
    columns = CsvColumns(title="Series_Title", text="Overview", year="Released_Year",
                         genres="Genres")
    with pytest.raises(CatalogError, match="line 968, field 'Released_Year'"):
        load_catalog(path, columns)
    catalog = load_catalog(path, columns, on_invalid="skip")
    assert len(catalog) == 999
    assert catalog.rejects == [{"line": 968, "field": "Released_Year", "value": "PG",
                                "reason": "year must be an integer, got 'PG'"}]


def test_an_image_url_is_kept_where_it_is_safe_to_show(write_catalog):
    good = {"id": "a-1", "title": "A", "synopsis": "Text."}
    path = write_catalog([{**good, "image_url": "https://example.org/a.jpg"},
                          {**good, "id": "b-2", "image_url": "/static/b.jpg"},
                          {**good, "id": "c-3", "image_url": "javascript:alert(1)"},
                          {**good, "id": "d-4", "image_url": "https://x/\" onerror=\"y"},
                          {**good, "id": "e-5"}])
    catalog = load_catalog(path, on_invalid="skip")
    assert [(f.id, f.image_url) for f in catalog.films] == [
        ("a-1", "https://example.org/a.jpg"), ("b-2", "/static/b.jpg"), ("e-5", None)]
    assert [(r["line"], r["field"]) for r in catalog.rejects] == [(3, "image_url"),
                                                                   (4, "image_url")]


def test_the_imdb_posters_come_from_the_image_column():
    path = SHARED / "datasets" / "imdb_top_1000.csv"
    if not path.exists():
        pytest.skip(f"{path} is absent (it lives in ../shared/datasets, never committed)")
    columns = CsvColumns(title="Series_Title", text="Overview", year="Released_Year",
                         genres="Genres", image="Poster_Link")
    catalog = load_catalog(path, columns, on_invalid="skip")
    assert catalog.films[0].title == "The Shawshank Redemption"
    assert catalog.films[0].image_url.startswith("https://m.media-amazon.com/images/")
    assert sum(f.image_url is not None for f in catalog.films) == 999
