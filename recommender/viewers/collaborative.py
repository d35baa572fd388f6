"""What every viewer's events teach: an item-to-item model learnt offline, EASE.

EASE (Steck, "Embarrassingly Shallow Autoencoders for Sparse Data", WWW 2019) learns one
films x films weight matrix ``B`` in closed form from who interacted with what: ``B =
I - P / diag(P)`` with ``P = (X^T X + lambda I)^-1``, the diagonal forced to 0. A viewer's
score for a film is the sum of ``B``'s rows of the films they interacted with. Chosen by
measurement on the real MovieLens logs (docs/viewer-quality.md): ahead of item-kNN
(cosine) and of the most popular films, exact (no epochs, no seed), and one matrix to
map. Its cost is dense in the films that have events: ``4 n^2`` bytes to serve and an
``n x n`` inverse to train, fine up to :data:`MAX_FILMS`; past it, only the most-watched
films are learnt (the rest are carried by content, as new films are).

Any event is an interaction (a rating of 1 star too: on MovieLens, binary interactions
measured best, 0.268 hit@10 against 0.233 for ratings of 3.5 or more only); what the viewer
thought of the film is the content side's and the exclusion rules' business.

On disk, beside the index's versions (``recommender train`` writes it)::

    <index>/models/current -> versions/<version>
    <index>/models/versions/<version>/{manifest.json, weights.npy, next.npy, films.json,
                                       popularity.npy}

Beside ``weights.npy``, a version holds one ``<source>.npy`` for each source of the
ranking that learns from the same interactions (``learn`` in
:mod:`recommender.viewers.sources`; "what comes next" writes ``next.npy``): the model
maps them all as ``learned``; a version trained before a source has none for it, and that
source then has nothing to say.

written to a temporary folder and renamed into place; servers map ``weights.npy`` read-only
(one copy in the page cache for every worker) and take a new version within their reload
poll, as they take an index version.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import secrets
import shutil
import time
from array import array
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from recommender.errors import IndexMismatch, IndexUnavailable
from recommender.files import sha256_of, staged_folder, write_file
from recommender.index.store import MODELS_DIR, point_current

log = logging.getLogger(__name__)

MODELS = MODELS_DIR
CURRENT = "current"
VERSIONS = "versions"
WEIGHTS = "weights.npy"
FILMS = "films.json"
POPULARITY = "popularity.npy"
MANIFEST = "manifest.json"
OWN_FILES = (WEIGHTS, FILMS, POPULARITY, MANIFEST)
ALGORITHM = "ease"
DEFAULT_LAMBDA = 100.0
"""EASE's L2 weight, chosen on a development split of the MovieLens x IMDb log (the
viewers' second-to-last films): 100 beat 50 and 200 there."""
MAX_FILMS = 20_000
"""Films learnt at most (the most interacted with): ``B`` is then 1.6 GB to map."""
MIN_EVENTS = 100
"""Fewer events than this teach nothing worth serving: no model is written."""


@dataclass
class CollaborativeModel:
    """A trained model, mapped: ``weights[i, j]`` is how much interacting with film ``i``
    says about film ``j``; ``popularity[i]`` how many viewers interacted with film ``i``."""

    path: Path
    manifest: dict[str, Any]
    film_ids: list[str]
    weights: np.ndarray
    popularity: np.ndarray
    learned: dict[str, np.ndarray] = field(default_factory=dict)
    """Each learning source's films x films matrix, by the source's name, mapped."""

    def __post_init__(self) -> None:
        self.row_of = {f: i for i, f in enumerate(self.film_ids)}

    @property
    def version(self) -> str:
        return str(self.manifest["version"])

    @property
    def tuned(self) -> dict[str, float]:
        """The ranking's values training chose on the log (:mod:`.tuning`); empty: none."""
        return dict((self.manifest.get("tuned") or {}).get("values") or {})  # checked by load

    def summary(self, now: float | None = None) -> dict[str, Any]:
        """What /ready, /admin/status and the metrics say of it."""
        trained = self.manifest["trained_at_ts"]
        return {"version": self.version, "algorithm": self.manifest["algorithm"],
                "films": len(self.film_ids), "events": self.manifest["events"],
                "trained_at": self.manifest["trained_at"],
                "age_seconds": round((now or time.time()) - trained, 1),
                "bytes": int(self.weights.nbytes +
                             sum(m.nbytes for m in self.learned.values())),
                "tuned": self.manifest.get("tuned")}

    def rows_of(self, films: Iterable[str]) -> tuple[list[str], np.ndarray]:
        """The ``films`` the model knows, and their rows of ``weights`` (read once: a
        viewer's scores are their sum, a result's reason their largest in its column)."""
        known = sorted({f for f in films if f in self.row_of}, key=self.row_of.__getitem__)
        rows = [self.row_of[f] for f in known]
        block = np.asarray(self.weights[rows], dtype=np.float32) if rows else \
            np.zeros((0, len(self.film_ids)), dtype=np.float32)
        return known, block

    def scores(self, films: Iterable[str]) -> np.ndarray | None:
        """Every model film's score for a viewer who interacted with ``films`` (None: with
        none the model knows)."""
        known, block = self.rows_of(films)
        return block.sum(axis=0) if known else None

    def also_liked(self, film_id: str, k: int) -> list[tuple[str, float]]:
        """The films whose viewers also interacted with ``film_id``, strongest first."""
        row = self.row_of.get(film_id)
        if row is None:
            return []
        weights = np.asarray(self.weights[row], dtype=np.float32)
        k = min(k, len(weights) - 1)
        if k <= 0:
            return []
        top = np.argpartition(-weights, k)[:k]
        top = top[np.argsort(-weights[top], kind="stable")]
        return [(self.film_ids[int(i)], float(weights[i])) for i in top
                if int(i) != row and weights[i] > 0]


# -- training ------------------------------------------------------------------------------


def interaction_matrix(pairs: Iterable[tuple[str, str]], films: Sequence[str] | None = None,
                       max_films: int = MAX_FILMS,
                       values: dict[tuple[str, str], float] | None = None,
                       ) -> tuple[Any, list[str], list[str]]:
    """A binary viewers x films matrix (scipy CSR) of who interacted with what, over the
    ``max_films`` most interacted-with films (of ``films``, where given: films gone from the
    catalog are left out); its viewer and film ids. ``values``: each pair's entry instead
    of 1 (a recent interaction counting more than an old one)."""
    from scipy import sparse

    allowed = set(films) if films is not None else None
    seen: set[tuple[str, str]] = set()
    counts: dict[str, int] = {}
    for user, film in pairs:
        if (allowed is not None and film not in allowed) or (user, film) in seen:
            continue
        seen.add((user, film))
        counts[film] = counts.get(film, 0) + 1
    kept = sorted(counts, key=lambda f: (-counts[f], f))[:max_films]
    column = {f: j for j, f in enumerate(kept)}
    users = sorted({u for u, f in seen if f in column})
    row = {u: i for i, u in enumerate(users)}
    coords = [(row[u], column[f]) for u, f in seen if f in column]
    data = np.ones(len(coords), dtype=np.float32)
    if values is not None:
        data = np.array([values.get((users[a], kept[b]), 1.0) for a, b in coords],
                        dtype=np.float32)
    i = np.fromiter((c[0] for c in coords), dtype=np.int64, count=len(coords))
    j = np.fromiter((c[1] for c in coords), dtype=np.int64, count=len(coords))
    matrix = sparse.csr_matrix((data, (i, j)), shape=(len(users), len(kept)))
    return matrix, users, kept


def ease_weights(matrix: Any, lam: float = DEFAULT_LAMBDA) -> np.ndarray:
    """EASE's ``B`` for the viewers x films ``matrix`` (float32, zero diagonal)."""
    gram = np.asarray((matrix.T @ matrix).todense(), dtype=np.float64)
    gram[np.diag_indices_from(gram)] += lam
    inverse = np.linalg.inv(gram)
    weights = -inverse / np.diag(inverse)
    np.fill_diagonal(weights, 0.0)
    return weights.astype(np.float32)


@dataclass(frozen=True)
class Interactions:
    """What training hands each learning source (``learn`` in
    :mod:`recommender.viewers.sources`): the model's viewers x films matrix and the events
    it was made from, in order."""

    matrix: Any
    """Viewers x learnt films (scipy CSR), as the model learns it."""
    learnt: np.ndarray
    """Each matrix column's film, as its place in the catalog."""
    users: np.ndarray
    films: np.ndarray
    """Each event's viewer (a code) and film (its place in the catalog)."""
    times: np.ndarray


@dataclass(frozen=True)
class TrainReport:
    path: Path | None
    films: int
    viewers: int
    events: int
    seconds: float
    why_not: str | None = None
    """Why no model was written (too few events), where none was."""


def matrix_of(users: np.ndarray, films: np.ndarray, n_films: int,
              max_films: int = MAX_FILMS, newest: np.ndarray | None = None,
              half_life_days: float = 0.0) -> tuple[Any, np.ndarray]:
    """Viewers x films as :func:`interaction_matrix` makes it, from arrays of codes (a
    viewer's, a film's place in the catalog): each pair once, over the ``max_films`` most
    interacted-with films; and the learnt films' places. With ``half_life_days``, a pair
    counts ``0.5 ** (age / half-life)`` of its newest event (``newest``: each event's time)
    before the newest of all, instead of 1."""
    from scipy import sparse

    key = users.astype(np.int64) * n_films + films.astype(np.int64)
    if half_life_days and newest is not None and len(key):
        order = np.lexsort((newest, key))  # by pair, newest last
        last = np.r_[key[order][1:] != key[order][:-1], True]
        pairs, times = key[order][last], newest[order][last]
        data = (0.5 ** (np.maximum(float(newest.max()) - times, 0.0)
                        / (half_life_days * 86_400.0))).astype(np.float32)
    else:
        pairs = np.unique(key)
        data = np.ones(len(pairs), dtype=np.float32)
    user, film = np.divmod(pairs, n_films)
    counts = np.bincount(film, minlength=n_films)
    learnt = np.argsort(-counts, kind="stable")[:min(max_films, int((counts > 0).sum()))]
    column = np.full(n_films, -1, dtype=np.int64)
    column[learnt] = np.arange(len(learnt))
    kept = column[film] >= 0
    viewers, row = np.unique(user[kept], return_inverse=True)
    matrix = sparse.csr_matrix((data[kept], (row, column[film[kept]])),
                               shape=(len(viewers), len(learnt)))
    return matrix, learnt


def train(out: Path, events: Iterable[tuple[Any, str, float]], catalog_films: Sequence[str],
          *, lam: float = DEFAULT_LAMBDA, max_films: int = MAX_FILMS,
          min_events: int = MIN_EVENTS, keep_versions: int = 3,
          source: str = "", half_life_days: float = 0.0,
          learners: Mapping[str, Callable[[Interactions], np.ndarray]] | None = None
          ) -> TrainReport:
    """Learn a model from ``events`` ((user, film, ts) of every event) and write it as a new
    current version under ``out/models/``; with fewer than ``min_events``, write none.
    ``half_life_days``: each interaction counts ``0.5 ** (age / half-life)`` before the
    newest event (its viewer's newest event of the film), instead of 1."""
    started = time.perf_counter()
    column = {f: j for j, f in enumerate(catalog_films)}
    codes: dict[Any, int] = {}
    users, films, times = array("q"), array("q"), array("d")
    first, last, read = float("inf"), float("-inf"), 0
    for user, film, ts in events:
        read += 1
        first, last = min(first, ts), max(last, ts)
        j = column.get(film)
        if j is not None:
            users.append(codes.setdefault(user, len(codes)))
            films.append(j)
            times.append(ts)
    return train_arrays(out, np.frombuffer(users, dtype=np.int64),
                        np.frombuffer(films, dtype=np.int64),
                        np.frombuffer(times, dtype=np.float64), catalog_films, read=read,
                        span=(first, last), started=started, lam=lam, max_films=max_films,
                        min_events=min_events, keep_versions=keep_versions, source=source,
                        half_life_days=half_life_days, learners=learners)


def train_arrays(out: Path, users: np.ndarray, films: np.ndarray, times: np.ndarray,
                 catalog_films: Sequence[str], *, read: int, span: tuple[float, float],
                 started: float, lam: float = DEFAULT_LAMBDA, max_films: int = MAX_FILMS,
                 min_events: int = MIN_EVENTS, keep_versions: int = 3, source: str = "",
                 half_life_days: float = 0.0, extra: dict[str, Any] | None = None,
                 learners: Mapping[str, Callable[[Interactions], np.ndarray]] | None = None
                 ) -> TrainReport:
    """:func:`train` from arrays of codes (``films``: places in ``catalog_films``): what
    :mod:`recommender.viewers.training` hands it after its backtest; ``extra`` goes into
    the manifest (the tuned values); ``learners``: each learning source's ``learn``, by
    its name, given the same :class:`Interactions`."""
    if read < min_events:
        return TrainReport(None, 0, 0, read, time.perf_counter() - started,
                           f"{read} events; a model needs at least {min_events}")
    matrix, learnt = matrix_of(users, films, len(catalog_films), max_films, times,
                               half_life_days)
    weights = ease_weights(matrix, lam)
    popularity = np.asarray((matrix > 0).sum(axis=0), dtype=np.float32).ravel()
    seconds = time.perf_counter() - started
    stamp = datetime.now(UTC)
    first, last = span
    manifest = {"version": f"{stamp:%Y%m%dT%H%M%S.%fZ}-{secrets.token_hex(3)}",
                "algorithm": ALGORITHM, "parameters": {"lambda": lam, "max_films": max_films,
                               "half_life_days": half_life_days},
                "events": read, "viewers": int(matrix.shape[0]), "films": len(learnt),
                "interactions": int(matrix.nnz), "source": source,
                "time_range": [datetime.fromtimestamp(first, UTC).isoformat(),
                               datetime.fromtimestamp(last, UTC).isoformat()],
                "trained_at": stamp.isoformat(timespec="seconds"),
                "trained_at_ts": stamp.timestamp(), "train_seconds": round(seconds, 3),
                **(extra or {})}
    path = _write(Path(out), manifest, weights, [catalog_films[int(j)] for j in learnt],
                  popularity, keep_versions,
                  {name: learn(Interactions(matrix, learnt, users, films, times))
                   for name, learn in (learners or {}).items()})
    return TrainReport(path, len(learnt), int(matrix.shape[0]), read,
                       time.perf_counter() - started)


def _write(out: Path, manifest: dict[str, Any], weights: np.ndarray, films: list[str],
           popularity: np.ndarray, keep: int, learned: dict[str, np.ndarray]) -> Path:
    versions = out / MODELS / VERSIONS
    versions.mkdir(parents=True, exist_ok=True)
    final = versions / manifest["version"]
    with staged_folder(final) as tmp:
        np.save(tmp / WEIGHTS, weights)
        np.save(tmp / POPULARITY, popularity)
        for name, matrix in learned.items():
            # rows in order on disk: a request reads a few rows of the mapped file, and a
            # matrix in column order would have it touch every page of it
            np.save(tmp / f"{name}.npy", np.ascontiguousarray(matrix))
        write_file(tmp / FILMS, json.dumps(films, ensure_ascii=False).encode())
        manifest["files"] = {p.name: {"sha256": sha256_of(p), "bytes": p.stat().st_size}
                             for p in sorted(tmp.iterdir())}
        write_file(tmp / MANIFEST, (json.dumps(manifest, indent=2) + "\n").encode())
        load(tmp)  # read back as a server would: one that doesn't load never goes live
    point_current(out / MODELS, final)
    for old in sorted(p for p in versions.iterdir() if not p.name.startswith("."))[:-keep]:
        if old.resolve() != final.resolve():
            shutil.rmtree(old, ignore_errors=True)
    return final


# -- loading -------------------------------------------------------------------------------


def current_path(index: Path) -> Path | None:
    """The version folder ``<index>/models/current`` points to (None: no model yet)."""
    link = Path(index) / MODELS / CURRENT
    return link.resolve() if link.exists() else None


def load(folder: Path) -> CollaborativeModel:
    """Load a model version, checked against its manifest; ``weights`` mapped read-only.

    Raises:
        IndexUnavailable: unreadable; IndexMismatch: a file differs from the manifest.
    """
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        for name, meta in manifest["files"].items():
            path = folder / name
            if path.stat().st_size != meta["bytes"] or sha256_of(path) != meta["sha256"]:
                raise IndexMismatch(f"model version {folder.name}: {name} differs from its "
                                    "manifest; train again with recommender train")
        films = json.loads((folder / FILMS).read_text(encoding="utf-8"))
        weights = np.load(folder / WEIGHTS, mmap_mode="r")
        popularity = np.load(folder / POPULARITY)
        learned = {name[:-4]: np.load(folder / name, mmap_mode="r")
                   for name in manifest["files"]
                   if name.endswith(".npy") and name not in OWN_FILES}
    except IndexMismatch:
        raise
    except (OSError, ValueError, KeyError) as exc:
        raise IndexUnavailable(f"model version {folder} can't be read: {exc}",
                               public=f"model version {folder.name} can't be read") from None
    if weights.shape != (len(films), len(films)) or popularity.shape != (len(films),) or \
            not np.isfinite(np.asarray(popularity)).all() or \
            any(m.shape != weights.shape for m in learned.values()):
        raise IndexMismatch(f"model version {folder.name} is inconsistent; train again")
    _check_tuned(folder, manifest.get("tuned"))
    return CollaborativeModel(folder, manifest, films, weights, popularity, learned)


def _check_tuned(folder: Path, tuned: Any) -> None:
    """The manifest's tuned values are settings every worker will rank with: a value no
    setting may take (an edited manifest) refuses the version here, once, rather than
    fail each request that applies it."""
    from recommender.config import Settings

    values = tuned.get("values") if isinstance(tuned, dict) else {} if tuned is None else None
    try:
        if not isinstance(values, dict) or not all(
                isinstance(v, int | float) and not isinstance(v, bool) for v in values.values()):
            raise ValueError("not a map of numbers")
        defaults = Settings()
        if not all(isinstance(getattr(defaults, str(k), None), float) for k in values):
            raise ValueError("a name that is no weight or half-life")
        checked: dict[str, Any] = {str(k): float(v) for k, v in values.items()}
        dataclasses.replace(defaults, **checked)  # each value held to its setting's range
    except (TypeError, ValueError) as exc:
        raise IndexMismatch(f"model version {folder.name}: its tuned values can't serve "
                            f"({exc}); train again") from None
