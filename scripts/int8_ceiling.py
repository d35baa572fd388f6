"""How much of each film's top-10 an int8 all-MiniLM-L6-v2 can keep (issue 39's quality
bar is 98%), measured on the Netflix catalog against the fp32 export's vectors:

- bf16 through OpenVINO (what builds use where the CPU has BF16), for reference;
- ONNX Runtime's dynamic int8 (weights per channel, activations per tensor), all MatMuls,
  and each kind of MatMul alone (query/key/value, attention output, FFN in, FFN out);
- OpenVINO with NNCF's weight-only int8 (activations stay float: the least lossy int8);
- int8 simulated in torch (weights per output channel), with activations per token and
  per group of 32 channels of a token: the finest activation scales a kernel could use.

Quality only: every figure is deterministic, whatever the machine's load.

    python scripts/int8_ceiling.py [--out bench-results/int8-ceiling.json]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import faiss
import numpy as np
from benchlib import load_netflix, save_report

from recommender.embedding.embedder import Embedder, document_text
from recommender.index.build import build_index
from recommender.index.store import load_index

MATMULS = {"query/key/value": ("/query/", "/key/", "/value/"),
           "attention output": ("/attention/output/dense",),
           "FFN in": ("/intermediate/dense",), "FFN out": ("/output/dense",)}


def neighbours(vectors: np.ndarray, k: int = 10) -> list[set[int]]:
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(vectors)
    _, found = index.search(vectors, k + 1)
    return [set(row[row != i][:k]) for i, row in enumerate(found)]


def kept(reference: list[set[int]], vectors: np.ndarray) -> float:
    return float(np.mean([len(a & b) / 10 for a, b in zip(reference, neighbours(vectors),
                                                            strict=True)]))


def ort_dynamic(fp32: Path, out: Path, only: tuple[str, ...] | None) -> Path:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    names = [n.name for n in onnx.load(str(fp32)).graph.node if n.op_type == "MatMul"]
    weighted = [n for n in names if not n.endswith(("self/MatMul", "self/MatMul_1"))]
    chosen = [n for n in weighted if only is None or (any(p in n for p in only)
              and not (only == MATMULS["FFN out"] and "attention" in n))]
    quantize_dynamic(str(fp32), str(out), weight_type=QuantType.QInt8, per_channel=True,
                     op_types_to_quantize=["MatMul"],
                     nodes_to_exclude=[n for n in names if n not in chosen],
                     extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    return out


def weight_only(fp32: Path, out: Path) -> Path:
    import nncf
    import openvino

    model = nncf.compress_weights(openvino.Core().read_model(str(fp32)),
                                  mode=nncf.CompressWeightsMode.INT8_ASYM)
    openvino.save_model(model, str(out))
    return out


def simulated(texts: list[str], model_path: str, activations: str) -> np.ndarray:
    """int8 in torch: weights per output channel, activations per token or per group of
    32 channels of a token (rounded to int8 and back before every Linear)."""
    import torch
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(model_path, device="cpu")

    def fake(x: torch.Tensor, dim: int) -> torch.Tensor:
        scale = x.abs().amax(dim=dim, keepdim=True).clamp(min=1e-8) / 127
        return torch.round(x / scale).clamp(-127, 127) * scale

    def grouped(x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        return fake(x.reshape(*shape[:-1], shape[-1] // 32, 32), -1).reshape(shape)

    for module in model.modules():
        if isinstance(module, torch.nn.Linear):
            module.weight.data = fake(module.weight.data, 1)
            module.register_forward_pre_hook(
                lambda _m, inp: (fake(inp[0], -1) if activations == "token"
                                 else grouped(inp[0]),))
    with torch.inference_mode():
        return model.encode(texts, batch_size=64, normalize_embeddings=True,
                            convert_to_numpy=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="bench-results/int8-ceiling.json")
    args = parser.parse_args()
    rows: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "netflix"
        build_index(load_netflix(), Embedder(), folder, progress=False, export_onnx=True,
                    precision="fp32")
        index = load_index(folder)
        fp32 = index.query_model_path
        assert fp32 is not None
        texts = [document_text(f) for f in index.films]
        reference = neighbours(index.faiss_index.reconstruct_n(0, len(index)))
        embedder = Embedder(torch_threads=os.cpu_count())

        def run(name: str, path: Path, runtime: str = "onnxruntime",
                precision: str = "fp32") -> None:
            rows[name] = kept(reference, embedder.for_export(path, runtime, precision)
                              .encode(texts))
            print(f"{name}: {rows[name]:.4f}", flush=True)

        run("bf16, OpenVINO (what builds use with BF16)", fp32, "openvino", "bf16")
        run("int8 dynamic, ONNX Runtime, every MatMul", ort_dynamic(fp32, Path(tmp) / "a.onnx",
                                                                    None))
        for kind, parts in MATMULS.items():
            run(f"int8 dynamic, ONNX Runtime, {kind} only",
                ort_dynamic(fp32, Path(tmp) / f"{len(rows)}.onnx", parts))
        run("int8 weights only (NNCF), activations float, OpenVINO",
            weight_only(fp32, Path(tmp) / "w.xml"), "openvino", "fp32")
        location = embedder.location
        for activations in ("token", "group"):
            name = ("int8 simulated: weights per channel, activations per token"
                    if activations == "token" else
                    "int8 simulated: weights per channel, activations per 32 channels")
            rows[name] = kept(reference, simulated(texts, location, activations))
            print(f"{name}: {rows[name]:.4f}", flush=True)
    print("\n| variant | films' top-10 kept (against fp32) |\n|---|---|")
    for name, value in rows.items():
        print(f"| {name} | {value:.1%} |")
    save_report(args.out, {"films": len(texts), "top10_kept": rows})


if __name__ == "__main__":
    main()
