"""A/B experiments on live traffic: which variant of a ranking each viewer is served.

``RECOMMENDER_EXPERIMENTS`` names a JSON file::

    {"experiments": [
      {"name": "popular-vs-default", "surfaces": ["user_recommendations"],
       "variants": [{"name": "default", "weight": 1, "ranking": {}},
                    {"name": "popular", "weight": 1, "ranking": {"source": "popular"}}]}]}

The first variant is the control. ``ranking`` says what a variant serves: ``{}`` the
default ranking; ``{"source": S}`` one source alone (``popular``: what is popular now;
``trending``: ``GET /trending``'s list; ``collaborative``: the model without content,
popular-now or new films' places, or on a film's surfaces "also liked"; ``content``: the
films' likeness alone, or a film's "more like this"); or the default with other weights
(any of :data:`WEIGHTS`, as the settings of the same names: ``user_recommendations``
only). Which surface takes which source is :data:`SOURCES_OF`; on ``user_rows``,
``search`` and ``recommend`` a variant is recorded and reported and serves what the
surface serves.

A viewer's variant is a hash of the experiment's name and the viewer's id (SHA-256),
mapped onto the variants by their weights: the same on every worker, replica and
restart, and independent between experiments. The routes without a viewer in their path
take one as ``?user=``; an answer without a viewer takes part in no experiment. A surface
is in one experiment at most. A file that is missing, not JSON, or wrong is refused when
the server starts, with its line and the field.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from recommender.viewers.surfaces import Surface

WEIGHTS = ("popular_weight", "popular_half_life_days", "popular_activity_half_life_days",
           "history_half_life_days", "new_slots", "next_weight")
Source = Literal["popular", "trending", "collaborative", "content"]


class Ranking(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: Source | None = None
    popular_weight: float | None = Field(None, ge=0)
    popular_half_life_days: float | None = Field(None, gt=0)
    popular_activity_half_life_days: float | None = Field(None, ge=0)
    history_half_life_days: float | None = Field(None, ge=0)
    new_slots: int | None = Field(None, ge=0, le=100)
    next_weight: float | None = Field(None, ge=0, le=10)

    @property
    def default(self) -> bool:
        return self.source is None and not self.weights

    @property
    def weights(self) -> dict[str, Any]:
        return {k: v for k in WEIGHTS if (v := getattr(self, k)) is not None}


class Variant(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.-]+$")
    weight: float = Field(ge=0)
    ranking: Ranking = Field(default_factory=Ranking)


class Experiment(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.-]+$")
    surfaces: list[Surface] = Field(min_length=1)
    variants: list[Variant] = Field(min_length=2)

    @field_validator("variants")
    @classmethod
    def _variants(cls, variants: list[Variant]) -> list[Variant]:
        names = [v.name for v in variants]
        if len(set(names)) != len(names):
            raise ValueError(f"variant names must differ, got {names}")
        if sum(v.weight for v in variants) <= 0:
            raise ValueError("the variants' weights must add up to more than 0")
        return variants

    def variant_of(self, user: str) -> Variant:
        """The variant ``user`` is served: the same everywhere, every time."""
        digest = hashlib.sha256(f"{self.name}\x00{user}".encode()).digest()
        point = int.from_bytes(digest[:8], "big") / 2**64 * sum(v.weight for v in self.variants)
        for variant in self.variants:
            if point < variant.weight:
                return variant
            point -= variant.weight
        return next(v for v in reversed(self.variants) if v.weight > 0)


class ExperimentsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    experiments: list[Experiment]


class Experiments:
    """The experiments of one file, by surface."""

    def __init__(self, experiments: Sequence[Experiment] = (), source: str = "") -> None:
        self.all = list(experiments)
        self.source = source
        self.by_name = {e.name: e for e in self.all}
        self.by_surface: dict[Surface, Experiment] = {}
        for experiment in self.all:
            for surface in experiment.surfaces:
                self.by_surface[surface] = experiment

    def assign(self, surface: Surface, user: str | None
               ) -> tuple[Experiment, Variant] | None:
        """(experiment, variant) of ``user`` on ``surface``; None: none applies."""
        experiment = self.by_surface.get(surface)
        if experiment is None or user is None:
            return None
        return experiment, experiment.variant_of(user)


class ExperimentsError(ValueError):
    """The experiments file can't be used; the message names the file, line and field."""


Checked = TypeVar("Checked", bound=BaseModel)


def field_path(loc: Sequence[Any]) -> str:
    """``["promote", 0, "filter"]`` as ``promote[0].filter``."""
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")


def read_checked(where: Path, variable: str, model: type[Checked],
                 error: type[ValueError]) -> tuple[Checked, str]:
    """An operator's JSON file (the experiments', the rules'), read and validated against
    ``model``, and its text (for the line of a later check); ``error`` names the variable,
    the file, the line and the field of the first problem."""
    try:
        text = where.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{variable}: {where} can't be read ({type(exc).__name__}: {exc})") \
            from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise error(f"{variable}: {where} line {exc.lineno}, column {exc.colno}: not JSON "
                    f"({exc.msg})") from None
    try:
        return model.model_validate(data), text
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = list(first["loc"])
        raise error(f"{variable}: {where} line {line_of(text, loc)}, "
                    f"{field_path(loc) or 'the file'}: {first['msg']}") from None


def load_experiments(path: str | Path) -> Experiments:
    """The experiments of ``path``, checked whole.

    Raises:
        ExperimentsError: missing, unreadable, not JSON, or a field wrong.
    """
    where = Path(path)
    parsed, text = read_checked(where, "RECOMMENDER_EXPERIMENTS", ExperimentsFile,
                                ExperimentsError)
    seen: dict[Surface, str] = {}
    for i, experiment in enumerate(parsed.experiments):
        field = f"experiments[{i}]"
        if experiment.name in {e.name for e in parsed.experiments[:i]}:
            raise ExperimentsError(f"RECOMMENDER_EXPERIMENTS: {where} line "
                                   f"{line_of(text, ['experiments', i, 'name'])}, "
                                   f"{field}.name: {experiment.name!r} is used twice")
        for surface in experiment.surfaces:
            if surface in seen:
                raise ExperimentsError(
                    f"RECOMMENDER_EXPERIMENTS: {where} line "
                    f"{line_of(text, ['experiments', i, 'surfaces'])}, {field}.surfaces: "
                    f"{surface} is already in experiment {seen[surface]!r} (one a surface)")
            seen[surface] = experiment.name
        for j, variant in enumerate(experiment.variants):
            why = _unservable(variant.ranking, experiment.surfaces)
            if why:
                raise ExperimentsError(
                    f"RECOMMENDER_EXPERIMENTS: {where} line "
                    f"{line_of(text, ['experiments', i, 'variants', j, 'ranking'])}, "
                    f"{field}.variants[{j}].ranking: {why}")
    return Experiments(parsed.experiments, str(where))


SOURCES_OF: dict[Surface, set[str]] = {
    Surface.USER_RECOMMENDATIONS: {"popular", "trending", "collaborative", "content"},
    Surface.SIMILAR: {"popular", "trending", "collaborative", "content"},
    Surface.ALSO_LIKED: {"popular", "trending", "collaborative", "content"},
    Surface.TRENDING: {"popular", "trending"}}
"""The sources each surface can serve a variant from (the others serve their own list)."""


def _unservable(ranking: Ranking, surfaces: Sequence[Surface]) -> str | None:
    """Why ``ranking`` can't be served on every one of ``surfaces`` (None: it can)."""
    if ranking.weights and list(surfaces) != [Surface.USER_RECOMMENDATIONS]:
        return ("other weights change user_recommendations only; give that surface "
                "alone")
    if ranking.source is not None:
        refused = [s for s in surfaces if ranking.source not in SOURCES_OF.get(s, set())]
        if refused:
            return (f"{', '.join(refused)} can't serve the source {ranking.source!r} "
                    "(user_recommendations, similar and also_liked take any source; "
                    "trending takes popular or trending; the others none)")
    return None


def line_of(text: str, loc: Sequence[Any]) -> int:
    """The line of the field at ``loc`` (keys and list positions), found by walking the
    text part by part: exact for the usual layouts, close for odd ones."""
    position = 0
    for part in loc:
        if isinstance(part, str):
            match = re.compile(rf'"{re.escape(part)}"\s*:').search(text, position)
            if match is None:
                break
            position = match.start()
        else:
            bracket = text.find("[", position)
            if bracket < 0:
                break
            position = _element(text, bracket, part)
    return text.count("\n", 0, position) + 1


def _element(text: str, bracket: int, index: int) -> int:
    """Where the ``index``-th element of the list opened at ``bracket`` starts."""
    depth, count, i, in_string = 0, 0, bracket + 1, False
    while i < len(text):
        ch = text[i]
        if in_string:
            if ch == "\\":
                i += 1
            elif ch == '"':
                in_string = False
        elif depth == 0 and count == index and not ch.isspace() and ch not in ",]}":
            return i
        elif ch == '"':
            in_string = True
        elif ch in "{[":
            depth += 1
        elif ch in "}]":
            if depth == 0:
                return i
            depth -= 1
        elif ch == "," and depth == 0:
            count += 1
        i += 1
    return i
