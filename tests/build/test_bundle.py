"""``trtforge bundle`` and ``trtforge adopt`` (issue 15.2-15.3): prepare here, build on a Jetson, bring it back.

The device side is played by a stand-in ``trtexec`` (a POSIX sh script on PATH) that prints a log in trtexec's
real format (``[MM/DD/YYYY-hh:mm:ss] [I] [TRT] ...``, the ``Layers Running on DLA/GPU`` summary and the per-layer
fallback wording of reference/wild/logs) and writes the engine and an inspector JSON in the ``--exportLayerInfo``
format (reference/wild/inspector). No real TensorRT runs here.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest
from trtforge.build.adopt import io_from_inspector, sidecar_from_device, tensorrt_version_from_log
from trtforge.build.bundle import BUILD_SCRIPT, MANIFEST, bundle_from_config, read_manifest
from trtforge.build.sidecar import check_sidecar

from trtforge.config import Config, config_from_dict
from trtforge.errors import TrtforgeError

pytestmark = pytest.mark.torch


def _config(tmp: Path, precision: str) -> Config:
    raw: dict[str, Any] = {"name": f"nested_{precision}_bundle", "model": "tiny_models:nested",
                           "inputs": {"x": [3, 16, 16]}, "outputs": ["y"], "precision": precision,
                           "device_types": {"stage1": "DLA", "stage2": "DLA"}, "output_dir": str(tmp / "art")}
    if precision == "int8":
        raw["calibration"] = {"batches": 2, "holdout_batches": 1, "resize": 16, "crop": 16}
    return config_from_dict(raw)


@pytest.fixture(scope="module", params=["fp16", "int8"])
def bundle(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[Config, Path]:
    tmp = tmp_path_factory.mktemp(f"bundle_{request.param}")
    config = _config(tmp, request.param)
    made = bundle_from_config(config, tmp / "bundle")
    return config, made.folder


def _trtexec_words(script: str) -> list[str]:
    """The trtexec invocation of build.sh, split as the shell would."""
    start = script.index('"$TRTEXEC" --onnx')
    end = script.index(">build.log")
    return shlex.split(script[start:end].replace("\\\n", " "))[1:]


def test_bundle_build_sh_is_posix_sh(bundle: tuple[Config, Path]) -> None:
    _, folder = bundle
    assert subprocess.run(["sh", "-n", str(folder / BUILD_SCRIPT)]).returncode == 0
    if shutil.which("dash"):
        assert subprocess.run(["dash", "-n", str(folder / BUILD_SCRIPT)]).returncode == 0


def test_bundle_names_only_files_it_holds(bundle: tuple[Config, Path]) -> None:
    config, folder = bundle
    words = _trtexec_words((folder / BUILD_SCRIPT).read_text())
    named = [w.split("=", 1)[1] for w in words if w.startswith(("--onnx=", "--calib="))]
    assert named and all((folder / name).is_file() for name in named)
    assert ("--calib=" in " ".join(words)) == (config.precision == "int8")
    for flag in ("--verbose", "--profilingVerbosity=detailed", "--exportLayerInfo=layers.json",
                 f"--useDLACore={config.dla_core}", "--allowGPUFallback"):
        assert flag in words
    assert any(w.startswith("--layerDeviceTypes=") for w in words)
    assert f"TensorRT {config.target.tensorrt}" in (folder / BUILD_SCRIPT).read_text().splitlines()[2]


def test_bundle_manifest_hashes_match_and_tamper_is_caught(bundle: tuple[Config, Path], tmp_path: Path) -> None:
    _, folder = bundle
    manifest = read_manifest(folder)
    assert set(manifest["files"]) >= {manifest["onnx"], BUILD_SCRIPT, "README.txt", "plan.json"}
    assert manifest["plan"]["layers"] and {"name", "owner", "requested", "predicted"} <= set(
        manifest["plan"]["layers"][0])
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    with (copy / manifest["onnx"]).open("ab") as handle:
        handle.write(b"\0")
    with pytest.raises(TrtforgeError, match=r"MANIFEST\.json sha256"):
        read_manifest(copy)


def test_bundle_archive_holds_the_folder(bundle: tuple[Config, Path]) -> None:
    _, folder = bundle
    with tarfile.open(folder.with_name(folder.name + ".tar.gz")) as tar:
        names = sorted(tar.getnames())
    assert names == sorted(f"{folder.name}/{p.name}" for p in folder.iterdir())


# ------------------------------------------------------------------------ the device, played by a stand-in


def _device_log(layers: list[dict[str, Any]], fallback: str | None) -> str:
    """A trtexec --verbose log: the DLA layers as ForeignNode islands in network order, the rest as GpuLayer."""
    stamp = "[12/01/2026-10:00:00]"
    lines = [f"{stamp} [I] TensorRT version: 10.3.0", f"{stamp} [I] [TRT] [MemUsageChange] Init CUDA: CPU +2"]
    if fallback:
        lines.append(f"{stamp} [W] [TRT] Layer '{fallback}' (ACTIVATION): Unsupported on DLA. Switching this "
                     "layer's device type to GPU.")
    on_dla = [layer["name"] for layer in layers if layer["requested"] == "DLA" and layer["name"] != fallback]
    islands: list[list[str]] = []
    for layer in layers:
        if layer["name"] in on_dla:
            if islands and islands[-1][-1] == _previous(layers, layer["name"]):
                islands[-1].append(layer["name"])
            else:
                islands.append([layer["name"]])
    lines.append(f"{stamp} [I] [TRT] ---------- Layers Running on DLA ----------")
    lines += [f"{stamp} [I] [TRT] [DlaLayer] {{ForeignNode[{i[0]}...{i[-1]}]}}" for i in islands]
    lines.append(f"{stamp} [I] [TRT] ---------- Layers Running on GPU ----------")
    lines += [f"{stamp} [I] [TRT] [GpuLayer] CONVOLUTION: {layer['name']}" for layer in layers
              if layer["name"] not in on_dla]
    lines.append(f"{stamp} [I] [TRT] Engine generation completed in 12.3 seconds.")
    return "\n".join(lines) + "\n"


def _previous(layers: list[dict[str, Any]], name: str) -> str | None:
    names = [layer["name"] for layer in layers]
    index = names.index(name)
    return names[index - 1] if index else None


def _layer_info(manifest: dict[str, Any]) -> dict[str, Any]:
    return {"Layers": [
        {"Name": "Reformatting CopyNode for Input Tensor 0", "LayerType": "Reformat",
         "Inputs": [{"Name": "x", "Location": "Device", "Dimensions": [1, 3, 16, 16],
                     "Format/Datatype": "Row major linear FP32"}],
         "Outputs": [{"Name": "x_r", "Location": "Device", "Dimensions": [1, 3, 16, 16],
                      "Format/Datatype": "Channel major FP16 format where channel % 16 == 0"}]},
        {"Name": "head/Gemm", "LayerType": "CaskGemm",
         "Inputs": [{"Name": "x_r", "Location": "Device", "Dimensions": [1, 8],
                     "Format/Datatype": "Row major linear FP16"}],
         "Outputs": [{"Name": "y", "Location": "Device", "Dimensions": [1, 4],
                      "Format/Datatype": "Row major linear FP32"}],
         "Metadata": "[ONNX Layer: head/Gemm]"}],
        "Bindings": ["x", "y"]}


def _fake_trtexec(bin_dir: Path, log_text: str, layer_info: dict[str, Any]) -> None:
    bin_dir.mkdir(parents=True, exist_ok=True)
    (bin_dir / "device.log").write_text(log_text)
    (bin_dir / "layers.src.json").write_text(json.dumps(layer_info))
    script = bin_dir / "trtexec"
    script.write_text(f"""#!/bin/sh
case "$1" in --help) echo "  --layerDeviceTypes=spec  Specify layer-specific device type"; exit 0 ;; esac
for arg in "$@"; do
  case "$arg" in
    --saveEngine=*) printf 'engine-bytes' > "${{arg#--saveEngine=}}" ;;
    --exportLayerInfo=*) cat {shlex.quote(str(bin_dir / 'layers.src.json'))} > "${{arg#--exportLayerInfo=}}" ;;
  esac
done
echo "&&&& RUNNING TensorRT.trtexec [TensorRT v100300] # trtexec $*"
cat {shlex.quote(str(bin_dir / 'device.log'))}
""")
    script.chmod(0o755)


def _run_on_device(folder: Path, tmp: Path, fallback: str | None) -> Path:
    device = tmp / "jetson"
    shutil.copytree(folder, device)
    manifest = json.loads((folder / MANIFEST).read_text())
    _fake_trtexec(tmp / "bin", _device_log(manifest["plan"]["layers"], fallback), _layer_info(manifest))
    env = {**os.environ, "PATH": f"{tmp / 'bin'}:{os.environ['PATH']}"}
    done = subprocess.run(["sh", str(device / BUILD_SCRIPT)], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return device


def test_adopt_makes_a_valid_sidecar_with_the_realized_placement(bundle: tuple[Config, Path], tmp_path: Path) -> None:
    config, folder = bundle
    device = _run_on_device(folder, tmp_path, fallback=None)
    engine = device / f"{config.name}.engine"
    path, record = sidecar_from_device(folder, engine, device / "build.log", device / "layers.json")
    check_sidecar(json.loads(path.read_text()))
    assert record["placement"]["realized_source"].startswith("builder log")
    table = record["placement"]["by_submodule"]
    assert table["stage1"]["realized_dla"] == table["stage1"]["requested_dla"] > 0
    assert table["stem"]["realized_dla"] == 0
    assert record["placement"]["drift"] == [] and record["placement"]["gates"] == []
    assert record["tensorrt"]["version"] == "10.3.0" and record["engine"]["bytes"] == len(b"engine-bytes")
    assert [t["name"] for t in record["io"]] == ["x", "y"] and record["io"][1]["mode"] == "output"


def test_adopt_reports_a_device_fallback_as_drift(bundle: tuple[Config, Path], tmp_path: Path) -> None:
    config, folder = bundle
    manifest = read_manifest(folder)
    victim = next(layer["name"] for layer in manifest["plan"]["layers"]
                  if layer["requested"] == "DLA" and (layer["owner"] or "").startswith("stage2"))
    device = _run_on_device(folder, tmp_path, fallback=victim)
    _path, record = sidecar_from_device(folder, device / f"{config.name}.engine", device / "build.log")
    assert victim in json.dumps(record["placement"]["realized_fallbacks"])
    assert any(line.startswith("stage2:") for line in record["placement"]["drift"])
    assert record["io"] and all(t["format"] == "LINEAR" for t in record["io"])  # from the bundle's ONNX


def test_adopt_refuses_a_tampered_bundle(bundle: tuple[Config, Path], tmp_path: Path) -> None:
    config, folder = bundle
    device = _run_on_device(folder, tmp_path, fallback=None)
    copy = tmp_path / "tampered"
    shutil.copytree(folder, copy)
    (copy / "plan.json").write_text((copy / "plan.json").read_text().replace('"DLA"', '"GPU"'))
    with pytest.raises(TrtforgeError, match="sha256"):
        sidecar_from_device(copy, device / f"{config.name}.engine", device / "build.log")


def test_tensorrt_version_from_log_banner_and_line() -> None:
    assert tensorrt_version_from_log(["[I] TensorRT version: 8.6.2"]) == "8.6.2"
    assert tensorrt_version_from_log(["&&&& RUNNING TensorRT.trtexec [TensorRT v8502] # trtexec"]) == "8.5.2"
    assert tensorrt_version_from_log(["&&&& RUNNING TensorRT.trtexec [TensorRT v100300] # trtexec"]) == "10.3.0"
    assert tensorrt_version_from_log(["nothing"]) == "unknown"


def test_io_from_the_corpus_inspector() -> None:
    corpus = Path(__file__).resolve().parents[3] / "shared" / "reference" / "wild" / "inspector"
    path = corpus / "trex_resnet_fp16_a100_engine_graph.json"
    if not path.is_file():
        pytest.skip("the reference corpus (../shared) is not beside this checkout")
    io = io_from_inspector(json.loads(path.read_text()))
    assert io and io[0]["mode"] == "input" and io[0]["shape"][1:] == [3, 224, 224]
    assert any(t["mode"] == "output" for t in io)
