"""Experiments (recommender/viewers/experiments.py): each viewer's variant is a hash,
stable and split by the weights; the file is checked whole, naming line and field."""

import json
from collections import Counter

import pytest

from recommender.viewers.experiments import (
    Experiment,
    ExperimentsError,
    Variant,
    load_experiments,
)


def _experiment(name="x", weights=(1, 3)):
    return Experiment(name=name, surfaces=["user_recommendations"],
                      variants=[Variant(name=f"v{i}", weight=w) for i, w in enumerate(weights)])


def test_variants_split_by_their_weights_and_stay_put():
    experiment = _experiment()
    counts = Counter(experiment.variant_of(f"user-{i}").name for i in range(20_000))
    assert abs(counts["v0"] / 20_000 - 0.25) < 0.015  # 4.5 standard deviations
    assert all(experiment.variant_of(f"user-{i}") == _experiment().variant_of(f"user-{i}")
               for i in range(100))
    # another experiment splits the same viewers independently of this one
    other = _experiment("y", (1, 1))
    pairs = Counter((experiment.variant_of(f"u{i}").name, other.variant_of(f"u{i}").name)
                    for i in range(20_000))
    assert abs(pairs[("v0", "v0")] / 20_000 - 0.125) < 0.015
    assert {_experiment(weights=(0, 1)).variant_of(f"u{i}").name for i in range(200)} == {"v1"}


def test_the_line_named_is_the_fields(tmp_path):
    data = {"experiments": [{"name": "a", "surfaces": ["user_recommendations"],
                             "variants": [{"name": "c", "weight": 1},
                                          {"name": "t", "weight": 1,
                                           "ranking": {"popular_weight": -2}}]}]}
    path = tmp_path / "e.json"
    text = json.dumps(data, indent=2)
    path.write_text(text)
    line = next(i for i, row in enumerate(text.splitlines(), start=1) if "-2" in row)
    with pytest.raises(ExperimentsError) as error:
        load_experiments(path)
    assert f"line {line}, experiments[0].variants[1].ranking.popular_weight:" in str(error.value)


@pytest.mark.parametrize(("data", "says"), [
    ({"experiments": [{"name": "a", "surfaces": ["user_recommendations"],
                       "variants": [{"name": "c", "weight": 1}]}]}, "at least 2"),
    ({"experiments": [{"name": "a", "surfaces": ["nowhere"],
                       "variants": [{"name": "c", "weight": 1}, {"name": "d", "weight": 1}]}]},
     "experiments[0].surfaces[0]"),
    ({"experiments": [{"name": n, "surfaces": ["user_recommendations"],
                       "variants": [{"name": "c", "weight": 1}, {"name": "d", "weight": 1}]}
                      for n in ("a", "b")]}, "already in experiment 'a'"),
    ({"experiments": [{"name": "a", "surfaces": ["user_recommendations"],
                       "variants": [{"name": "c", "weight": 1}, {"name": "c", "weight": 1}]}]},
     "variant names must differ"),
    ({"experiments": [], "extra": 1}, "extra"),
])
def test_what_a_file_may_not_say(tmp_path, data, says):
    path = tmp_path / "e.json"
    path.write_text(json.dumps(data, indent=2))
    with pytest.raises(ExperimentsError, match="RECOMMENDER_EXPERIMENTS") as error:
        load_experiments(path)
    assert says in str(error.value)


def test_a_variant_can_weigh_what_comes_next():
    from recommender.viewers.experiments import Ranking

    ranking = Ranking.model_validate({"next_weight": 0.25})
    assert ranking.weights == {"next_weight": 0.25} and not ranking.default
    with pytest.raises(ValueError):
        Ranking.model_validate({"next_weight": -1})
