import json

import pytest

from recommender.errors import FilmNotFound, InvalidParameter, TitleNotFound
from recommender.search.engine import QueryOptions
from recommender.search.query import relevance_floor
from tests.conftest import ROCKY_IDS, ROOT


@pytest.mark.parametrize("rocky", ROCKY_IDS)
def test_every_rocky_film_has_rocky_films_as_nearest_neighbours(engine, rocky):
    top4 = [r.film.id for r in engine.similar(rocky, QueryOptions(k=4)).results]
    assert len(top4) == 4
    assert rocky not in top4
    assert len(set(top4) & set(ROCKY_IDS)) >= 3


def test_a_film_is_never_in_its_own_results(engine):
    for film in engine.index.films:
        ids = [r.film.id for r in engine.similar(film.id, QueryOptions(k=100)).results]
        assert film.id not in ids
        assert len(ids) == len(engine.index) - 1


def test_semantic_scores_are_cosine_similarities_best_first(engine):
    import numpy as np

    results = engine.similar("rocky-1976", QueryOptions(k=7, mode="semantic")).results
    scores = [r.score for r in results]
    assert scores == sorted(scores, reverse=True)
    # each score is the cosine of the two films' vectors, computed here from scratch
    films = engine.index.films
    vectors = engine.index.faiss_index.reconstruct_n(0, len(films))
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    source = unit[engine.index.row_of["rocky-1976"]]
    expected = {f.id: float(unit[i] @ source) for i, f in enumerate(films)}
    for result in results:
        assert result.score == pytest.approx(expected[result.film.id], abs=1e-5)
        assert result.semantic == result.score
    best = sorted((v, k) for k, v in expected.items() if k != "rocky-1976")[::-1][:7]
    assert [r.film.id for r in results] == [k for _, k in best]


def test_hybrid_scores_are_the_fusion_of_the_two_rankings(engine):
    """The default mode's score is not a cosine: a weighted reciprocal-rank fusion
    scaled so that first in both rankings is 1.0."""
    hybrid = engine.similar("rocky-1976", QueryOptions(k=7)).results
    semantic = [r.film.id for r in engine.similar(
        "rocky-1976", QueryOptions(k=7, mode="semantic")).results]
    lexical = [r.film.id for r in engine.similar(
        "rocky-1976", QueryOptions(k=7, mode="lexical")).results]
    weight, rrf_k = engine.settings.semantic_weight, engine.settings.rrf_k
    best = weight / (rrf_k + 1) + (1 - weight) / (rrf_k + 1)
    for result in hybrid:
        fused = sum(w / (rrf_k + ranking.index(result.film.id) + 1)
                    for w, ranking in ((weight, semantic), (1 - weight, lexical))
                    if result.film.id in ranking)
        assert result.score == pytest.approx(fused / best, abs=1e-4)


@pytest.mark.parametrize("query, expected", [
    ("karate", "the-karate-kid-1984"),
    ("poker", "lucky-you-2007"),
    ("a boxer fights a Russian", "rocky-iv-1985"),
    ("løb olympisk guld", "chariots-of-fire-1981"),
])
def test_search_puts_the_matching_film_first(engine, query, expected):
    assert engine.search(query, QueryOptions(k=3)).results[0].film.id == expected


def test_title_query_echoes_the_resolution(engine):
    page = engine.similar_by_title("rocky 2", options=QueryOptions(k=3))
    assert page.query["resolved"]["id"] == "rocky-ii-1979"
    assert page.query["match"] == "exact"
    assert "rocky-ii-1979" not in [r.film.id for r in page.results]


def test_year_filters_are_applied_inside_the_search(engine):
    page = engine.similar("rocky-1976", QueryOptions(k=10, year_min=1980, year_max=1989))
    years = [r.film.year for r in page.results]
    assert years and all(1980 <= y <= 1989 for y in years)
    # every 1980s film of the catalog is there: the filter didn't trim a short list
    assert len(years) == sum(1 for f in engine.index.films if 1980 <= (f.year or 0) <= 1989)


def test_offset_pages_through_the_same_ranking(engine):
    everything = [r.film.id for r in engine.similar("rocky-1976", QueryOptions(k=7)).results]
    first = engine.similar("rocky-1976", QueryOptions(k=3))
    second = engine.similar("rocky-1976", QueryOptions(k=3, offset=3))
    last = engine.similar("rocky-1976", QueryOptions(k=3, offset=6))
    assert [r.film.id for r in first.results + second.results + last.results] == everything
    assert first.has_more and second.has_more and not last.has_more
    assert engine.similar("rocky-1976", QueryOptions(k=3, offset=50)).results == []


@pytest.mark.parametrize("options, parameter", [
    (QueryOptions(k=0), "k"), (QueryOptions(k=101), "k"), (QueryOptions(offset=-1), "offset"),
])
def test_bad_options(engine, options, parameter):
    with pytest.raises(InvalidParameter) as info:
        engine.similar("rocky-1976", options)
    assert info.value.parameter == parameter


def test_bad_queries(engine):
    with pytest.raises(FilmNotFound):
        engine.similar("no-such-film")
    with pytest.raises(TitleNotFound):
        engine.similar_by_title("Zzyzx")
    with pytest.raises(InvalidParameter, match="non-empty"):
        engine.search("   ")
    with pytest.raises(InvalidParameter, match="limit is 1000"):
        engine.search("x" * 1001)


NONSENSE = json.loads((ROOT / "seeds" / "labels" / "nonsense.json").read_text())["queries"]


@pytest.fixture(scope="module")
def floored(engine):
    """The seeds' engine with a floor of 0.5 (MiniLM, the tests' model, records none for
    Danish: its nonsense and descriptions overlap there; tests/system/test_netflix.py
    checks the floor it records for English)."""
    import dataclasses

    from recommender.search.engine import Engine

    return Engine(engine.index, engine.embedder,
                  dataclasses.replace(engine.settings, relevance_floor=0.5))


@pytest.mark.parametrize("q", NONSENSE[:6])
def test_nonsense_is_close_to_nothing(floored, q):
    """Issue 37: gibberish ranked the whole catalog, the first at 0.900. Under the floor
    the answer says nothing is close: no results, the nearest few under ``nearest``."""
    page = floored.search(q, QueryOptions(k=5))
    assert page.results == [] and not page.has_more
    nearest = page.extra["nearest"]
    assert 1 <= len(nearest) <= 3
    assert page.query["relevance_floor"] == 0.5
    assert all(n["scores"]["semantic"] < 0.5 for n in nearest)


@pytest.mark.parametrize("q", ["bokser", "poker", "olympisk guld", "karate"])
def test_words_that_match_a_film_keep_its_results_whatever_the_cosine(floored, q):
    page = floored.search(q, QueryOptions(k=3))
    assert page.results and "nearest" not in page.extra
    assert "relevance_floor" not in page.query
    # the vectors alone, the same query under the floor: nothing close
    assert floored.search(q, QueryOptions(k=3, mode="semantic")).results == []


def test_the_floor_is_the_index_models_for_its_language_unless_set(engine):
    from recommender.embedding.models import model_spec

    assert engine.settings.relevance_floor is None
    floor = relevance_floor(engine.index, engine.settings)
    assert floor == model_spec(engine.index.model).relevance_floor("da") == 0
    assert engine.search(NONSENSE[0], QueryOptions(k=2)).results  # 0: no floor
    assert model_spec("all-MiniLM-L6-v2").relevance_floor("en") > 0.4
