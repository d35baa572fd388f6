"""Hot index swaps: reload, refusal of a bad version, fall-back at start, the watcher."""

import json
import os
import time

import pytest

from recommender.config import Settings
from recommender.distribution.live import LiveIndex
from recommender.errors import IndexUnavailable
from recommender.index.build import build_index
from recommender.index.store import CURRENT, MANIFEST


def _point(out, folder):
    link = out / ".tmp-link"
    os.symlink(os.path.relpath(folder, out), link)
    os.replace(link, out / CURRENT)


def test_reload_swaps_and_in_flight_requests_finish_on_the_old_index(two_versions, embedder):
    out, bigger = two_versions
    live = LiveIndex(Settings(index=out, reload_poll_seconds=0), embedder)
    live.start()
    in_flight = live.engine()
    assert live.reload().changed is False  # nothing moved
    build_index(bigger, embedder, out, progress=False)
    result = live.reload()
    assert result.changed and result.previous == in_flight.index.version
    assert len(live.engine().index) == 9
    # the request that took the old engine still answers from it, unchanged
    assert len(in_flight.index) == 8
    assert in_flight.similar("rocky-1976").results


def test_start_falls_back_to_the_newest_version_that_loads(two_versions, embedder):
    out, bigger = two_versions
    good = build_index(bigger, embedder, out, progress=False).path
    broken = out / "versions" / "99990101T000000.000000Z-broken"
    broken.mkdir()
    (broken / MANIFEST).write_text("{not json")
    _point(out, broken)
    live = LiveIndex(Settings(index=out, reload_poll_seconds=0), embedder)
    live.start()
    assert live.engine().index.path.resolve() == good.resolve()


def test_nothing_loadable_starts_unavailable(tmp_path, embedder):
    live = LiveIndex(Settings(index=tmp_path / "none"), embedder)
    live.start()
    with pytest.raises(IndexUnavailable, match="No index"):
        live.engine()


def _films_within(live: LiveIndex, films: int, seconds: float) -> int:
    """The serving version's film count once it is ``films``, or when ``seconds`` pass."""
    deadline = time.monotonic() + seconds
    while len(live.engine().index) != films and time.monotonic() < deadline:
        time.sleep(0.05)
    return len(live.engine().index)


def test_watcher_follows_the_current_pointer(two_versions, embedder):
    out, bigger = two_versions
    live = LiveIndex(Settings(index=out), embedder)
    live.start()
    live.watch(0.1)
    try:
        build_index(bigger, embedder, out, progress=False)
        assert _films_within(live, 9, seconds=10) == 9
    finally:
        live.stop()


def test_a_move_between_loading_and_watching_is_not_missed(two_versions, embedder):
    """A worker loads version 1; before its watcher starts, another process (a worker
    sharing a store's cache) moves `current` to version 2: the watcher must still swap."""
    out, bigger = two_versions
    live = LiveIndex(Settings(index=out, reload_jitter_seconds=0), embedder)
    live.start()
    assert len(live.engine().index) == 8
    build_index(bigger, embedder, out, progress=False)  # current moves: nobody watching yet
    live.watch(0.1)
    try:
        assert _films_within(live, 9, seconds=10) == 9
    finally:
        live.stop()


def test_a_refused_reload_is_retried_until_it_passes(two_versions, embedder):
    out, bigger = two_versions
    live = LiveIndex(Settings(index=out, reload_jitter_seconds=0), embedder)
    live.start()
    live.watch(0.1)
    try:
        bad = build_index(bigger, embedder, out, progress=False).path
        manifest_file = bad / MANIFEST
        good_manifest = manifest_file.read_text()
        manifest_file.write_text(json.dumps({**json.loads(good_manifest), "film_count": 99}))
        deadline = time.monotonic() + 10
        while live.reload_error is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert live.reload_error is not None and len(live.engine().index) == 8
        # mended in place: the pointer doesn't move, the watcher tries again by itself
        manifest_file.write_text(good_manifest)
        while len(live.engine().index) != 9 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(live.engine().index) == 9 and live.reload_error is None
    finally:
        live.stop()
