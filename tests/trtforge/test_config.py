"""The config schema: every named config and scenario loads; each bad input fails with its message."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from trtforge.config import available_configs, available_scenarios, config_from_dict, load_config, load_scenario
from trtforge.errors import TrtforgeError

MODELS = ("resnet18", "resnet50")
KINDS = ("fp16_gpu", "int8_gpu", "fp16_dla", "int8_dla", "fp16_gpu_dla1", "fp16_gpu_dla12", "fp16_gpu_dla123",
         "int8_gpu_dla1", "int8_gpu_dla12", "int8_gpu_dla123")
LAYERS = {"1": ["layer1"], "12": ["layer1", "layer2"], "123": ["layer1", "layer2", "layer3"]}


def test_the_twenty_benchmark_configs_exist_and_match_torch2trt() -> None:
    names = [f"{m}_{k}" for m in MODELS for k in KINDS]
    assert sorted(names) == available_configs()
    for name in names:
        config = load_config(name)
        model, precision, *rest = name.split("_")
        kind = "_".join(rest)
        assert (config.model, config.precision, config.max_batch_size) == (model, precision, 1)
        assert config.default_device == ("DLA" if kind == "dla" else "GPU")
        expected = {layer: "DLA" for layer in LAYERS.get(kind.removeprefix("gpu_dla"), [])} if "dla" in kind[3:] \
            else {}
        assert config.device_types == expected, name
        assert config.gpu_fallback and config.dla_core == 0 and not config.dynamic_batch


def test_the_six_concurrency_scenarios_name_their_configs_and_cores() -> None:
    expected = {
        "int8_2gpu": [("resnet18_int8_gpu", 0), ("resnet18_int8_gpu", 0)],
        "int8_1gpu_1dla": [("resnet18_int8_gpu", 0), ("resnet18_int8_dla", 0)],
        "int8_2dla": [("resnet18_int8_dla", 1), ("resnet18_int8_dla", 0)],
        "fp16_2gpu": [("resnet18_fp16_gpu", 0), ("resnet18_fp16_gpu", 0)],
        "fp16_1gpu_1dla": [("resnet18_fp16_gpu", 0), ("resnet18_fp16_dla", 0)],
        "fp16_2dla": [("resnet18_fp16_dla", 1), ("resnet18_fp16_dla", 0)],
    }
    assert sorted(expected) == available_scenarios()
    for name, procs in expected.items():
        scenario = load_scenario(name)
        assert [(p.config, p.dla_core) for p in scenario.processes] == procs


def test_a_derived_config_gets_its_own_name_and_folder() -> None:
    config = load_config("resnet18_int8_gpu_dla12", ["dla_core=1"])
    assert config.dla_core == 1
    assert config.name == "resnet18_int8_gpu_dla12-dla_core1"
    assert config.artifact_dir == Path("artifacts/resnet18_int8_gpu_dla12-dla_core1")


def test_static_and_dynamic_shapes_come_from_max_batch_size() -> None:
    base = {"name": "t", "model": "resnet18", "inputs": {"x": [3, 8, 8]}, "max_batch_size": 4}
    assert config_from_dict(base).input_shapes() == {"x": ((4, 3, 8, 8),) * 3}
    dynamic = config_from_dict({**base, "dynamic_batch": True}).input_shapes()["x"]
    assert dynamic == ((1, 3, 8, 8), (4, 3, 8, 8), (4, 3, 8, 8))


BAD = {
    "unknown key": ("precison = 'fp16'\n", "unknown key precison (did you mean precision?)"),
    "wrong type": ("max_batch_size = '1'\n", "max_batch_size to be int; found '1' (str)"),
    "bad enum": ("precision = 'fp64'\n", "precision to be one of 'fp32', 'fp16', 'int8'; found 'fp64'"),
    "fp32 on dla": ("precision = 'fp32'\ndefault_device = 'DLA'\n", "FP16 or INT8 when anything is placed on DLA"),
    "fp32 on a dla submodule": ("precision = 'fp32'\n[device_types]\nlayer1 = 'DLA'\n",
                                "found precision = 'fp32' with device_types['layer1'] on DLA"),
    "dynamic on dla": ("dynamic_batch = true\ndefault_device = 'DLA'\n",
                       "static shapes when anything is placed on DLA"),
    "negative core": ("dla_core = -1\n", "dla_core to be a non-negative integer; found -1"),
    "non-integer core": ("dla_core = 0.5\n", "dla_core to be int; found 0.5 (float)"),
    # issue 12 (reliability.md): values the schema used to accept
    "core beyond the platform": ("dla_core = 99\n[target]\nplatform = 'xavier'\n",
                                 "dla_core below 2 (the DLA cores of xavier: 0, 1); found 99"),
    "name with a path": ("name = '../../escaped'\n", "name to be a plain file name"),
    "huge batch": ("max_batch_size = 9223372036854775807\n", "of at most 2^31-1 elements"),
    "percentile": ("[calibration]\npercentile = 150.0\n", "calibration.percentile in (0, 100]; found 150.0"),
    "zero std": ("[calibration]\nstd = [0.0, 0.0, 0.0]\n", "calibration.std > 0"),
    "negative batches": ("[calibration]\nbatches = -3\n", "calibration.batches >= 0; found -3"),
    "gate share": ("[gates]\nmin_dla_node_share = 2.5\n", "gates.min_dla_node_share in [0, 1] (a share); found 2.5"),
}


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "bad.toml"
    path.write_text("model = 'resnet18'\n" + body)
    return path


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_configs_fail_with_one_clear_message(tmp_path: Path, case: str) -> None:
    body, message = BAD[case]
    path = _write(tmp_path, body)
    with pytest.raises(TrtforgeError, match=None) as err:
        load_config(str(path))
    assert message in str(err.value)


@pytest.mark.parametrize("case", ["unknown key", "negative core", "fp32 on dla", "core beyond the platform",
                                  "name with a path", "huge batch"])
def test_the_cli_exits_non_zero_with_the_message_and_no_traceback(tmp_path: Path, case: str) -> None:
    body, message = BAD[case]
    path = _write(tmp_path, body)
    done = subprocess.run([sys.executable, "-m", "trtforge", "configs", str(path)], capture_output=True, text=True)
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_an_unknown_config_name_suggests_the_closest() -> None:
    with pytest.raises(TrtforgeError, match="closest: resnet18_fp16_gpu_dla1, resnet18_fp16_gpu_dla12"):
        load_config("resnet18_fp16_gpu_dla21")


@pytest.mark.torch
def test_a_device_types_key_naming_no_submodule_lists_the_closest(tmp_path: Path) -> None:
    path = _write(tmp_path, "[device_types]\nlayer5 = 'DLA'\n")
    done = subprocess.run([sys.executable, "-m", "trtforge", "configs", str(path)], capture_output=True, text=True)
    assert done.returncode == 2
    assert "device_types key 'layer5' matches no submodule of resnet18; closest: layer4, layer3, layer2" \
        in done.stderr
    assert "top-level submodules: avgpool, bn1, conv1, fc, layer1, layer2, layer3, layer4" in done.stderr


def test_a_long_override_gives_a_short_distinct_derived_name() -> None:
    """`--set calibration.data="/a/long/path.npy"` once made a derived name over the 128-character limit."""
    from trtforge.config import MAX_NAME_LENGTH

    long_path = "/data/" + "calibration_images/" * 8
    first = load_config("resnet18_int8_gpu_dla12", [f'calibration.data="{long_path}a.npy"', "calibration.batches=4"])
    second = load_config("resnet18_int8_gpu_dla12", [f'calibration.data="{long_path}b.npy"', "calibration.batches=4"])
    assert len(first.name) <= MAX_NAME_LENGTH and len(second.name) <= MAX_NAME_LENGTH
    assert first.name.startswith("resnet18_int8_gpu_dla12-calibration_data") and first.name != second.name
    assert load_config("resnet18_int8_gpu_dla12", ["dla_core=1"]).name == "resnet18_int8_gpu_dla12-dla_core1"
