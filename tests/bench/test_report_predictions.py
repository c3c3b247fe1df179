"""The report shows stored predictions beside measurements, labelled PREDICTED with device and catalogue
version, never in place of a measurement; the FPS plot draws them as separate, hatched bars."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from trtforge.bench.plots import _beside, _predicted_bars
from trtforge.bench.predictions import device_for_machine, stored_predictions
from trtforge.bench.report import report_from_results

REPO = Path(__file__).resolve().parents[2]


def _prediction(folder: Path, name: str, record: dict[str, Any]) -> None:
    path = folder / "xavier-nx" / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"predicted": True, "device": "xavier-nx", "catalogue_version": "test-1", **record}))


def _stored(tmp_path: Path) -> Path:
    folder = tmp_path / "predictions"
    _prediction(folder, "resnet18_fp16_gpu", {"config": "resnet18_fp16_gpu", "fps": 4321.5, "fps_low": 4000.0,
                                              "fps_high": 4600.0})
    _prediction(folder, "resnet18_int8_dla", {"config": "resnet18_int8_dla", "fps": 999.0, "fps_low": 900.0,
                                              "fps_high": 1100.0})
    _prediction(folder, "scenario_fp16_2gpu", {
        "scenario": "fp16_2gpu", "aggregate_fps": 5555.5, "aggregate_fps_low": 5000.0, "aggregate_fps_high": 6000.0,
        "processes": [{"config": "resnet18_fp16_gpu", "dla_core": None, "fps": 2777.7}] * 2})
    return folder


def test_predictions_sit_beside_measurements_and_say_what_they_are(tmp_path: Path) -> None:
    results = tmp_path / "results"
    shutil.copytree(REPO / "bench" / "results" / "h200", results / "h200")
    written = report_from_results([results], tmp_path / "report", predictions=_stored(tmp_path))
    lines = written[0].read_text().splitlines()
    rows = [line.split(" | ") for line in lines if line.startswith("| resnet18_fp16_gpu | ")]
    rows = [cells for cells in rows if len(cells) == 4 and "torch 2.11.0" in cells[2]]  # the Heterogeneous table
    assert rows
    for cells in rows:
        measured, predicted = cells[3].split("; PREDICTED", 1)
        assert "4321.5" not in measured  # the measured cell keeps its own number first
        assert "for xavier-nx (catalogue test-1, not measured): 4321.5 FPS (4000.0 - 4600.0)" in predicted
    # no measurement of resnet18_int8_dla here: its stored prediction is not shown as if it were one
    assert not any("999.0" in line for line in lines if line.startswith("| resnet18_int8_dla | "))
    scenario = [line for line in lines if line.startswith("PREDICTED for xavier-nx") and "aggregate 5555.5" in line]
    assert len(scenario) == 1
    assert "Figures marked PREDICTED come from the cost model" in lines[2]


def test_a_measured_config_without_a_stored_prediction_says_how_to_make_one(tmp_path: Path) -> None:
    results = tmp_path / "results"
    shutil.copytree(REPO / "bench" / "results" / "h200", results / "h200")
    written = report_from_results([results], tmp_path / "report", predictions=tmp_path / "none")
    page = written[0].read_text()
    assert "predicted: none stored (`trtforge predict -c resnet18_int8_gpu --device xavier-nx`)" in page


def test_the_fps_plot_puts_a_labelled_predicted_bar_after_each_measured_config(tmp_path: Path) -> None:
    record = {"config": "resnet18_fp16_gpu", "machine": {"gpus": ["NVIDIA H200"]}}
    predicted = stored_predictions(_stored(tmp_path))
    bars = _predicted_bars([record], predicted)
    assert bars == [("resnet18_fp16_gpu | PREDICTED xavier-nx (catalogue test-1)", 4321.5)]
    measured = [("resnet18_fp16_gpu | torch fp16 | H200", 100.0), ("resnet18_int8_gpu | torch fp32 | H200", 50.0)]
    assert [b[0] for b in _beside(measured, bars)] == [
        "resnet18_fp16_gpu | torch fp16 | H200", "resnet18_fp16_gpu | PREDICTED xavier-nx (catalogue test-1)",
        "resnet18_int8_gpu | torch fp32 | H200"]
    assert _beside([], bars) == []  # nothing predicted is drawn without a measurement beside it


def test_a_jetson_measurement_is_compared_with_its_own_device() -> None:
    assert device_for_machine({"jetson": "NVIDIA Jetson AGX Orin Developer Kit"}) == "agx-orin"
    assert device_for_machine({"jetson": "NVIDIA Jetson Xavier NX Developer Kit"}) == "xavier-nx"
    assert device_for_machine({"gpus": ["NVIDIA H200"]}) == "xavier-nx"  # the page's device otherwise
