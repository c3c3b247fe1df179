"""Calibration's histogram binning of real activations, measured side by side in one process: numpy's passes
(multiply, add, cast, ``bincount``, tail masks; what ``GrowingHistogram`` did before) against the compiled
``bin_and_collect`` with int64 and with int32 counts; and, for scale, ONNX Runtime's inference of the same run.

    python bench/scripts/calib_speed.py [--onnx artifacts/<config>/tagged.onnx] [--images 18] [--rounds 3]

Without ``--onnx`` the resnet18 model of ``resnet18_int8_gpu_dla12`` is exported and tagged first (``trtforge
tag``). The images are random (normalised uniform pixels); the activations are the model's.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

CONFIG = "resnet18_int8_gpu_dla12"
FINE = 2048 * 64


def numpy_bin_and_collect(part: np.ndarray, scale: np.float32, offset: np.float32, counts: np.ndarray, first: int,
                          last: int) -> np.ndarray:
    """The numpy passes the compiled loop replaced (same float32 arithmetic)."""
    scaled = np.multiply(part, scale, dtype=np.float32)
    scaled += offset
    index = scaled.astype(np.intp)
    binned = np.bincount(index)
    counts[:binned.size] += binned
    return part[(index < first) | (index > last)]


def best_of(rounds: int, fn: Callable[[], object]) -> float:
    fn()
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def tagged_model(out: Path) -> Path:
    subprocess.run([sys.executable, "-m", "trtforge", "tag", "-c", CONFIG, "--out", str(out)], check=True)
    return out / "tagged.onnx"


def activations(onnx_path: Path, images: np.ndarray) -> tuple[list[str], list[np.ndarray], object]:
    import onnx
    from trtforge.calib.ranges import _session, calibration_copy, relu_inputs, tensors_to_calibrate

    model = onnx.load(str(onnx_path))
    names = tensors_to_calibrate(model)
    fetch = [n for n in names if n not in relu_inputs(model, names)]
    session = _session(calibration_copy(model, fetch, 1))
    return fetch, session.run(fetch, {"input": images}), session


def histogram_rows(values: list[np.ndarray], rounds: int) -> list[tuple[str, float]]:
    from trtforge.calib.histogram import _binning

    kernel = _binning()
    flat = [np.ascontiguousarray(v.reshape(-1), dtype=np.float32) for v in values]
    scales = [np.float32(FINE / (float(np.abs(v).max()) or 1.0)) for v in flat]
    total = sum(v.size for v in flat)
    tails = np.empty(max(v.size for v in flat), np.float32)

    def numpy_pass(dtype: type) -> Callable[[], None]:
        counts: list[np.ndarray] = [np.zeros(2 * FINE + 1, dtype) for _ in flat]

        def run() -> None:
            for v, s, c in zip(flat, scales, counts, strict=True):
                numpy_bin_and_collect(v, s, np.float32(FINE), c, FINE // 2, 3 * FINE // 2)
        return run

    def compiled(dtype: type) -> Callable[[], None]:
        counts: list[np.ndarray] = [np.zeros(2 * FINE + 1, dtype) for _ in flat]

        def run() -> None:
            for v, s, c in zip(flat, scales, counts, strict=True):
                kernel(v, s, np.float32(FINE), c, FINE // 2, 3 * FINE // 2, tails)
        return run

    rows = []
    for label, fn in [("numpy passes, int64 counts", numpy_pass(np.int64)),
                      ("compiled loop, int64 counts", compiled(np.int64)),
                      ("compiled loop, int32 counts", compiled(np.int32))]:
        rows.append((label, best_of(rounds, fn) / total * 1e9))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--onnx", type=Path)
    parser.add_argument("--out", type=Path, default=Path("artifacts/bench/calib_speed"))
    parser.add_argument("--images", type=int, default=18, help="samples per inference run")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    onnx_path = args.onnx or tagged_model(args.out)
    rng = np.random.default_rng(13)
    images = ((rng.random((args.images, 3, 224, 224), dtype=np.float32) - 0.45) / 0.226).astype(np.float32)
    fetch, values, session = activations(onnx_path, images)
    lines = [f"calibration inner loops, {onnx_path} ({len(fetch)} fetched tensors, {args.images} images a run; "
             f"best of {args.rounds})"]
    for label, ns in histogram_rows(values, args.rounds):
        lines.append(f"  histogram  {label:<40} {ns:6.2f} ns a value")
    run_s = best_of(args.rounds, lambda: session.run(fetch, {"input": images}))  # type: ignore[attr-defined]
    lines.append(f"  inference  {'ONNX Runtime, the same run':<40} {run_s / args.images * 1e3:6.1f} ms an image "
                 f"({sum(v.size for v in values) / args.images / 1e6:.1f} M values an image to bin)")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
