import numpy as np
import pytest

from recommender.index.lexical import Analyzer, LexicalIndex, catalog_language
from recommender.search.engine import QueryOptions
from tests.conftest import ROCKY_IDS


def test_danish_inflections_share_a_stem():
    da = Analyzer("da")
    assert da.terms("bokser") == da.terms("boksere") == da.terms("bokseren") == ["boks"]
    assert da.terms("og i at den") == []  # stopwords only


def test_english_stopwords_are_dropped_from_queries_on_a_danish_catalog():
    da = Analyzer("da")
    assert da.query_terms("a boy moves to California") == ["boy", "mov", "california"]


def test_language_without_a_stemmer_still_indexes_words():
    assert Analyzer("ja").terms("Tokyo Drift") == ["tokyo", "drift"]


def test_catalog_language(seed_catalog):
    assert catalog_language(seed_catalog.films) == "da"
    assert catalog_language(seed_catalog.films, "EN") == "en"
    assert catalog_language([]) == "en"


def test_saved_index_scores_like_the_built_one(tmp_path, seed_catalog):
    built = LexicalIndex.build(seed_catalog.films, "da")
    built.save(tmp_path)
    loaded = LexicalIndex.load(tmp_path)
    terms = built.analyzer.terms("Apollo Creed bokser")
    np.testing.assert_allclose(built.scores(terms), loaded.scores(terms))
    assert loaded.analyzer.language == "da"


@pytest.mark.parametrize("word", ["bokser", "boksere", "bokseren"])
def test_inflections_find_the_films_with_the_word(engine, word):
    results = engine.search(word, QueryOptions(k=2, mode="lexical")).results
    assert {r.film.id for r in results} == {"rocky-iv-1985", "rocky-v-1990"}  # "bokser"


@pytest.mark.parametrize("mode", ["lexical", "hybrid"])
@pytest.mark.parametrize("query, expected", [
    ("Apollo Creed", ROCKY_IDS),  # named in Rocky, II, III and IV
    ("Ivan Drago", ["rocky-iv-1985"]),
    ("mr. Miyagi", ["the-karate-kid-1984"]),
])
def test_a_character_name_puts_a_film_naming_it_first(engine, mode, query, expected):
    first = engine.search(query, QueryOptions(k=3, mode=mode)).results[0].film
    assert first.id in expected
    assert query.split()[-1].lower() in first.synopsis.lower()


@pytest.mark.parametrize("query", ["ok", "a", "og i at den", "the of and", "xyzzy qwerty",
                                   "!!!", "12"])
@pytest.mark.parametrize("mode", ["semantic", "lexical", "hybrid"])
def test_odd_queries_give_a_valid_result(engine, query, mode):
    page = engine.search(query, QueryOptions(k=5, mode=mode))
    assert len(page.results) <= 5
    if mode == "lexical" and not engine.index.lexical.known_terms(query):
        assert page.results == [] and not page.has_more


def test_english_query_about_danish_synopses(engine):
    top3 = [r.film.id for r in engine.search("a boxer fights a Russian",
                                             QueryOptions(k=3)).results]
    assert "rocky-iv-1985" in top3


def test_hybrid_results_carry_both_scores(engine):
    results = engine.search("Ivan Drago bokser", QueryOptions(k=8)).results
    first = results[0].to_dict()
    assert first["id"] == "rocky-iv-1985"
    assert set(first["scores"]) == {"semantic", "lexical"}
    assert 0 < first["score"] <= 1
    assert [r.score for r in results] == sorted((r.score for r in results), reverse=True)


def test_lexical_similar_films_share_words(engine):
    """The four other Rocky films, each by words it shares (an empty page passed before)."""
    page = engine.similar("rocky-iv-1985", QueryOptions(k=4, mode="lexical", explain=True))
    assert {r.film.id for r in page.results} == set(ROCKY_IDS) - {"rocky-iv-1985"}
    for result in page.results:
        assert result.lexical is not None and result.lexical > 0
        assert result.to_dict()["explanation"]["shared_words"], result.film.id


def _both(corpus, analyzer):
    from recommender.index.lexical import TermCounts

    vocabulary: dict[str, int] = {}
    counted = [TermCounts.of(doc, vocabulary) for doc in corpus]
    return (LexicalIndex.from_terms(corpus, analyzer),
            LexicalIndex.from_counts(counted, vocabulary, analyzer))


def test_counts_score_as_bm25s_does(seed_catalog):
    """The live catalog's BM25 (arrays from kept counts) is bm25s's own, term for term:
    every seed word as a query, every film's score equal to float rounding."""
    from recommender.index.lexical import lexical_text

    analyzer = Analyzer("da")
    corpus = [analyzer.terms(lexical_text(f)) for f in seed_catalog.films]
    reference, counted = _both(corpus, analyzer)
    words = sorted({t for doc in corpus for t in doc})
    for word in words:
        assert np.allclose(reference.scores([word]), counted.scores([word]), atol=1e-5), word
    assert np.allclose(reference.scores(words[:7]), counted.scores(words[:7]), atol=1e-5)
    text = lexical_text(seed_catalog.films[0])
    assert reference.distinctive_terms(text) == counted.distinctive_terms(text)
    assert counted.scores(["ordetfindesikke"]).sum() == 0


def test_a_word_no_film_holds_any_longer_is_unknown_again():
    """The counts' vocabulary only grows (a withdrawn film's words stay in it); the index
    made from them knows only the words its films hold."""
    from recommender.index.lexical import TermCounts

    analyzer = Analyzer("en")
    vocabulary: dict[str, int] = {}
    gone = TermCounts.of(analyzer.terms("a zeppelin over the harbour"), vocabulary)
    kept = TermCounts.of(analyzer.terms("a boxer in the harbour"), vocabulary)
    index = LexicalIndex.from_counts([kept], vocabulary, analyzer)
    assert gone.length and index.known_terms("zeppelin harbour") == ["harbour"]
    assert index.scores(["zeppelin"]).tolist() == [0.0]
    empty = LexicalIndex.from_counts([], vocabulary, analyzer)
    assert empty.scores(["harbour"]).shape == (0,)
