"""What the benchmark scripts share: the Netflix catalog, its columns, free-text queries,
and printing a Markdown table. Imported by the scripts beside it (not part of the package)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # the scripts run from a checkout, as `python scripts/x.py`
    sys.path.insert(0, str(ROOT))

from recommender.catalog.films import Catalog, CsvColumns, load_catalog  # noqa: E402
from recommender.files import write_json_atomically  # noqa: E402

NETFLIX = ROOT.parent / "shared" / "datasets" / "netflix_titles.csv"
NETFLIX_COLUMNS = CsvColumns(title="Movie", text="description", year="release_year",
                             genres="genre")
QUERIES = ["a heist in Spain", "zombie apocalypse survivors", "stand-up comedy special",
           "a shark attacks swimmers", "teenagers fall in love at summer camp",
           "a detective hunts a serial killer", "documentary about climate change",
           "a boxer trains for the fight of his life", "space travel to Mars",
           "a family moves into a haunted house"]


def load_netflix(path: str | Path = NETFLIX) -> Catalog:
    """The Netflix catalog as docs/cli.md builds it; exits with a message if it is absent."""
    if not Path(path).exists():
        sys.exit(f"{path} is absent: the benchmarks read ../shared/datasets/netflix_titles.csv")
    return load_catalog(path, NETFLIX_COLUMNS, language="en")


def distinct_queries(n: int) -> list[str]:
    """``n`` queries, none repeated, so no cache answers them."""
    return [f"{QUERIES[i % len(QUERIES)]} {i}" for i in range(n)]


def save_report(path: str | Path, report: dict) -> None:
    """Write a benchmark's figures as JSON (atomically) and say where."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    write_json_atomically(path, report)
    print(f"written to {path}")


def quantize_int8(fp32_model: str | Path, out: str | Path) -> Path:
    """ONNX dynamic int8 quantisation of an fp32 export, the best variant measured here.

    Per-channel weights, MatMul only (activation x activation products stay fp32 either
    way). On Netflix it kept 85% of the films' top-10 neighbours; leaving the FFN output
    projections fp32 gave 89%, at half the speed-up; per-tensor weights 69%. Every
    variant stays under the 95% quality guard, so neither the build nor the server
    uses it: the benchmarks print it for the record.
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(fp32_model), str(out), weight_type=QuantType.QInt8, per_channel=True,
                     op_types_to_quantize=["MatMul"],
                     extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    return Path(out)


def quantize_static_int8(fp32_model: str | Path, out: str | Path, texts: list[str],
                         tokenizer: object, samples: int = 300) -> Path:
    """OpenVINO static int8 of an fp32 export, calibrated on ``samples`` of ``texts``
    with NNCF (its transformer preset: attention products and norms stay in float).

    Measured on Netflix: 91.6% top-10 agreement (mixed preset), 90.9% (performance
    preset), 83% with SmoothQuant; under the 95% guard, so it is printed, not used.
    """
    import nncf
    import numpy as np
    import openvino

    model = openvino.Core().read_model(str(fp32_model))
    names = [i.get_any_name() for i in model.inputs]

    def feed(text: str) -> dict[str, np.ndarray]:
        encoded = tokenizer([text], return_tensors="np", truncation=True, max_length=256)
        return {n: encoded[n].astype(np.int64) for n in names}

    step = max(1, len(texts) // samples)
    calibration = nncf.Dataset([feed(t) for t in texts[::step][:samples]])
    quantized = nncf.quantize(model, calibration, model_type=nncf.ModelType.TRANSFORMER,
                              preset=nncf.QuantizationPreset.MIXED, subset_size=samples)
    openvino.save_model(quantized, str(out))
    return Path(out)


def train_and_wait(index: Path, events_url: str, base: str) -> float:
    """``recommender train`` as a whole process on ``index`` from ``events_url``, then
    wait (30 s at most) until every worker of the server at ``base`` serves the model;
    the training's seconds."""
    import subprocess
    import time

    from tests.ops import call

    started = time.perf_counter()
    trained = subprocess.run([sys.executable, "-m", "recommender.cli", "train", "--index",
                              str(index), "--events-url", events_url],
                             cwd=ROOT, capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - started
    version = Path(trained.stdout.split()[1]).name
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not all(
            (call(base + "/ready")[1].get("collaborative") or {}).get("version") == version
            for _ in range(6)):
        time.sleep(0.3)
    return seconds
