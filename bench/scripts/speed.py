"""Speed targets of issue 13, measured side by side in one process tree: this script is the parent, every
measurement is one child process (wall time from here, peak RSS from the kernel's rusage of that child).

    python bench/scripts/speed.py [--out DIR] [--images 512] [--compare-images 128]

- warm ``trtforge plan`` (every stage fresh)                                      target <= 1.0 s
- export + tag + plan of resnet18 from scratch (one ``trtforge plan``)            target <= 5 s
- ``trtforge engine -c resnet18_int8_gpu_dla12`` with ``--images`` images         target <= 30 s
- calibration (ranges) against ONNX Runtime's entropy calibrator on the same tagged model and the same
  ``--compare-images`` images: >= 3x faster and <= 1/10 of its peak RSS

For scale, the floor of the first two: a child that only imports torch and torchvision and exports resnet18 once
with ``torch.onnx.export(dynamo=True)`` (no trtforge), and the engine run's own time per stage.

ONNX Runtime's entropy calibrator keeps every activation of every image in memory (about 15 GB for 512 resnet18
images); ``--compare-images`` defaults to 128 so that it fits beside other work on a shared machine; the
comparison of peak RSS is then conservative (ours is flat in the number of images, ORT's grows with it).
Results are noisy on a shared machine: run it when the machine is quiet, and read them as indicative.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

CONFIG = "resnet18_int8_gpu_dla12"
ORT_SCRIPT = """
import sys, numpy as np
from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, create_calibrator
onnx_path, data, aug = sys.argv[1:4]
images = np.load(data, mmap_mode="r")

class Reader(CalibrationDataReader):
    def __init__(self):
        self.index = 0
    def get_next(self):
        if self.index >= len(images):
            return None
        self.index += 1
        return {"input": np.ascontiguousarray(images[self.index - 1:self.index])}

calibrator = create_calibrator(onnx_path, None, augmented_model_path=aug, calibrate_method=CalibrationMethod.Entropy)
calibrator.collect_data(Reader())
print(len(calibrator.compute_data().data), "tensors")
"""
OURS_SCRIPT = """
import sys
from pathlib import Path
from trtforge.calib.ranges import ranges_from_data
from trtforge.config import load_config
onnx_path, data, out, images = sys.argv[1:5]
config = load_config(sys.argv[5], [f"output_dir={out!r}", f"calibration.data={data!r}",
                                   f"calibration.batches={images}", "calibration.holdout_batches=0"])
print(len(ranges_from_data(Path(onnx_path), config).amax), "tensors")
"""
FLOOR_SCRIPT = """
import torch, torchvision
model = torchvision.models.resnet18(weights=None).eval()
torch.onnx.export(model, (torch.randn(1, 3, 224, 224),), dynamo=True, opset_version=18, optimize=True, verbose=False)
import os; os._exit(0)  # no interpreter teardown, as the trtforge command (trtforge.cli.run)
"""
STAGE_DONE = re.compile(r"\[trtforge\] (\w+): (?:done|skipped).*? in ([0-9.]+) s")


def run_child(args: list[str], *, env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """(wall seconds, peak RSS in MiB, output) of one child process of this script."""
    start = time.perf_counter()
    child = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    assert child.stdout is not None
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - start
    if child.returncode != 0:
        raise SystemExit(f"{' '.join(args[:6])} failed ({child.returncode}):\n{output[-3000:]}")
    return seconds, usage.ru_maxrss / 1024, output


def trtforge(*args: str) -> list[str]:
    return [sys.executable, "-m", "trtforge", *args]


def line(what: str, measured: str, target: str, ok: bool) -> str:
    return f"{what:<58} {measured:>22}   target {target:<16} {'PASS' if ok else 'MISS'}"


def images_npy(path: Path, count: int) -> Path:
    """``count`` images as the model sees them (normalised, NCHW float32), deterministic."""
    import numpy as np

    if not path.is_file():
        rng = np.random.default_rng(13)
        array = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(count, 3, 224, 224))
        for start in range(0, count, 32):
            pixels = rng.random((min(32, count - start), 3, 224, 224), dtype=np.float32)
            mean = np.array([0.485, 0.456, 0.406], np.float32).reshape(-1, 1, 1)
            std = np.array([0.229, 0.224, 0.225], np.float32).reshape(-1, 1, 1)
            array[start:start + len(pixels)] = (pixels - mean) / std
        array.flush()
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("artifacts/bench/speed"))
    parser.add_argument("--images", type=int, default=512, help="calibration images of the engine run")
    parser.add_argument("--compare-images", type=int, default=128, help="images of the calibrator comparison")
    args = parser.parse_args()
    out = args.out.resolve()
    if out.exists():
        import shutil

        shutil.rmtree(out)
    out.mkdir(parents=True)
    results: dict[str, object] = {"machine": os.uname().nodename, "cpus": os.cpu_count()}
    lines = [f"trtforge speed benchmarks ({os.cpu_count()} CPUs; one child process each; noisy on a shared machine)"]

    scratch, _, _ = run_child(trtforge("plan", "-c", CONFIG, "--out", str(out / "scratch")))
    lines.append(line("export + tag + plan of resnet18 from scratch", f"{scratch:.2f} s", "<= 5 s", scratch <= 5))
    floor, _, _ = run_child([sys.executable, "-c", FLOOR_SCRIPT])
    lines.append(f"  floor: import torch + torchvision, one dynamo export of resnet18 (no trtforge): {floor:.2f} s")
    warm, _, _ = run_child(trtforge("plan", "-c", CONFIG, "--out", str(out / "scratch")))
    lines.append(line("warm `trtforge plan` (every stage fresh)", f"{warm:.2f} s", "<= 1.0 s", warm <= 1.0))
    results.update(scratch_plan_s=scratch, warm_plan_s=warm)

    engine, engine_rss, engine_log = run_child(trtforge("engine", "-c", CONFIG, "--out", str(out / "engine"),
                                               "--set", f"calibration.batches={args.images}"))
    lines.append(line(f"`trtforge engine -c {CONFIG}`, {args.images} images (scratch)",
                      f"{engine:.1f} s, {engine_rss:.0f} MiB", "<= 30 s", engine <= 30))
    stages = {name: float(seconds) for name, seconds in STAGE_DONE.findall(engine_log)}
    lines.append("  stages: " + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in stages.items()))
    results.update(engine_s=engine, engine_peak_rss_mib=engine_rss, engine_images=args.images, engine_stages_s=stages,
                   export_floor_s=floor)

    tagged = out / "scratch" / "tagged.onnx"
    data = images_npy(out / f"images{args.compare_images}.npy", args.compare_images)
    ours, ours_rss, _ = run_child([sys.executable, "-c", OURS_SCRIPT, str(tagged), str(data), str(out / "ours"),
                                   str(args.compare_images), CONFIG])
    ort, ort_rss, _ = run_child([sys.executable, "-c", ORT_SCRIPT, str(tagged), str(data), str(out / "aug.onnx")])
    speedup, memory = ort / ours, ours_rss / ort_rss
    lines.append(line(f"calibration, {args.compare_images} images: ours / ORT entropy",
                      f"{ours:.1f} s / {ort:.1f} s", ">= 3x faster", speedup >= 3))
    lines.append(line("", f"x{speedup:.1f}", "", speedup >= 3))
    lines.append(line("calibration peak RSS: ours / ORT entropy", f"{ours_rss:.0f} / {ort_rss:.0f} MiB",
                      "<= 1/10", memory <= 0.1))
    lines.append(line("", f"{memory:.3f}", "", memory <= 0.1))
    results.update(calib_images=args.compare_images, calib_s=ours, calib_peak_rss_mib=ours_rss,
                   ort_entropy_s=ort, ort_entropy_peak_rss_mib=ort_rss)
    print("\n".join(lines))
    (out / "speed.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"results: {out / 'speed.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
