"""Judged on the future: per-viewer recommendations at several global time cut-offs,
pooled, with bootstrap confidence intervals (``recommender eval-users --split time
--cuts``).

At each cut-off everything before it is learnt and the service's clock is the cut-off
itself (:func:`~recommender.evaluation.viewer_quality.evaluate_users` with
``split_by="time"``); each viewer's first new liked film after it is what must be found.
The viewers of every cut-off are pooled (a viewer may count at several cut-offs, as a
service asks about them again each day), and each model's pooled hit rate gets a 95%
interval from resampling those viewer-cuts with replacement. Small logs give few viewers
a cut-off: pooled, their figures can be read; alone, they can't.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from recommender.evaluation.viewer_quality import evaluate_users

BOOTSTRAP_SAMPLES = 2000


def parse_cuts(text: str) -> list[float]:
    """``0.5:0.95:0.05`` (start, stop, step, stop included) or ``0.7,0.8,0.9``."""
    try:
        if ":" in text:
            start, stop, step = (float(p) for p in text.split(":"))
            if step <= 0:
                raise ValueError
            count = round((stop - start) / step) + 1
            cuts = [round(start + i * step, 6) for i in range(count)]
        else:
            cuts = [float(p) for p in text.split(",") if p.strip()]
    except ValueError:
        raise ValueError(f"--cuts takes START:STOP:STEP or a comma-separated list, got "
                         f"{text!r}") from None
    if not cuts or not all(0.0 < c < 1.0 for c in cuts):
        raise ValueError(f"each cut-off is a share of the log, above 0 and under 1: {text!r}")
    return cuts


def bootstrap_interval(hits: Sequence[float], seed: int = 0,
                       samples: int = BOOTSTRAP_SAMPLES) -> tuple[float, float]:
    """The 95% percentile interval of the mean of ``hits``, resampled with replacement."""
    values = np.asarray(hits, dtype=np.float64)
    if values.size == 0:
        return (0.0, 0.0)
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, values.size, size=(samples, values.size))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return (round(float(low), 4), round(float(high), 4))


HISTORY_GROUPS = ((0, 5, "history <= 5"), (6, 50, "history 6-50"), (51, None, "history > 50"))
BASELINE = "popular (decayed)"


def paired_interval(ours: Sequence[float], theirs: Sequence[float], seed: int = 0,
                    samples: int = BOOTSTRAP_SAMPLES) -> tuple[float, float]:
    """The 95% interval of ``mean(ours - theirs)`` over the same viewer-cuts, resampled
    together (paired): tighter than two separate intervals, since both models meet the
    same easy and hard viewers."""
    return bootstrap_interval([a - b for a, b in zip(ours, theirs, strict=True)], seed,
                              samples)


def evaluate_future(engine: Any, events: Sequence[Any], settings: Any, cuts: Sequence[float],
                    **options: Any) -> dict[str, Any]:
    """One time-split evaluation per cut-off, and each model's figures pooled over them:
    hit rate and NDCG with intervals, the paired interval of the hit rate's difference
    to decayed popularity, the hit rate on films outside the most watched tenth (the
    popularity-debiased hit rate), hit rates by history length, and coverage (each
    cut-off's films shown, averaged)."""
    per_cut = [evaluate_users(engine, events, settings, split_by="time", cut=cut, **options)
               for cut in cuts]
    models = list(per_cut[0]["models"]) if per_cut else []
    seed = options.get("seed", 0)
    history = [n for report in per_cut for n in report["viewer_history"]]
    head = [p for report in per_cut for p in report["viewer_target_popular"]]
    baseline = [h for report in per_cut for h in report["hits"].get(BASELINE, [])]
    pooled: dict[str, dict[str, Any]] = {}
    for model in models:
        hits = [h for report in per_cut for h in report["hits"][model]]
        ndcgs = [h for report in per_cut for h in report["ndcgs"][model]]
        n = len(hits)
        groups = {}
        for low, high, label in HISTORY_GROUPS:
            inside = [h for h, size in zip(hits, history, strict=True)
                      if size >= low and (high is None or size <= high)]
            groups[label] = {"viewers": len(inside), "hit_rate": round(
                sum(inside) / len(inside), 4) if inside else 0.0}
        pooled[model] = {
            "viewers": n, "hit_rate": round(sum(hits) / n, 4) if n else 0.0,
            "hit_rate_ci95": bootstrap_interval(hits, seed),
            "ndcg": round(sum(ndcgs) / n, 4) if n else 0.0,
            "debiased_hit_rate": round(sum(h for h, p in zip(hits, head, strict=True)
                                           if not p) / n, 4) if n else 0.0,
            "coverage": round(sum(r["models"][model]["coverage"] for r in per_cut)
                              / len(per_cut), 4),
            "by_history": groups}
        if len(baseline) == n and model != BASELINE:
            pooled[model]["vs_decayed_popularity_ci95"] = paired_interval(hits, baseline,
                                                                          seed)
    return {"split": "time, rolling", "cuts": list(cuts), "k": options.get("k", 10),
            "pooled": pooled,
            "by_cut": [{"cut": cut, "clock": r["clock"], "viewers": r["viewers"],
                        "hit_rate": {m: r["models"][m]["hit_rate"] for m in models}}
                       for cut, r in zip(cuts, per_cut, strict=True)]}


def format_pooled(report: dict[str, Any]) -> str:
    """The pooled figures as Markdown: one row per model, with its intervals."""
    k = report["k"]
    cuts = report["cuts"]
    groups = [label for _, _, label in HISTORY_GROUPS]
    lines = [f"Cut-offs {cuts[0]}..{cuts[-1]} ({len(cuts)}), pooled:", "",
             f"| model | viewer-cuts | hit rate@{k} | 95% interval | - decayed popularity, "
             f"paired 95% | NDCG@{k} | debiased hit@{k} | coverage@{k} | "
             + " | ".join(groups) + " |", "|---|---|---|---|---|---|---|---|"
             + "---|" * len(groups)]
    for model, m in report["pooled"].items():
        low, high = m["hit_rate_ci95"]
        paired = m.get("vs_decayed_popularity_ci95")
        difference = f"{paired[0]:+.3f}..{paired[1]:+.3f}" if paired else "-"
        by = " | ".join(f"{m['by_history'][g]['hit_rate']:.3f} "
                        f"({m['by_history'][g]['viewers']})" for g in groups)
        lines.append(f"| {model} | {m['viewers']} | {m['hit_rate']:.3f} | "
                     f"{low:.3f}-{high:.3f} | {difference} | {m['ndcg']:.3f} | "
                     f"{m['debiased_hit_rate']:.3f} | {m['coverage']:.3f} | {by} |")
    return "\n".join(lines)
