"""The ranking's values chosen on the service's own log (recommender/viewers/tuning.py):
a backtest at cut-offs near the log's end, its choices recorded with the model, applied
by the Personalizer, and never over a setting the operator gave."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from recommender.config import Settings
from recommender.storage import open_store
from recommender.viewers import collaborative
from recommender.viewers.personal import open_personalizer
from recommender.viewers.timeline import Log
from recommender.viewers.training import train_set, tuned_summary
from recommender.viewers.tuning import MIN_VIEWERS, TUNABLE, applied, tune

DAY = 86_400.0
FILMS = [f"film-{i}" for i in range(120)]


def drifting_log(days: float, seed: int = 0) -> list[tuple[str, str, str, float, float]]:
    """Viewers who watch what is hot when they come: each film is hot for a few
    percent of the log's span, one after another, and a viewer comes back several
    times; ``days`` is the whole span (the log's pace)."""
    rng = np.random.default_rng(seed)
    events = []
    for viewer in range(400):
        for visit in np.sort(rng.uniform(0.0, 1.0, size=4)):
            hot = visit * len(FILMS)  # the film hot at this moment of the log
            for film in rng.normal(hot, 4.0, size=5).round().astype(int) % len(FILMS):
                events.append((f"v{viewer}", FILMS[film], "rating",
                               float(rng.choice([3.0, 4.0, 5.0])),
                               1.6e9 + (visit + rng.uniform(0, 0.002)) * days * DAY))
    return events


def test_a_log_of_another_pace_chooses_other_half_lives():
    slow = tune(Log.read_from(drifting_log(3650.0), FILMS), Settings())
    fast = tune(Log.read_from(drifting_log(36.5), FILMS), Settings())
    assert slow.viewers >= MIN_VIEWERS and fast.viewers >= MIN_VIEWERS
    assert set(slow.values) == set(fast.values) == set(TUNABLE)
    # the same viewers, pressed into a hundredth of the time: what "recent" means moves
    assert fast.values["popular_half_life_days"] < slow.values["popular_half_life_days"]
    # popularity drifts: the backtest finds more with it than without the choosing
    assert slow.hit_rate >= slow.settings_hit_rate and fast.hit_rate > fast.settings_hit_rate
    assert 0.0 <= fast.decayed_popularity_hit_rate <= 1.0 and fast.candidates > 10


def test_a_setting_given_explicitly_is_never_tuned_over():
    settings = Settings.from_env({"RECOMMENDER_POPULAR_HALF_LIFE_DAYS": "42"})
    assert "popular_half_life_days" in settings.explicit
    tuned = tune(Log.read_from(drifting_log(36.5), FILMS), settings)
    assert "popular_half_life_days" not in tuned.values and tuned.values
    # the others of its group are still chosen, around the value held
    assert tuned.values["popular_weight"] != settings.popular_weight
    served = applied(settings, {**tuned.values, "popular_half_life_days": 1.0})
    assert served.popular_half_life_days == 42.0
    assert served.popular_weight == tuned.values["popular_weight"]


def test_too_few_viewers_keep_the_settings_and_say_why():
    tuned = tune(Log.read_from(drifting_log(36.5)[:60], FILMS), Settings())  # 3 viewers
    assert tuned.values == {} and tuned.why_not and "viewer-cuts" in tuned.why_not
    assert "not tuned" in tuned_summary(tuned)


def test_the_model_records_what_was_chosen_and_the_ranking_serves_with_it(tmp_path):
    report, tuned = train_set(tmp_path, drifting_log(36.5), FILMS, Settings())
    assert report.path is not None and tuned is not None and tuned.values
    manifest = json.loads((report.path / "manifest.json").read_text())
    assert manifest["tuned"]["values"] == tuned.values
    model = collaborative.load(report.path)
    assert model.tuned == tuned.values and model.summary()["tuned"]["viewers"] == tuned.viewers
    store = open_store(f"sqlite:///{tmp_path / 'events.sqlite3'}")
    try:
        personal = open_personalizer(Settings(index=tmp_path), store=store,
                                     model=lambda: model)
        served = personal.ranking_settings()
        for name, value in tuned.values.items():
            assert math.isclose(getattr(served, name), value)
        mine = open_personalizer(Settings.from_env({"RECOMMENDER_NEXT_WEIGHT": "0.3"},
                                                   index=tmp_path),
                                 store=store, model=lambda: model)
        assert mine.ranking_settings().next_weight == 0.3
    finally:
        store.close()


def test_no_tuning_leaves_the_manifest_without_choices(tmp_path):
    report, tuned = train_set(tmp_path, drifting_log(36.5), FILMS, Settings(), tuning=False)
    assert tuned is None and report.path is not None
    assert collaborative.load(report.path).tuned == {}
    assert "--no-tune" in tuned_summary(None)


@pytest.mark.parametrize("pressed", [1.0, 1 / 50])
def test_the_backtest_is_the_same_whatever_the_clock_unit(pressed):
    """Half-life candidates are in units of the log's own pace: the same log pressed in
    time chooses the same weights and proportionate half-lives."""
    base = tune(Log.read_from(drifting_log(365.0), FILMS), Settings(popular_half_life_days=1e-3,
                                                                     history_half_life_days=0))
    other = tune(Log.read_from(drifting_log(365.0 * pressed), FILMS),
                 Settings(popular_half_life_days=1e-3, history_half_life_days=0))
    assert other.values["popular_weight"] == base.values["popular_weight"]
    assert math.isclose(other.values["popular_half_life_days"],
                        base.values["popular_half_life_days"] * pressed, rel_tol=0.05,
                        abs_tol=2e-3)


@pytest.mark.parametrize("values", [{"popular_weight": "lots"}, {"popular_half_life_days": -1},
                                    {"index": 2.0}, {"popular_weight": True}, "nonsense"])
def test_a_manifest_whose_tuned_values_no_setting_may_take_is_refused_at_load(tmp_path, values):
    """An edited manifest fails the version once, where it is loaded (the server keeps
    the model it has and says why), not every request that would rank with it."""
    from recommender.errors import IndexMismatch

    report, _ = train_set(tmp_path, drifting_log(36.5), FILMS, Settings())
    manifest_path = report.path / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["tuned"]["values"] = values
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(IndexMismatch, match="tuned values can't serve"):
        collaborative.load(report.path)
