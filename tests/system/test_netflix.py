"""A real catalog: the Netflix titles CSV, built with the CSV column flags (its kind,
rating and people mapped, its other columns kept as attributes)."""

import json
import re

import pytest

from recommender.cli.main import main
from recommender.errors import AmbiguousTitle, TitleNotFound
from recommender.index.store import load_index
from recommender.search.engine import Engine, QueryOptions
from recommender.search.query import relevance_floor
from tests.conftest import NETFLIX, ROOT

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def netflix(tmp_path_factory, embedder, settings):
    if not NETFLIX.exists():
        pytest.skip(f"{NETFLIX} is absent: the Netflix catalog lives in ../shared/datasets")
    out = tmp_path_factory.mktemp("netflix") / "idx"
    code = main(["build", "--catalog", str(NETFLIX), "--out", str(out), "--quiet",
                 "--title-col", "Movie", "--text-col", "description",
                 "--year-col", "release_year", "--genres-col", "genre", "--language", "en",
                 "--kind-col", "type", "--maturity-col", "Rating",
                 "--people-col", "director=director", "--people-col", "cast=cast"])
    assert code == 0
    return Engine(load_index(out, expected_model=embedder.name), embedder, settings)


def test_builds_every_title(netflix):
    assert len(netflix.index) == 7787
    assert len(netflix.index.row_of) == 7787  # derived ids are unique
    film = netflix.film("rocky-1976")
    assert film.year == 1976 and "Dramas" in film.genres and film.language == "en"


def test_answers_queries(netflix):
    rockys = [r.film.title for r in netflix.similar_by_title("rocky",
                                                             options=QueryOptions(k=5)).results]
    assert sum(t.startswith("Rocky") for t in rockys) >= 3
    found = [r.film.title for r in netflix.search("zombie apocalypse survivors",
                                                  QueryOptions(k=3)).results]
    assert "The Walking Dead" in found
    narcos = netflix.similar_by_title("Narcos", options=QueryOptions(k=1)).results
    assert narcos[0].film.title == "Narcos: Mexico"


def test_shared_titles_need_a_year(netflix):
    with pytest.raises(AmbiguousTitle) as info:
        netflix.similar_by_title("u turn")  # "U Turn" (2016) and "U-Turn" (2020)
    assert [c["year"] for c in info.value.candidates] == [2016, 2020]
    page = netflix.similar_by_title("U-turn", year=2020)
    assert page.query["resolved"]["id"] == "u-turn-2020"
    # two films of one title and one year: only their ids tell them apart
    with pytest.raises(AmbiguousTitle) as info:
        netflix.similar_by_title("Consequences", year=2014)
    ids = [c["id"] for c in info.value.candidates]
    # derived ids of a title and year two films share: suffixed by the synopsis, which
    # these two share too (real dirt: one film listed twice), so then by order
    assert len(set(ids)) == 2 and re.fullmatch(r"consequences-2014-[0-9a-f]{6}", ids[0]) \
        and ids[1] == ids[0] + "-2", ids


def test_more_like_this_table_answers_as_the_pipeline(netflix):
    assert netflix.precompute_similar()
    table, netflix.neighbours = netflix.neighbours, None
    try:
        sample = netflix.index.films[::40]
        pipeline = {(f.id, o): netflix.similar(f.id, QueryOptions(k=10, offset=o)).to_dict()
                    for f in sample for o in (0, 89)}
    finally:
        netflix.neighbours = table
    assert table.depth == 99 and not table.answers(QueryOptions(k=10, offset=90))
    for (film_id, offset), expected in pipeline.items():
        options = QueryOptions(k=10, offset=offset)
        assert table.answers(options)
        assert netflix.similar(film_id, options).to_dict() == expected


@pytest.mark.server
def test_worst_requests_answer_within_the_budget_through_the_real_server(netflix):
    """Each of tests/hostile.py's requests, at Netflix's scale, through `recommender serve`:
    an answer (2xx or 4xx) or a 503 timeout, never a 500, and never after the budget."""
    import time

    from tests.hostile import timed, worst_requests
    from tests.ops import call, running_server

    budget = 3.0  # the default RECOMMENDER_REQUEST_BUDGET_SECONDS
    out = netflix.index.path.parent.parent
    with running_server(out, workers=2) as (base, _):
        films = call(base + "/films?limit=1000")[1]["films"]
        requests = worst_requests([f["id"] for f in films], [f["title"] for f in films])
        started = time.monotonic()
        rows = [timed(base, request, timeout=budget + 10) for request in requests]
        assert time.monotonic() - started < len(requests) * (budget + 1)
        for row in rows:
            assert row["status"] is not None, row
            assert row["status"] < 500 or row["code"] == "timeout", row
            assert row["seconds"] < budget + 1.0, row
        by_name = {row["request"]: row for row in rows}
        assert by_name["similar, offset 5000, diversity 0.5"]["status"] == 400
        assert by_name["50,000 nested [ in a body"]["code"] == "invalid_json"


def test_the_map_of_the_catalog_is_every_film_and_gzipped(netflix, settings):
    import gzip
    import json

    from recommender.api.app import create_app
    from recommender.distribution.live import LiveIndex

    client = create_app(settings, live=LiveIndex.serving(netflix)).test_client()
    packed = client.get("/map", headers={"Accept-Encoding": "gzip"})
    assert packed.headers["Content-Encoding"] == "gzip"
    body = json.loads(gzip.decompress(packed.data))
    assert len(body["points"]) == body["total"] == 7787
    assert len(packed.data) < len(json.dumps(body)) / 3  # 208 KB for 817 KB here
    assert len(client.get("/map?limit=1000").get_json()["points"]) <= 1000


def test_generated_viewers_are_served_better_per_user_than_by_trending_or_random(
        netflix, tmp_path):
    import json
    import subprocess
    import sys

    from tests.conftest import ROOT

    log = tmp_path / "viewers.jsonl"
    made = subprocess.run([sys.executable, "scripts/gen_viewers.py", "--index",
                           str(netflix.index.path), "--out", str(log), "--viewers", "300"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert made.returncode == 0, made.stderr
    out = tmp_path / "report.json"
    assert main(["eval-users", "--events", str(log), "--index", str(netflix.index.path),
                 "--quiet", "--out", str(out)]) == 0
    models = json.loads(out.read_text(encoding="utf-8"))["models"]
    per_user, trending, random = (models[m] for m in ("per-user (hybrid)", "trending",
                                                       "random"))
    assert per_user["hit_rate"] > 2 * trending["hit_rate"] > 2 * random["hit_rate"]
    # not the same films for all: what is popular now is one of the ranking's sources
    # (counted in full for these viewers, all active this week), so fewer distinct films
    # than before it (12x trending's here, was 20x+), still an order of magnitude more
    assert per_user["coverage"] > 10 * trending["coverage"]


def test_did_you_mean_only_for_titles(netflix):
    """Issue 37: the README's own query was offered "13TH", "A 2nd Chance", "A 3 Minute Hug".
    Now a labelled near miss of a title finds its film, a description gets nothing."""
    labels = json.loads((ROOT / "seeds" / "labels" / "titles.json").read_text())
    missed = []
    for case in labels["netflix"]:
        try:
            offered = [netflix.titles.resolve(case["q"]).film.title]
        except TitleNotFound as exc:
            offered = [s["title"] for s in exc.suggestions]
        if case["title"] not in offered:
            missed.append((case["q"], offered))
    assert missed == []
    for q in ["a boxer fights a Russian", *labels["descriptions"]]:
        with pytest.raises(TitleNotFound) as info:
            netflix.titles.resolve(q)
        assert info.value.suggestions == [], q


def test_nonsense_finds_nothing_close_and_descriptions_keep_their_results(netflix):
    """Issue 37: a nonsense query ranked every film, the first at 0.900. The floor the
    index recorded for its model and language (MiniLM, English) tells the two apart."""
    assert relevance_floor(netflix.index, netflix.settings) == pytest.approx(0.439)
    nonsense = json.loads((ROOT / "seeds" / "labels" / "nonsense.json").read_text())
    told = {q: netflix.search(q, QueryOptions(k=5)).results for q in nonsense["queries"]}
    # only where a word of it matches a film: "xxyyzz 123" The Taking of Pelham 123; and,
    # since a film's people are its words too, "yolo swag bae xD" Doona Bae's films and
    # "wubba lubba dub dub zorp" Dub Taylor's
    matched = [q for q, results in told.items() if results]
    assert all(any(r.lexical for r in told[q]) for q in matched), matched
    assert set(matched) <= {"xxyyzz 123", "yolo swag bae xD", "wubba lubba dub dub zorp"}, \
        matched
    labelled = json.loads((ROOT / "seeds" / "labels" / "netflix.json").read_text())
    lost = [q["q"] for q in labelled["queries"]
            if "q" in q and not netflix.search(q["q"], QueryOptions(k=5)).results]
    assert lost == []


def test_its_kind_rating_and_people_are_mapped_and_the_rest_kept(netflix):
    film = netflix.film("rocky-1976")
    assert (film.kind, film.maturity) == ("film", "PG")
    assert {p.name for p in film.people if p.role == "director"} == {"John G. Avildsen"}
    assert "Sylvester Stallone" in {p.name for p in film.people if p.role == "cast"}
    assert film.attributes["country"] == "United States" and "date_added" in film.attributes
    kinds = {f.kind for f in netflix.index.films}
    assert kinds == {"film", "series"}


def test_a_film_by_a_director_is_found_by_words_and_by_filter(netflix):
    found = netflix.search("a film by Martin Scorsese", QueryOptions(k=5, mode="hybrid"))
    by_him = [r.film for r in found.results
              if "Martin Scorsese" in {p.name for p in r.film.people}]
    assert len(by_him) >= 3, [r.film.title for r in found.results]
    options = QueryOptions.from_fields({"filter": 'people.director has "Martin Scorsese" '
                                                  'and kind = "film"', "k": 50}, "hybrid")
    listed = netflix.search("crime", options).results
    assert listed and all("Martin Scorsese" in {p.name for p in r.film.people
                                                if p.role == "director"} for r in listed)


def test_a_kids_profile_never_gets_a_mature_title(netflix):
    options = QueryOptions.from_fields({"max_age": 7, "k": 50}, "hybrid")
    for query in ("a violent gangster takes revenge", "a serial killer", "teen romance"):
        ratings = {r.film.maturity for r in netflix.search(query, options).results}
        assert ratings and ratings <= {"G", "PG", "TV-Y", "TV-Y7", "TV-Y7-FV", "TV-G", "TV-PG"}

