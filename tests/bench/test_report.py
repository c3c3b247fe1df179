"""Reports: the page's kwargs strings and table shapes, "not measured" rows, plots, from stored results."""

from __future__ import annotations

import re
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


def _write(folder: Path, record: object) -> Path:
    import json

    path = folder / "bad.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record))
    return path


def test_defect11_report_result_missing_machine(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The report's case: a concurrent result with ``processes: "oops"`` and no ``machine``: one line naming
    the file and the field, exit 2, nothing written."""
    from trtforge.cli import main
    from trtforge.log import logger

    monkeypatch.setattr(logger, "handlers", [])  # log to this test's captured stderr, not an earlier test's

    path = _write(tmp_path / "results" / "concurrent", {"format": "trtforge.bench.concurrent/1", "processes": "oops"})
    assert main(["report", "--results", str(tmp_path / "results"), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert _one_error_line(err) and str(path) in err and "found no machine" in err and "delete it" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("record", "found"), [
    ({"format": "trtforge.bench.concurrent/1", "processes": "oops", "machine": {}}, "found no scenario"),
    ({"format": "trtforge.bench.concurrent/1", "scenario": "s", "runtime": "torch", "window_s": 1,
      "aggregate_fps": 1.0, "overlap": {"seconds": 1, "share_of_longest": 1}, "processes": "oops", "machine": {}},
     "found processes = 'oops' (str), not list"),
    ({"format": "trtforge.bench.throughput/1", "config": "c", "kwargs": "{}", "machine": {},
      "torch": [{"measured": True, "fps": "fast"}]}, "found torch[0].fps = 'fast' (str), not int or float"),
    ({"format": "trtforge.bench.compare/1", "machine": [], "rows": []}, "found machine = '[]' (list), not dict"),
    ([1, 2], "to be a JSON object; found list"),
])
def test_defect11_malformed_results_give_one_error_naming_the_file(tmp_path: Path, record: object,
                                                                    found: str) -> None:
    from trtforge.errors import TrtforgeError

    path = _write(tmp_path / "results", record)
    with pytest.raises(TrtforgeError, match=re.escape(found)) as caught:
        report_from_results([tmp_path / "results"], tmp_path / "out")
    assert str(path) in str(caught.value)


def test_a_stand_in_without_an_engine_record_renders(tmp_path: Path) -> None:
    from trtforge.bench.report import engine_cell

    stand_in = {"measured": False, "reason": "not measured here: no model"}
    assert engine_cell({"onnxruntime": stand_in}) == ("not measured here: no stored result; ONNX Runtime CPU "
                                                      "stand-in: not measured here: no model")


def _one_error_line(err: str) -> bool:
    """Exactly one ``trtforge: error:`` line and no traceback (stage log lines may come before it)."""
    return "Traceback" not in err and [line.startswith("trtforge: error: ") for line in err.splitlines()
                                       if not line.startswith("[trtforge]")] == [True]
