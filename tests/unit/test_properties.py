"""Property-based tests (hypothesis) of title normalisation and request parsing."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict

from recommender.api.schemas import QueryParams, RecommendRequest, SearchParams, parse, parse_args
from recommender.catalog.titles import normalize_title
from recommender.errors import InvalidParameter, RecommenderError

ROMAN = ["I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII", "XIII",
         "XIV", "XV", "XVI", "XVII", "XVIII", "XIX", "XX", "XXI", "XXIV", "XXIX", "XXXIX"]
VALUES = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 24, 29,
          39]
FAST = settings(max_examples=200, deadline=None, derandomize=True)


@FAST
@given(st.text())
def test_normalisation_is_idempotent(title):
    once = normalize_title(title)
    assert normalize_title(once) == once


@FAST
@given(st.text(), st.sampled_from([" ", "  ", "!", "...", " - ", "\t", ":"]))
def test_surrounding_punctuation_and_space_dont_matter(title, noise):
    assert normalize_title(noise + title + noise) == normalize_title(title)


@FAST
@given(st.text())
def test_case_doesnt_matter(title):
    assert normalize_title(title.upper().casefold()) == normalize_title(title.casefold())


@pytest.mark.parametrize("roman, value", list(zip(ROMAN, VALUES, strict=True)))
def test_roman_and_arabic_numerals_are_the_same(roman, value):
    assert normalize_title(f"Rocky {roman}") == normalize_title(f"rocky {value}")


@FAST
@given(st.text(alphabet="æøåÆØÅ", min_size=1))
def test_danish_letters_are_never_dropped(word):
    assert normalize_title(word)  # never folded away to nothing
    assert "ø" in normalize_title(word) or "ø" not in word.casefold()


@settings(max_examples=100, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_any_spelling_variant_of_a_seed_title_resolves_to_its_film(engine, data):
    film = data.draw(st.sampled_from(engine.index.films))
    title = data.draw(st.sampled_from([film.title, *film.aliases]))
    variant = "".join(c.upper() if data.draw(st.booleans()) else c.lower() for c in title)
    variant = data.draw(st.sampled_from(["", " ", "'", "("])) + variant + \
        data.draw(st.sampled_from(["", "!", " ", ")", "."]))
    assert engine.titles.resolve(variant).film.id == film.id


QUERY_ARGS = st.dictionaries(
    st.sampled_from(["q", "k", "offset", "year_min", "year_max", "mode", "genres", "exclude",
                     "min_score", "diversity", "explain", "language", "bogus"]),
    st.one_of(st.text(max_size=20), st.integers(-10**6, 10**6).map(str),
              st.floats(allow_nan=True).map(str), st.sampled_from(["true", "false", "hybrid"])),
)


@FAST
@given(QUERY_ARGS)
def test_query_parsing_accepts_or_names_the_parameter(args):
    try:
        params = parse_args(SearchParams, MultiDict(args))
    except InvalidParameter as exc:
        assert exc.parameter in args or exc.parameter == "q"
        return
    assert params.q.strip() and params.k >= 1 and params.offset >= 0
    assert 0 <= params.diversity <= 1
    if "k" in args:
        assert params.k == int(args["k"])


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)


@FAST
@given(st.one_of(JSON, st.dictionaries(st.sampled_from(list(RecommendRequest.model_fields)),
                                       JSON, max_size=5)))
def test_body_parsing_never_raises_anything_but_invalid_parameter(body):
    try:
        parse(RecommendRequest, body)
    except InvalidParameter as exc:
        assert exc.message and exc.parameter
    parse(QueryParams, {})  # defaults always parse


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=60))
def test_search_answers_any_text_or_refuses_it_clearly(engine, text):
    try:
        page = engine.search(text)
    except RecommenderError as exc:
        assert exc.status == 400
        return
    assert len(page.results) <= 10
