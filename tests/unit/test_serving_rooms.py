"""The serving rooms, each without Flask: the refusal value, the engine holder, the
version watcher's loop and the model follower."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from recommender.distribution.holder import EngineHolder
from recommender.distribution.model_follower import ModelFollower
from recommender.distribution.refusal import Refusal
from recommender.distribution.watcher import VersionWatcher
from recommender.errors import IndexMismatch, IndexUnavailable


def test_a_refusal_keeps_our_public_words_and_cuts_paths_from_others():
    ours = Refusal.of(IndexMismatch("built at /srv/private/idx/v1 with model x",
                                    public="built with model x"))
    assert ours == Refusal("built at /srv/private/idx/v1 with model x", "built with model x")
    theirs = Refusal.of(OSError("cannot load /srv/private/idx/onnx/model.onnx: [ONNXRuntime]"))
    assert theirs.message.startswith("cannot load /srv/private/")
    assert theirs.public == "cannot load model.onnx"
    assert "/srv" not in Refusal.of(RuntimeError("/a/b/c")).public
    framed = theirs.framed("version v2 refused (", ")")
    assert framed.public == "version v2 refused (cannot load model.onnx)"


def test_the_holder_says_why_it_has_nothing_then_swaps_in_one_step(engine):
    seen = []
    holder = EngineHolder()
    with pytest.raises(IndexUnavailable, match="nothing loaded yet"):
        holder.engine()
    holder.missing = Refusal("no current at /srv/x", "no current version")
    with pytest.raises(IndexUnavailable) as raised:
        holder.engine()
    assert raised.value.public_message == "No index is loaded: no current version"
    holder.swap(engine)
    holder.subscribe(seen.append)  # told of the engine it already holds
    assert holder.engine() is engine and holder.missing is None and seen == [engine]


class _Pointer:
    """A pointer moved by the test, and the reloads it caused."""

    def __init__(self) -> None:
        self.at: Path | None = Path("v1")
        self.reloads: list[Path | None] = []
        self.fail = 0
        self.polls = 0
        self.reloaded = threading.Event()

    def reload(self) -> None:
        self.reloads.append(self.at)
        self.reloaded.set()
        if self.fail:
            self.fail -= 1
            raise IndexUnavailable("refused")

    def poll(self) -> None:
        self.polls += 1


def _watch(pointer: _Pointer, seen: Path | None = Path("v1")) -> VersionWatcher:
    watcher = VersionWatcher(lambda: pointer.at, pointer.reload, each_poll=pointer.poll,
                             interval=0.01, jitter=0, seen=seen)
    watcher.start()
    return watcher


def _until(condition, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.005)
    return condition()


def test_the_watcher_reloads_once_per_move_and_polls_between():
    pointer = _Pointer()
    watcher = _watch(pointer)
    try:
        assert _until(lambda: pointer.polls >= 5)
        assert pointer.reloads == []  # nothing moved
        pointer.at = Path("v2")
        assert _until(lambda: pointer.reloads == [Path("v2")])
        time.sleep(0.1)
        assert pointer.reloads == [Path("v2")]  # once, not every poll
    finally:
        watcher.stop()


def test_the_watcher_retries_a_refused_reload_with_backoff_until_it_passes():
    pointer = _Pointer()
    pointer.fail = 3
    watcher = _watch(pointer)
    try:
        pointer.at = Path("v2")
        assert _until(lambda: len(pointer.reloads) == 4)  # three refusals, then it passed
        time.sleep(0.2)
        assert len(pointer.reloads) == 4  # a pass ends the retries
    finally:
        watcher.stop()


def test_a_move_before_the_watcher_started_is_acted_on():
    pointer = _Pointer()
    pointer.at = Path("v2")  # moved while the version v1 was loading
    watcher = _watch(pointer, seen=Path("v1"))
    try:
        assert _until(lambda: pointer.reloads == [Path("v2")])
    finally:
        watcher.stop()


def test_a_stopped_or_disabled_watcher_does_nothing():
    pointer = _Pointer()
    disabled = VersionWatcher(lambda: pointer.at, pointer.reload, each_poll=pointer.poll,
                              interval=0, jitter=0, seen=None)
    disabled.start()
    watcher = _watch(pointer)
    watcher.stop()
    pointer.at = Path("v2")
    time.sleep(0.1)
    assert pointer.reloads == []


def test_the_model_follower_without_a_model_and_with_a_broken_one(tmp_path):
    refusals = []
    follower = ModelFollower(tmp_path, on_refused=lambda: refusals.append(1))
    assert follower.follow() is False and follower.model is None
    broken = tmp_path / "models" / "v1"
    broken.mkdir(parents=True)
    (broken / "manifest.json").write_text("{not json", encoding="utf-8")
    (tmp_path / "models" / "current").symlink_to("v1")
    assert follower.follow() is False and follower.model is None
    assert follower.refused and str(tmp_path) not in follower.refused
    assert follower.follow() is False
    assert refusals == [1]  # told once per refused model, not once per poll
