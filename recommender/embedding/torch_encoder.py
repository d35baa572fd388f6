"""A sentence-transformers model on torch: what exports the ONNX graph, and what embeds
where no export is wanted (``RECOMMENDER_QUERY_BACKEND=torch``, a model without one).

torch is imported here only, when a model is loaded: ~4.6 s and ~400 MB a process, which
the server's workers, the CLI's read-only commands and the catalog checks never pay.
"""

from __future__ import annotations

import copy
import logging
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from recommender.files import staged_file

log = logging.getLogger(__name__)


class TorchEncoder:
    """The model in ``location`` on the CPU, in inference mode."""

    runtime = "torch"
    precision = "fp32"

    def __init__(self, name: str, location: str, prompts: dict[str, str], *,
                 batch_size: int = 64, threads: int | None = None) -> None:
        if threads:
            # Before torch's first import in this process, so its pools are sized once.
            os.environ.setdefault("OMP_NUM_THREADS", str(threads))
        # A hub download can't succeed on an offline machine; failing fast
        # with a clear message beats a minute of retries.
        if Path(location).exists():
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import torch
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # our own bar covers the work that takes time
        if threads:
            torch.set_num_threads(threads)
        log.info("loading model %s from %s", name, location)
        try:
            self.model: Any = SentenceTransformer(location, device="cpu")
            # Inference only: a module starts in training mode, with dropout on, and
            # only encode() switches it off; the single-query path calls it directly.
            self.model.eval()
        except Exception as exc:  # the library raises many kinds; one clear message
            raise OSError(
                f"cannot load the sentence-transformers model {name!r} from {location!r}: "
                f"{exc}. Give a local model directory or a hub name with --model / "
                "RECOMMENDER_MODEL.") from exc
        self.prompts = prompts
        self.batch_size = batch_size

    @property
    def dimension(self) -> int:
        getter = getattr(self.model, "get_embedding_dimension", None) or \
            self.model.get_sentence_embedding_dimension
        return int(getter())

    @property
    def tokenizer(self) -> tuple[Any, int]:
        """The model's own tokenizer and longest input, for an export of a model folder
        that has no ``tokenizer.json``."""
        return self.model.tokenizer, self.model.max_seq_length

    def encode_documents(self, texts: Sequence[str], task: str = "document") -> np.ndarray:
        prompt = self.prompts.get(task, "")
        return self.model.encode([prompt + t for t in texts], batch_size=self.batch_size,
                                 normalize_embeddings=True, convert_to_numpy=True,
                                 show_progress_bar=False)

    def encode_query(self, text: str) -> np.ndarray:
        """Through the model's own modules (tokenizer, transformer, pooling), skipping
        ``encode``'s batching machinery: the same vector, ~0.8 ms sooner."""
        import torch

        text = self.prompts.get("query", "") + text
        with torch.inference_mode():
            features = self.model.preprocess([text])
            features = {k: v.to(self.model.device) if isinstance(v, torch.Tensor) else v
                        for k, v in features.items()}
            vector = self.model(features)["sentence_embedding"]
            vector = torch.nn.functional.normalize(vector, dim=1)
        return vector[0].cpu().numpy().astype(np.float32)

    def export_onnx(self, path: Path) -> bool:
        """Export the transformer to ONNX at ``path`` (atomically), offline.

        Returns False, writing nothing, for a model the ONNX path can't reproduce
        (pooling other than a mean over tokens).
        """
        import torch

        modules = list(self.model)
        pooling = modules[1].get_config_dict() if len(modules) > 1 else {}
        if type(modules[0]).__name__ != "Transformer" or pooling.get("pooling_mode") != "mean":
            return False
        # A copy: tracing leaves the traced module changed (later forward passes in this
        # process gave different vectors), and the model itself goes on embedding.
        transformer = copy.deepcopy(modules[0].auto_model).eval()
        sample = self.model.tokenizer(["a sample sentence"], return_tensors="pt")
        names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in sample]

        class _Tokens(torch.nn.Module):  # keyword arguments: forward()'s order differs
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
