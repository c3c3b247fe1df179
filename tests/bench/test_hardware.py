"""The GPU and TensorRT paths: skipped here with their reason, run on a machine that has them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from trtforge.bench.timing import timing_from_workload

from trtforge.cli import main
from trtforge.config import load_config


@pytest.mark.gpu
@pytest.mark.torch
def test_torch_fps_on_cuda_in_fp32_and_fp16(tmp_path: Path) -> None:
    assert main(["bench", "--config", "resnet18_fp16_gpu", "--runtime", "torch", "--set", "bench.iterations=20",
                 "--results", str(tmp_path)]) == 0
    (path,) = (tmp_path / "throughput").glob("*.json")
    record = json.loads(path.read_text())
    assert [m["label"]["precision"] for m in record["torch"]] == ["fp32", "fp16"]
    assert all(m["label"]["device"].startswith("cuda") and m["fps"] > 0 for m in record["torch"])


@pytest.mark.tensorrt
@pytest.mark.gpu
def test_the_engine_runs_with_device_buffers_and_compares_with_the_reference(tmp_path: Path) -> None:
    from trtforge.bench.compare import rows_from_configs
    from trtforge.bench.sources import engine_for
    from trtforge.bench.workloads import tensorrt_workload

    config = load_config("resnet18_fp16_gpu", [f"output_dir={str(tmp_path / 'r18')!r}"])
    workload = tensorrt_workload(config, engine_for(config), dla_core=config.dla_core)
    timing = timing_from_workload(workload, warmup=5, iterations=50)
    assert timing.fps > 0 and timing.latency_ms["p50"] > 0
    rows, _ = rows_from_configs([config], data="generated", samples=2)
    engine_rows = [r for r in rows if r.candidate.startswith("tensorrt engine")]
    assert engine_rows and all(r.status == "PASS" for r in engine_rows)
