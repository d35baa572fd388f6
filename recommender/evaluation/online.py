"""How the recommendations do on live traffic: click-through per surface per day, and per
variant of an experiment against its control (``GET /admin/stats``,
``GET /admin/experiments/{name}``, ``recommender stats``).

Every figure is read from the event database when asked
(:class:`~recommender.storage.impressions.ImpressionLog`): impressions, and the
events attributed to them. ``ctr = clicks / impressions``, where an impression's clicks
are the films it showed that got a conversion (at most one per film). The statistics are
SciPy's, not ours:

- ``ctr_ci95``: Wilson's 95% interval of a proportion (``scipy.stats.binomtest``), an
  impression being a trial and a click its success (an impression with two clicks counts
  as one success for the interval only: rare, and the interval then errs wide);
- ``p_value``: the two-sided test that a variant's click rate per impression equals the
  control's (``scipy.stats.poisson_means_test``: exact for counts, whatever their size);
- ``lift_vs_control``: ``ctr / control's ctr - 1`` (None while the control has no click).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from recommender.storage.impressions import DAY, Figures, ImpressionLog

MAX_DAYS = 90
"""The longest span a report reads (a bounded query, however long the log)."""


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


def interval(clicks: int, impressions: int) -> list[float]:
    """Wilson's 95% interval of ``clicks / impressions`` ([0, 0] without impressions)."""
    if impressions <= 0:
        return [0.0, 0.0]
    from scipy.stats import binomtest

    ci = binomtest(min(clicks, impressions), impressions).proportion_ci(
        confidence_level=0.95, method="wilson")
    return [round(float(ci.low), 4), round(float(ci.high), 4)]


def p_value(clicks: int, impressions: int, control_clicks: int,
            control_impressions: int) -> float | None:
    """Two-sided p of equal click rates per impression (None: either has none)."""
    if impressions <= 0 or control_impressions <= 0:
        return None
    from scipy.stats import poisson_means_test

    result = poisson_means_test(clicks, impressions, control_clicks, control_impressions)
    return round(float(result.pvalue), 4)


def _figures(f: Figures) -> dict[str, Any]:
    ctr = f.clicks / f.impressions if f.impressions else 0.0
    return {"viewers": f.viewers, "impressions": f.impressions, "clicks": f.clicks,
            "ctr": round(ctr, 4), "ctr_ci95": interval(f.clicks, f.impressions),
            "conversions": dict(f.conversions)}


def experiment_report(log: ImpressionLog, name: str, variants: Sequence[str],
                      since: float | None = None, until: float | None = None,
                      now: float | None = None) -> dict[str, Any]:
    """Each variant of experiment ``name`` (the first is the control), over ``since`` ..
    ``until`` (default: the last :data:`MAX_DAYS` days)."""
    now = time.time() if now is None else now
    until = now if until is None else until
    since = until - MAX_DAYS * DAY if since is None else max(since, until - MAX_DAYS * DAY)
    found = log.figures(since, until, experiment=name)
    rows = []
    control = found.get((variants[0],), Figures()) if variants else Figures()
    control_ctr = control.clicks / control.impressions if control.impressions else 0.0
    for i, variant in enumerate(variants):
        f = found.get((variant,), Figures())
        row = {"name": variant, **_figures(f)}
        if i == 0:
            row["lift_vs_control"], row["p_value"] = None, None
        else:
            row["lift_vs_control"] = round(row["ctr"] / control_ctr - 1, 4) \
                if control_ctr > 0 else None
            row["p_value"] = p_value(f.clicks, f.impressions, control.clicks,
                                     control.impressions)
        rows.append(row)
    return {"name": name, "since": _iso(since), "until": _iso(until), "variants": rows}


def stats_report(log: ImpressionLog, days: int, now: float | None = None) -> dict[str, Any]:
    """Per surface per day (UTC) over the last ``days`` days, every variant together, and
    per surface over them all (``totals``)."""
    now = time.time() if now is None else now
    since = (now // DAY - days + 1) * DAY  # whole days, today included
    found = log.figures(since, now, by="surface_day")
    rows = [{"surface": surface, "day": datetime.fromtimestamp(int(day) * DAY, UTC)
             .date().isoformat(), **_figures(f)}
            for (surface, day), f in sorted(found.items(), key=lambda kv: (kv[0][1], kv[0][0]))]
    totals = [{"surface": surface, **_figures(f)} for (surface,), f in
              sorted(log.figures(since, now, by="surface").items())]
    placed = sorted(log.placements(since, now).items())
    placements = [{"surface": surface, "placement": kind, "films_shown": shown,
                   "clicks": clicks, "click_through": round(clicks / shown, 4) if shown else None}
                  for (surface, kind), (shown, clicks) in placed]
    return {"since": _iso(since), "until": _iso(now), "days": days, "surfaces": rows,
            "totals": totals, "placements": placements,
            "unattributed_events": log.unattributed(since, now)}
