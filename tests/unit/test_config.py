from pathlib import Path

import pytest

from recommender.config import Settings


def test_defaults():
    s = Settings.from_env({})
    assert s.index == Path("models/seeds")
    assert s.model == ""  # the index's own model; a build's by the catalog's language
    assert (s.host, s.port) == ("127.0.0.1", 8000)


def test_environment_overrides_defaults_and_flags_override_environment():
    env = {"RECOMMENDER_PORT": "9000", "RECOMMENDER_INDEX": "/srv/idx",
           "RECOMMENDER_MODEL": "/models/multilingual"}
    s = Settings.from_env(env)
    assert (s.port, s.index, s.model) == (9000, Path("/srv/idx"), "/models/multilingual")
    s = Settings.from_env(env, port=9100, model=None)
    assert s.port == 9100
    assert s.model == "/models/multilingual"  # None means "flag not given"


def test_bad_integer_in_environment_names_the_variable():
    with pytest.raises(ValueError, match="RECOMMENDER_PORT must be an integer"):
        Settings.from_env({"RECOMMENDER_PORT": "eighty"})


def test_settings_are_frozen():
    with pytest.raises(AttributeError):
        Settings().port = 1  # type: ignore[misc]


def test_torch_threads_split_the_cores_between_workers():
    assert Settings(torch_threads=3).effective_torch_threads() == 3
    assert Settings(workers=1000).effective_torch_threads() == 1
