"""Exact or approximate: the FAISS index a build makes, and HNSW's tuning by measured recall."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import faiss
import numpy as np


@dataclass(frozen=True)
class AnnSettings:
    """When and how an approximate (HNSW) index replaces exact search."""

    threshold: int = 50_000
    """Films from which the index is HNSW; below it, exact inner product (IndexFlatIP)."""
    m: int = 32
    ef_construction: int = 80
    ef_search: int | None = None
    """Fixed efSearch; None: the smallest of EF_SEARCH_STEPS that reaches ``target_recall``."""
    target_recall: float = 0.95
    recall_sample: int = 1000
    """Films used as queries to measure recall@10 against exact search at build time."""


EF_SEARCH_STEPS = (64, 128, 256, 512, 1024, 2048, 4096)


def _recall_at_10(index: Any, queries: np.ndarray, exact: np.ndarray, k: int) -> float:
    _, approx = index.search(queries, k)
    return float(np.mean([len(set(a) & set(e)) / k for a, e in zip(approx, exact,
                                                                    strict=True)]))


def make_faiss_index(vectors: np.ndarray, ann: AnnSettings) -> tuple[Any, dict[str, Any]]:
    """Exact inner product for a small catalog; HNSW above ``ann.threshold``.

    The HNSW index's recall@10 against exact search is measured at build time on
    a sample of the films themselves; unless ``ann.ef_search`` is fixed, efSearch
    is the smallest step that reaches ``ann.target_recall`` (the search cost
    grows with it, and the right value grows with the catalog).
    """
    n, dim = vectors.shape
    flat = faiss.IndexFlatIP(dim)
    flat.add(vectors)
    if n < ann.threshold:
        return flat, {"type": "IndexFlatIP"}
    started = time.perf_counter()
    hnsw = faiss.IndexHNSWFlat(dim, ann.m, faiss.METRIC_INNER_PRODUCT)
    hnsw.hnsw.efConstruction = ann.ef_construction
    hnsw.add(vectors)
    seconds = time.perf_counter() - started
    # Queries between films (midpoints of random pairs), not the films themselves:
    # a film finds itself in the graph too easily, which would overstate recall.
    rng = np.random.default_rng(0)
    size = min(ann.recall_sample, n)
    queries = vectors[rng.integers(n, size=size)] + vectors[rng.integers(n, size=size)]
    queries /= np.maximum(np.linalg.norm(queries, axis=1, keepdims=True), 1e-12)
    sample = queries
    k = min(10, n)
    _, exact = flat.search(queries, k)
    steps = (ann.ef_search,) if ann.ef_search else EF_SEARCH_STEPS
    for ef in steps:
        hnsw.hnsw.efSearch = ef
        recall = _recall_at_10(hnsw, queries, exact, k)
        if recall >= ann.target_recall:
            break
    return hnsw, {"type": "IndexHNSWFlat", "m": ann.m, "ef_construction": ann.ef_construction,
                  "ef_search": int(hnsw.hnsw.efSearch), "recall_at_10": round(recall, 4),
                  "target_recall": ann.target_recall, "recall_sample": len(sample),
                  "build_seconds": round(seconds, 2)}

