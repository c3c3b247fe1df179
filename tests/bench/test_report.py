"""Reports: the page's kwargs strings and table shapes, "not measured" rows, plots, from stored results."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from trtforge.bench.report import report_from_results
from trtforge.bench.sources import torch2trt_kwargs

from trtforge.config import load_config

REPO = Path(__file__).resolve().parents[2]

# The Heterogeneous Model rows of the benchmark page (torch2trt docs/benchmarks/dla_benchmarks.md), verbatim.
SEED_KWARGS = {
    "resnet18_fp16_gpu": "{'fp16_mode': True, 'default_device_type': DeviceType.GPU, 'max_batch_size': 1}",
    "resnet18_fp16_dla": "{'fp16_mode': True, 'default_device_type': DeviceType.DLA, 'max_batch_size': 1}",
    "resnet18_int8_gpu": "{'int8_mode': True, 'default_device_type': DeviceType.GPU, 'max_batch_size': 1}",
    "resnet18_int8_dla": "{'int8_mode': True, 'default_device_type': DeviceType.DLA, 'max_batch_size': 1}",
    "resnet18_fp16_gpu_dla1": "{'fp16_mode': True, 'default_device_type': DeviceType.GPU, 'device_types': "
                              "\"{'layer1': 'DLA'}\", 'max_batch_size': 1}",
    "resnet18_fp16_gpu_dla12": "{'fp16_mode': True, 'default_device_type': DeviceType.GPU, 'device_types': "
                               "\"{'layer1': 'DLA', 'layer2': 'DLA'}\", 'max_batch_size': 1}",
    "resnet18_fp16_gpu_dla123": "{'fp16_mode': True, 'default_device_type': DeviceType.GPU, 'device_types': "
                                "\"{'layer1': 'DLA', 'layer2': 'DLA', 'layer3': 'DLA'}\", 'max_batch_size': 1}",
    "resnet18_int8_gpu_dla1": "{'int8_mode': True, 'default_device_type': DeviceType.GPU, 'device_types': "
                              "\"{'layer1': 'DLA'}\", 'max_batch_size': 1}",
    "resnet18_int8_gpu_dla12": "{'int8_mode': True, 'default_device_type': DeviceType.GPU, 'device_types': "
                               "\"{'layer1': 'DLA', 'layer2': 'DLA'}\", 'max_batch_size': 1}",
    "resnet18_int8_gpu_dla123": "{'int8_mode': True, 'default_device_type': DeviceType.GPU, 'device_types': "
                                "\"{'layer1': 'DLA', 'layer2': 'DLA', 'layer3': 'DLA'}\", 'max_batch_size': 1}",
}


@pytest.mark.parametrize("name", sorted(SEED_KWARGS))
def test_kwargs_match_the_benchmark_page(name: str) -> None:
    assert torch2trt_kwargs(load_config(name)) == SEED_KWARGS[name]


def test_concurrent_kwargs_add_the_dla_core() -> None:
    assert torch2trt_kwargs(load_config("resnet18_int8_dla"), dla_core=1) == (
        "{'int8_mode': True, 'default_device_type': DeviceType.DLA, 'max_batch_size': 1, 'dla_core': 1}")


def test_the_report_renders_the_page_from_the_stored_h200_results(tmp_path: Path) -> None:
    results = tmp_path / "results"
    shutil.copytree(REPO / "bench" / "results" / "h200", results / "h200")
    written = report_from_results([results], tmp_path / "report")
    assert [p.name for p in written] == ["BENCHMARKS.md", "fps_per_config.png", "concurrent.png"]
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in written[1:])
    page = written[0].read_text()
    for heading in ("## Concurrent Model Execution", "### INT8", "### FP16", "#### 2GPU", "#### 1GPU - 1DLA",
                    "#### 2DLA (separate cores)", "## Heterogeneous Model", "## Accuracy"):
        assert heading in page
    assert page.count("| config | torch2trt_kwargs | tensorrt FPS |") == 6
    assert "| config | torch2trt kwargs | torch FPS | tensorrt FPS |" in page
    lines = page.splitlines()
    measured = [line for line in lines if line.startswith("| resnet18_fp16_gpu | ") and "NVIDIA H200" in line]
    assert measured and all("torch 2.11.0" in line for line in measured)
    assert "not measured here: no TensorRT installed" in page
    unmeasured = [line for line in lines if line.startswith("| resnet18_int8_dla | ")]
    assert unmeasured and all("not measured" in line for line in unmeasured)
    assert "aggregate" in page and "measured together for 10.0" in page
