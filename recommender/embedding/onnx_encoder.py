"""The model's ONNX export run by onnxruntime: the server's query path (no torch)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from recommender.embedding.encoder import MeanPooledExport


class OnnxEncoder(MeanPooledExport):
    """The export on onnxruntime, fp32: the torch vectors, about 2.4x sooner on a CPU."""

    runtime = "onnxruntime"

    def __init__(self, path: Path, tokenizer: Any, max_length: int, prompts: dict[str, str],
                 threads: int = 1) -> None:
        import onnxruntime

        super().__init__(tokenizer, max_length, prompts)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = max(1, threads)
        options.inter_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(str(path), options,
                                                    providers=["CPUExecutionProvider"])
        self.inputs = {i.name for i in self.session.get_inputs()}

    def _run(self, feed: dict[str, np.ndarray]) -> np.ndarray:
        return self.session.run(None, feed)[0]
