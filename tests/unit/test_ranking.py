"""Ranking functions against brute force on small hand-made arrays."""

import itertools

import numpy as np
import pytest

from recommender.ranking import maximal_marginal_relevance, reciprocal_rank_fusion, top_k


def test_top_k_known_answer():
    scores = np.array([0.1, 0.9, 0.5, 0.9, -0.2])
    assert top_k(scores, 3) == [(1, 0.9), (3, 0.9), (2, 0.5)]  # ties by row
    assert top_k(scores, 10, min_score=0.0) == [(1, 0.9), (3, 0.9), (2, 0.5), (0, 0.1)]
    allowed = np.array([True, False, True, False, True])
    assert top_k(scores, 2, allowed) == [(2, 0.5), (0, 0.1)]
    assert top_k(scores, 0) == []
    assert top_k(scores, 3, np.zeros(5, bool)) == []


@pytest.mark.parametrize("seed", range(20))
def test_top_k_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 5, size=30).astype(float)  # many ties
    allowed = rng.random(30) < 0.7
    k = int(rng.integers(1, 35))
    brute = sorted(((i, s) for i, s in enumerate(scores) if allowed[i]),
                   key=lambda t: (-t[1], t[0]))[:k]
    assert top_k(scores, k, allowed) == [(i, float(s)) for i, s in brute]


def test_rrf_known_answer():
    fused = reciprocal_rank_fusion([[1, 2, 3], [3, 1]], rrf_k=1)
    # row 1: 1/2 + 1/3, row 3: 1/4 + 1/2, row 2: 1/3; the best possible is 1/2 + 1/2
    assert [row for row, _ in fused] == [1, 3, 2]
    np.testing.assert_allclose([s for _, s in fused], [5 / 6, 3 / 4, 1 / 3])


def test_rrf_first_everywhere_scores_one_and_weights_count():
    fused = dict(reciprocal_rank_fusion([[7, 8], [7, 9]], weights=[0.4, 0.6]))
    assert fused[7] == pytest.approx(1.0)
    assert fused[9] > fused[8]  # second in the heavier list beats second in the lighter


@pytest.mark.parametrize("seed", range(10))
def test_rrf_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    lists = [list(rng.permutation(12)[: rng.integers(0, 12)]) for _ in range(2)]
    weights = [0.4, 0.6]
    expected = {}
    for ranking, w in zip(lists, weights, strict=True):
        for rank, row in enumerate(ranking, start=1):
            expected[row] = expected.get(row, 0) + w / (10 + rank)
    got = reciprocal_rank_fusion(lists, weights, rrf_k=10)
    assert [r for r, _ in got] == sorted(expected, key=lambda r: (-expected[r], r))
    for row, score in got:
        assert score == pytest.approx(expected[row] / (1.0 / 11))
    assert all(a[1] >= b[1] for a, b in itertools.pairwise(got))


def _unit(rows):
    v = np.asarray(rows, dtype=float)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_mmr_without_diversity_keeps_the_relevance_order():
    rng = np.random.default_rng(3)
    rel = rng.random(10)
    assert maximal_marginal_relevance(rel, _unit(rng.normal(size=(10, 4))), 10, 0.0) == \
        list(np.argsort(-rel))


def test_mmr_known_answer():
    # two near-duplicates and one different film
    vectors = _unit([[1, 0], [0.99, 0.14], [0, 1]])
    rel = np.array([1.0, 0.95, 0.5])
    assert maximal_marginal_relevance(rel, vectors, 3, 0.0) == [0, 1, 2]
    assert maximal_marginal_relevance(rel, vectors, 3, 0.7) == [0, 2, 1]
    assert maximal_marginal_relevance(rel, vectors, 2, 1.0) == [0, 2]


@pytest.mark.parametrize("seed", range(10))
def test_mmr_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    rel = rng.random(8)
    vectors = _unit(rng.normal(size=(8, 5)))
    d = 0.5
    scaled = (rel - rel.min()) / (rel.max() - rel.min())
    picked = [int(np.argmax(scaled))]
    while len(picked) < 8:
        rest = [i for i in range(8) if i not in picked]
        gain = {i: (1 - d) * scaled[i] - d * max(vectors[i] @ vectors[j] for j in picked)
                for i in rest}
        picked.append(max(rest, key=lambda i: (gain[i], scaled[i], -i)))
    assert maximal_marginal_relevance(rel, vectors, 8, d) == picked
