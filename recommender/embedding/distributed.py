"""The build's embedding step on a Ray cluster (``recommender build --ray [ADDRESS]``).

Only the films that need embedding are shipped (the incremental reuse is decided before,
in :func:`recommender.index.build.build_index`); they go through Ray Data's ``map_batches``
with a class whose actors each load the encoder once (``ActorPoolStrategy``), and the
vectors come back in catalog order. The model's ONNX export travels through Ray's
object store, so worker nodes need only this package installed, not the build's files;
each actor embeds as a local build does (OpenVINO, same precision), so the vectors are a
local build's. Everything after embedding (words, FAISS, manifest, the atomic swap) stays
on the machine that runs the command.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)


class EmbedActor:
    """One per Ray actor: the encoder, loaded once, then a batch of texts per call."""

    def __init__(self, model: str, export: list[Any] | None, precision: str,
                 batch_size: int) -> None:
        import ray

        from recommender.embedding.embedder import Embedder

        self.embedder = Embedder(model, batch_size=batch_size, torch_threads=1)
        if export is not None:  # the export's bytes, from the object store, on local disk
            self._dir = tempfile.mkdtemp(prefix="recommender-actor-")
            path = Path(self._dir) / "model.onnx"
            path.write_bytes(ray.get(export[0]))
            self.embedder = self.embedder.for_export(path, "openvino", precision)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        vectors = self.embedder.encode([str(t) for t in batch["text"]])
        backend = self.embedder.backend  # what really ran (bf16 falls back where no CPU has it)
        return {"row": batch["row"], "vector": vectors,
                "backend": np.array([f"{backend['runtime']}/{backend['precision']}"] *
                                    len(vectors))}


def embed_on_ray(texts: Sequence[str], *, address: str | None, model: str,
                 export: Path | None, precision: str, batch_size: int,
                 actors_per_node: int = 1) -> tuple[np.ndarray, dict[str, Any]]:
    """Embed ``texts`` on the cluster at ``address`` (None: ``RAY_ADDRESS`` or a local
    cluster, as ``ray.init`` takes it); returns their vectors, row for row, and what ran
    (for the manifest).

    Raises:
        RuntimeError: the cluster couldn't embed them (the build then writes nothing).
    """
    import ray

    started = time.perf_counter()
    joined = not ray.is_initialized()
    if joined:
        ray.init(address=address or None, log_to_driver=False, include_dashboard=False,
                 logging_level=logging.WARNING)
    try:
        nodes = [n for n in ray.nodes() if n.get("Alive")]
        batches = -(-len(texts) // max(batch_size, 1))
        # no more actors than batches: an actor with nothing to do still loads a model
        actors = max(1, min(actors_per_node * len(nodes), batches))
        export_ref = [ray.put(export.read_bytes())] if export is not None else None
        items = [{"row": i, "text": t} for i, t in enumerate(texts)]
        dataset = ray.data.from_items(items, override_num_blocks=max(actors, min(
            batches, 4 * actors)))
        embedded = dataset.map_batches(
            EmbedActor, batch_size=batch_size, batch_format="numpy", num_cpus=1,
            compute=ray.data.ActorPoolStrategy(size=actors),
            fn_constructor_kwargs={"model": model, "export": export_ref,
                                   "precision": precision, "batch_size": batch_size})
        vectors: np.ndarray | None = None
        backends: set[str] = set()
        for batch in embedded.iter_batches(batch_format="numpy", batch_size=None):
            rows, part = np.asarray(batch["row"]), np.asarray(batch["vector"])
            backends |= {str(b) for b in batch["backend"]}
            if vectors is None:
                vectors = np.empty((len(texts), part.shape[1]), dtype=np.float32)
            vectors[rows] = part
        if vectors is None:
            raise RuntimeError("the cluster returned no vectors")
        runtime, precision = sorted(backends)[0].split("/")
        info = {"runtime": runtime, "precision": precision if len(backends) == 1 else "mixed",
                "ray": {"address": address or os.environ.get("RAY_ADDRESS") or "local",
                        "nodes": len(nodes), "actors": actors,
                        "actors_per_node": actors_per_node, "batch_size": batch_size,
                        "seconds": round(time.perf_counter() - started, 2)}}
        log.info("embedded %d texts on %d Ray nodes, %d actors", len(texts), len(nodes), actors)
        return vectors, info
    finally:
        if joined:
            ray.shutdown()
