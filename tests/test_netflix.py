"""A real catalog: the Netflix titles CSV, built with the CSV column flags."""

import pytest

from recommender.cli import main
from recommender.engine import Engine, QueryOptions
from recommender.errors import AmbiguousTitle
from recommender.index import load_index
from tests.conftest import NETFLIX

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def netflix(tmp_path_factory, embedder, settings):
    if not NETFLIX.exists():
        pytest.skip(f"{NETFLIX} is absent: the Netflix catalog lives in ../shared/datasets")
    out = tmp_path_factory.mktemp("netflix") / "idx"
    code = main(["build", "--catalog", str(NETFLIX), "--out", str(out), "--quiet",
                 "--title-col", "Movie", "--text-col", "description",
                 "--year-col", "release_year", "--genres-col", "genre", "--language", "en"])
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
    assert [c["id"] for c in info.value.candidates] == ["consequences-2014",
                                                        "consequences-2014-2"]


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
