"""Measured: calibration memory stays flat while the number of batches grows (streamed histograms).

The peak of Python-visible allocations (numpy arrays included, via tracemalloc) and the peak resident set size of a
fresh process (ONNX Runtime's own buffers included) while collecting ranges for N and 4N batches must be about the
same, although 4N batches push four times as many activations through. N is chosen so that both take several
ONNX Runtime runs (``CHUNK_SAMPLES`` samples per run): memory is bounded by one run, whatever the number of runs."""

from __future__ import annotations

import json
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest

from trtforge.config import config_from_dict

pytestmark = [pytest.mark.slow, pytest.mark.torch]


def _peak_bytes(onnx_path: Path, batches: int, out: Path) -> tuple[int, int]:
    """(peak traced bytes during ranges_from_data, activation bytes streamed through it)."""
    import onnx
    from trtforge.calib.data import source_from_config
    from trtforge.calib.ranges import ranges_from_data, session_with_tensors, tensors_to_calibrate

    config = config_from_dict({"name": "nested_mem", "model": "tiny_models:nested", "inputs": {"x": [3, 64, 64]},
                               "outputs": ["y"], "max_batch_size": 4, "precision": "int8", "output_dir": str(out),
                               "calibration": {"batches": batches, "holdout_batches": 0}})
    model = onnx.load(str(onnx_path))
    names = tensors_to_calibrate(model)
    first = next(source_from_config(config).batches())
    per_batch = sum(a.nbytes for a in session_with_tensors(model, names).run(names, first))
    tracemalloc.start()
    try:
        ranges_from_data(onnx_path, config)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, per_batch * batches


# VmHWM (this process's own peak RSS); ru_maxrss would carry the forking pytest process's peak across exec.
_RSS_SCRIPT = """
import json, re, sys
from pathlib import Path
from trtforge.calib.ranges import ranges_from_data
from trtforge.config import config_from_dict
config = config_from_dict(json.loads(sys.argv[1]))
ranges_from_data(Path(sys.argv[2]), config)
print(re.search(r"VmHWM:\\s+(\\d+) kB", Path("/proc/self/status").read_text()).group(1))
"""


def _peak_rss_kib(onnx_path: Path, batches: int, out: Path) -> int:
    """Peak RSS of a fresh process that collects the ranges of ``batches`` batches."""
    raw = {"name": "nested_mem", "model": "tiny_models:nested", "inputs": {"x": [3, 64, 64]}, "outputs": ["y"],
           "max_batch_size": 4, "precision": "int8", "output_dir": str(out),
           "calibration": {"batches": batches, "holdout_batches": 0}}
    done = subprocess.run([sys.executable, "-c", _RSS_SCRIPT, json.dumps(raw), str(onnx_path)], capture_output=True,
                          text=True, check=True)
    return int(done.stdout.split()[-1])


def test_peak_memory_is_flat_in_the_number_of_batches(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from trtforge.pipeline import tagged_from_config

    config = config_from_dict({"name": "nested_mem", "model": "tiny_models:nested", "inputs": {"x": [3, 64, 64]},
                               "outputs": ["y"], "max_batch_size": 4, "precision": "int8",
                               "output_dir": str(tmp_path)})
    onnx_path = tagged_from_config(config).tagged_path
    _peak_bytes(onnx_path, 1, tmp_path)  # warm-up: imports and one-time caches are not counted below
    from trtforge.calib.ranges import CHUNK_SAMPLES

    few = 2 * CHUNK_SAMPLES // 4  # batches of 4: two runs
    small, streamed_small = _peak_bytes(onnx_path, few, tmp_path)
    large, streamed_large = _peak_bytes(onnx_path, 4 * few, tmp_path)
    with capsys.disabled():
        print(f"\ncalibration peak traced memory: {few} batches {small / 2**20:.1f} MiB "
              f"({streamed_small / 2**20:.1f} MiB of activations streamed), {4 * few} batches {large / 2**20:.1f} MiB "
              f"({streamed_large / 2**20:.1f} MiB streamed); growth {100 * (large / small - 1):+.1f} %")
    assert streamed_large >= 4 * streamed_small > 0
    assert large < 1.10 * small, (small, large)  # storing activations would grow ~4x
    rss_small, rss_large = _peak_rss_kib(onnx_path, few, tmp_path), _peak_rss_kib(onnx_path, 4 * few, tmp_path)
    with capsys.disabled():
        print(f"calibration peak RSS of a fresh process: {few} batches {rss_small / 1024:.0f} MiB, {4 * few} batches "
              f"{rss_large / 1024:.0f} MiB; growth {100 * (rss_large / rss_small - 1):+.1f} %")
    assert rss_large < 1.10 * rss_small, (rss_small, rss_large)
