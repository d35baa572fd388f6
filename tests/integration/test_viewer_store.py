"""The viewers' side of an app without Flask: the event store opened on first use, once,
and again after a failure (at most once a second), with /ready's look at it."""

from __future__ import annotations

import dataclasses
import time

import pytest

from recommender.api.viewer_store import EVENTS_CHECK_SECONDS, ViewerStore, store_timeout
from recommender.distribution.live import LiveIndex
from recommender.errors import EventsUnavailable
from recommender.storage import Event
from tests.ops import free_port


def test_the_store_opens_once_on_first_use_and_says_it_answers(settings, engine, tmp_path):
    config = dataclasses.replace(settings, events_url=f"sqlite:///{tmp_path / 'e.sqlite3'}")
    viewers = ViewerStore(config, LiveIndex.serving(engine, config))
    assert viewers.personal is None and not (tmp_path / "e.sqlite3").exists()  # not yet
    personal = viewers.open()
    assert viewers.open() is personal and (tmp_path / "e.sqlite3").is_file()
    assert personal.store.add([Event("ann", "rocky-1976", "like", None, time.time())]) == \
        (1, 0)
    assert viewers.status() == {"status": "ok"}
    personal.store.close()


def test_an_unreachable_database_is_tried_again_at_most_once_a_second(settings, engine):
    url = f"postgresql://nobody@127.0.0.1:{free_port()}/none"  # nothing listens there
    config = dataclasses.replace(settings, events_url=url, request_budget_seconds=0.5)
    viewers = ViewerStore(config, LiveIndex.serving(engine, config))
    with pytest.raises(EventsUnavailable) as first:
        viewers.open()
    assert "RECOMMENDER_EVENTS_URL" in first.value.message and "127.0.0.1" not in \
        first.value.public_message
    failed_at = viewers.failed_at
    started = time.monotonic()
    with pytest.raises(EventsUnavailable):
        viewers.open()  # within the second: answered at once, the database not tried
    assert time.monotonic() - started < 0.05 and viewers.failed_at == failed_at
    assert viewers.status() == {"status": "unavailable", "retry_after": 2}
    time.sleep(EVENTS_CHECK_SECONDS)
    with pytest.raises(EventsUnavailable):
        viewers.open()
    assert viewers.failed_at > failed_at  # tried again once the second had passed


def test_a_request_waits_on_the_database_well_under_its_budget(settings):
    assert store_timeout(dataclasses.replace(settings, request_budget_seconds=3.0)) == \
        pytest.approx(1.8)
    assert store_timeout(dataclasses.replace(settings, request_budget_seconds=100.0)) == 10.0
    assert store_timeout(dataclasses.replace(settings, request_budget_seconds=0.0)) == \
        pytest.approx(1.8)  # no budget: the default of 3 s is assumed
