import numpy as np
import pytest

from recommender.catalog.films import Film
from recommender.embedding.embedder import Embedder, canonical_model_name, document_text


@pytest.mark.parametrize("text", ["karate", "a boxer fights a Russian", "Løb " * 300])
def test_the_query_fast_path_gives_the_models_own_vector(embedder, text):
    np.testing.assert_allclose(embedder.encoder.encode_query(text), embedder.encode([text])[0],
                               atol=1e-6)


def test_vectors_are_unit_length_and_batches_keep_their_order(embedder):
    texts = ["kort", "en meget længere tekst om en bokser fra Philadelphia " * 5, "mellem"]
    together = embedder.encode(texts)
    np.testing.assert_allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    for i, text in enumerate(texts):
        np.testing.assert_allclose(together[i], embedder.encode([text])[0], atol=1e-5)


def test_model_names():
    assert canonical_model_name("sentence-transformers/all-MiniLM-L6-v2") == "all-MiniLM-L6-v2"
    assert canonical_model_name(" /models/e5 ") == "/models/e5"


def test_document_text():
    film = Film(id="a", title="Rocky", synopsis="En bokser.", genres=("Drama", "Sport"))
    assert document_text(film) == "En bokser."
    assert document_text(film, ("title", "genres", "synopsis")) == \
        "Rocky. Drama, Sport. En bokser."
    with pytest.raises(ValueError, match="choose from"):
        document_text(film, ("poster",))


def test_a_fresh_model_embeds_queries_deterministically():
    """The first query of a new process must not run with dropout (training mode)."""
    fresh = Embedder(query_cache_size=0)
    first = fresh.encode_query("a heist in Spain")
    again = fresh.encode_query("a heist in Spain")
    np.testing.assert_array_equal(first, again)
    np.testing.assert_allclose(first, fresh.encode(["a heist in Spain"])[0], atol=1e-6)
