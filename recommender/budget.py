"""What one request may spend: a deadline, and a number of typo-tolerant title scans.

The HTTP layer opens a :class:`Budget` for each request (a batch shares one) with
:func:`limit`; the engine and the title resolver ask it between stages
(:func:`check`, :func:`spend_fuzzy`). Where no budget is open (the command line,
a test calling the engine) nothing is limited. A context variable rather than an
argument: the checks sit several calls deep in the pipeline, and a thread serving
one request sees only that request's budget.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass, field

from recommender.errors import Timeout


@dataclass
class Budget:
    seconds: float
    fuzzy_lookups: int
    started: float = field(default_factory=time.monotonic)

    @property
    def deadline(self) -> float:
        return self.started + self.seconds

    def check(self, stage: str) -> None:
        if time.monotonic() > self.deadline:
            raise Timeout(
                f"The request ran past the service's time budget of {self.seconds:g} s "
                f"(stopped at: {stage}). Ask for fewer or shallower results (k, offset), "
                "fewer liked films, or fewer requests per batch.",
                budget_seconds=self.seconds, stage=stage)


_current: ContextVar[Budget | None] = ContextVar("recommender_budget", default=None)


def open_budget(seconds: float, fuzzy_lookups: int) -> Token[Budget | None]:
    """Open a budget for what this thread does until :func:`close_budget`."""
    return _current.set(Budget(seconds, fuzzy_lookups))


def close_budget(token: Token[Budget | None]) -> None:
    _current.reset(token)


def current() -> Budget | None:
    return _current.get()


@contextmanager
def limit(seconds: float, fuzzy_lookups: int) -> Iterator[Budget]:
    """Open a budget for the work done inside the ``with`` block."""
    token = open_budget(seconds, fuzzy_lookups)
    try:
        budget = _current.get()
        assert budget is not None  # opened just above
        yield budget
    finally:
        close_budget(token)


def check(stage: str) -> None:
    """Raise :class:`~recommender.errors.Timeout` if the open budget's time is spent."""
    budget = _current.get()
    if budget is not None:
        budget.check(stage)


def spend_fuzzy() -> bool:
    """Take one typo-tolerant title scan from the open budget; False if none is left."""
    budget = _current.get()
    if budget is None:
        return True
    if budget.fuzzy_lookups <= 0:
        return False
    budget.fuzzy_lookups -= 1
    return True
