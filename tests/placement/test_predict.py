"""``trtforge predict``: every named config (resnet18 and resnet50) and every scenario on every catalogue device
with DLA, the JSON shapes the issue fixes, the labels (predicted, device, catalogue version), the no-DLA
device, and records kept apart from measured results."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from trtforge.placement.cost import devices_with_dla, load_catalogue
from trtforge.placement.predict import (
    PREDICTION_FORMAT,
    plan_on_device,
    predict_config,
    predict_scenario,
    work_from_tagged,
    write_prediction,
)

from trtforge.config import Config, available_configs, available_scenarios, load_config, load_scenario

CATALOGUE = load_catalogue()
DLA_DEVICES = devices_with_dla(CATALOGUE)
RESNET18 = [n for n in available_configs() if n.startswith("resnet18_")]
RESNET50 = [n for n in available_configs() if n.startswith("resnet50_")]
CONFIG_KEYS = {"config": str, "device": str, "fps": float, "fps_low": float, "fps_high": float,
               "latency_ms": float, "by_island": list}


def source_for(tagged: Any, device: str) -> Any:
    """Plans from a session-wide export (every config of a model shares it) instead of artifacts/<config>."""
    spec = CATALOGUE["devices"][device]

    def source(config: Config) -> Any:
        return plan_on_device(tagged.tagged_path, config, spec), work_from_tagged(tagged.tagged_path,
                                                                                  config.precision)

    return source


def check_config_record(record: dict[str, Any], name: str, device: str) -> None:
    for key, kind in CONFIG_KEYS.items():
        assert isinstance(record[key], kind), (key, record[key])
    assert record["config"] == name and record["device"] == device
    assert record["predicted"] is True and record["format"] == PREDICTION_FORMAT
    assert record["catalogue_version"] == CATALOGUE["version"]
    assert 0 < record["fps_low"] <= record["fps"] <= record["fps_high"]
    assert record["fps"] == pytest.approx(1e3 * record["batch"] / record["latency_ms"])
    json.dumps(record)  # plain JSON


def _predict(name: str, tagged: Any, device: str) -> dict[str, Any]:
    config = load_config(name, [f"output_dir={str(tagged.tagged_path.parent)!r}"])
    return predict_config(config, device, CATALOGUE, source=source_for(tagged, device))


@pytest.mark.torch
@pytest.mark.parametrize("device", DLA_DEVICES)
@pytest.mark.parametrize("name", RESNET18)
def test_every_resnet18_config_is_predicted_on_every_dla_device(name: str, device: str, resnet18_tagged) -> None:
    _config, tagged = resnet18_tagged
    record = _predict(name, tagged, device)
    check_config_record(record, name, device)
    config = load_config(name)
    plan = plan_on_device(tagged.tagged_path, config, CATALOGUE["devices"][device])
    assert [i["island"] for i in record["by_island"]] == [i.index for i in plan.islands]
    assert (record["dla_ms"] > 0) == config.uses_dla


@pytest.mark.slow
@pytest.mark.torch
@pytest.mark.parametrize("device", DLA_DEVICES)
@pytest.mark.parametrize("name", RESNET50)
def test_every_resnet50_config_is_predicted_on_every_dla_device(name: str, device: str, resnet50_tagged) -> None:
    _config, tagged = resnet50_tagged
    check_config_record(_predict(name, tagged, device), name, device)


def test_the_named_configs_are_the_twenty_of_the_page() -> None:
    assert len(RESNET18) == 10 and len(RESNET50) == 10
    assert len(available_scenarios()) == 6


@pytest.mark.torch
@pytest.mark.parametrize("device", DLA_DEVICES)
@pytest.mark.parametrize("name", available_scenarios())
def test_every_scenario_is_predicted_on_every_dla_device(name: str, device: str, resnet18_tagged) -> None:
    _config, tagged = resnet18_tagged
    scenario = load_scenario(name)
    record = predict_scenario(scenario, device, CATALOGUE, source=source_for(tagged, device))
    assert [p["config"] for p in record["processes"]] == [p.config for p in scenario.processes]
    for proc, given in zip(record["processes"], scenario.processes, strict=True):
        assert set(proc) >= {"config", "dla_core", "fps"} and isinstance(proc["fps"], float)
        expected = given.dla_core if load_config(given.config).uses_dla else None
        assert proc["dla_core"] == expected
        assert 0 < proc["fps_low"] <= proc["fps"] <= proc["fps_high"]
    assert record["aggregate_fps"] == pytest.approx(sum(p["fps"] for p in record["processes"]))
    assert record["predicted"] is True and record["device"] == device


@pytest.mark.torch
def test_two_processes_on_one_resource_run_slower_than_one_alone(resnet18_tagged) -> None:
    _config, tagged = resnet18_tagged
    alone = _predict("resnet18_fp16_gpu", tagged, "xavier-nx")["fps"]
    both = predict_scenario(load_scenario("fp16_2gpu"), "xavier-nx", CATALOGUE,
                            source=source_for(tagged, "xavier-nx"))
    assert all(p["fps"] < alone for p in both["processes"])
    assert both["aggregate_fps"] > alone * 0.9


@pytest.mark.torch
def test_a_device_without_dla_runs_a_dla_config_on_its_gpu(resnet18_tagged) -> None:
    _config, tagged = resnet18_tagged
    dla = _predict("resnet18_fp16_dla", tagged, "orin-nano")
    gpu = _predict("resnet18_fp16_gpu", tagged, "orin-nano")
    assert dla["by_island"] == [] and dla["dla_ms"] == 0
    assert dla["notes"] and "no DLA" in dla["notes"][0]
    assert dla["fps"] == pytest.approx(gpu["fps"])


@pytest.mark.torch
def test_the_cli_prints_the_issue_json_shape_and_stores_it_apart(resnet18_tagged, tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    from trtforge.cli import main

    _config, tagged = resnet18_tagged
    folder = str(tagged.tagged_path.parent)
    argv = ["predict", "-c", "resnet18_int8_gpu_dla12", "--device", "xavier-nx", "--json",
            "--set", f"output_dir={folder!r}", "--results", str(tmp_path / "predictions")]
    assert main(argv) == 0
    record = json.loads(capsys.readouterr().out)
    check_config_record(record, "resnet18_int8_gpu_dla12", "xavier-nx")
    stored = tmp_path / "predictions" / "xavier-nx" / "resnet18_int8_gpu_dla12.json"
    assert json.loads(stored.read_text())["fps"] == record["fps"]
    assert main([a for a in argv if a != "--json"]) == 0  # the text form
    text = capsys.readouterr().out
    assert "PREDICTED (not measured)" in text and CATALOGUE["version"] in text


def test_an_unknown_device_is_one_error_naming_the_catalogue(capsys: pytest.CaptureFixture[str]) -> None:
    from trtforge.cli import main

    assert main(["predict", "-c", "resnet18_fp16_gpu", "--device", "jetson-nano"]) == 2
    assert "xavier-nx" in capsys.readouterr().err


def test_prediction_records_are_not_benchmark_results(tmp_path: Path) -> None:
    """The report reads measured results by their 'trtforge.bench.*' format; a prediction never has one."""
    path = write_prediction({"config": "x", "device": "xavier-nx", "fps": 1.0, "predicted": True,
                             "format": PREDICTION_FORMAT}, tmp_path)
    from trtforge.bench.report import records_from_folders

    found = records_from_folders([tmp_path])
    assert path.is_file() and all(not records for records in found.values())


@pytest.mark.torch
def test_the_readme_predicted_table_is_what_the_model_predicts_now(resnet18_tagged) -> None:
    """The README's Xavier NX tables (predicted, and predicted against the held-out page) match the model."""
    import re

    _config, tagged = resnet18_tagged
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("## Predicted placement", 1)[1].split("\n## ", 1)[0]
    assert f"catalogue `{CATALOGUE['version']}`" in section
    shaped = re.findall(r"^\| (resnet18_\w+) \| .* \| PREDICTED ([\d.]+) \(([\d.]+) - ([\d.]+)\) \|$", section, re.M)
    held_out = re.findall(r"^\| (resnet18_\w+) \| ([\d.]+) \| ([\d.]+) \| ([+-]\d+)% \|$", section, re.M)
    assert len(shaped) == 10 and len(held_out) == 10
    for name, fps, low, high in shaped:
        record = _predict(name, tagged, "xavier-nx")
        assert (f"{record['fps']:.1f}", f"{record['fps_low']:.1f}", f"{record['fps_high']:.1f}") == (fps, low, high)
    for name, fps, measured, error in held_out:
        assert dict((n, f) for n, f, *_ in shaped)[name] == fps
        assert f"{(float(fps) - float(measured)) / float(measured):+.0%}" == f"{error}%"
