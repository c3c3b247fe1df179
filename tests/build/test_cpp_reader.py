"""The C++ sidecar reader (examples/cpp) built with CMake and run on the sidecars of real TensorRT-RTX builds."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "cpp"

pytestmark = pytest.mark.skipif(not (shutil.which("cmake") and shutil.which("c++")),
                                reason="needs cmake and a C++17 compiler (apt-get install cmake g++)")


@pytest.fixture(scope="module")
def reader(tmp_path_factory: pytest.TempPathFactory) -> Path:
    build = tmp_path_factory.mktemp("cpp")
    configure = subprocess.run(["cmake", "-S", str(EXAMPLE), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release"],
                               capture_output=True, text=True, check=False)
    if configure.returncode != 0 and "nlohmann_json" in configure.stderr:
        pytest.skip("needs nlohmann-json from the system packages (apt-get install nlohmann-json3-dev)")
    assert configure.returncode == 0, configure.stderr
    made = subprocess.run(["cmake", "--build", str(build), "--target", "sidecar_reader", "-j", "2"],
                          capture_output=True, text=True, check=False)
    assert made.returncode == 0, made.stdout + made.stderr
    return build / "sidecar_reader"


def expected_output(record: dict) -> str:
    """What the reader must print, computed from the JSON in Python."""
    sizes = {"FLOAT": 4, "HALF": 2, "INT8": 1, "INT32": 4, "INT64": 8, "BOOL": 1}
    lines = [f"config {record['config']}", f"engine {record['engine']['file']} {record['engine']['bytes']}",
             f"tensorrt {record['tensorrt']['flavour']} {record['tensorrt']['version']}",
             f"precision {record['precision']}", f"gpu_only {str(record['engine']['gpu_only']).lower()}",
             f"built_on {record['engine']['platform']}"
             + (f" L4T {record['engine']['l4t']}" if record["engine"]["l4t"] else "")
             + f" compute capability {record['engine']['compute_capability'] or 'unknown'}",
             f"dla_core {record['dla']['core'] if record['dla']['core'] is not None else 'none'}"]
    for t in record["io"]:
        count = 1
        for d in t["shape"]:
            count *= d
        shape = "x".join(map(str, t["shape"]))
        lines.append(f"{t['mode']} {t['name']} {t['dtype']} {t['format']} {shape} {count * sizes[t['dtype']]}")
    return "\n".join(lines) + "\n"


@pytest.mark.rtx
@pytest.mark.torch
@pytest.mark.slow
@pytest.mark.parametrize(("model", "precision"), [(m, p) for m in ("resnet18", "resnet50")
                                                  for p in ("fp32", "fp16", "int8")])
def test_reader_on_generated_sidecars(reader: Path, rtx_builds, model: str, precision: str) -> None:
    _config, result = rtx_builds[model, precision]
    run = subprocess.run([str(reader), str(result.sidecar_path)], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
    assert run.stdout == expected_output(json.loads(Path(result.sidecar_path).read_text()))


ABC_SHA = hashlib.sha256(b"abc").hexdigest()


def _engine(**changes: object) -> dict:
    return {"file": "c.engine", "bytes": 3, "sha256": ABC_SHA, "gpu_only": False, "compute_capability": "8.7",
            "platform": "aarch64-jetson", "l4t": "R36.4.0", **changes}


def _sidecar(tmp_path: Path, **changes: object) -> Path:
    record = {"format": 2, "config": "c", "engine": _engine(),
              "tensorrt": {"flavour": "tensorrt", "version": "10.3.0"}, "precision": "int8", "runs_on": "GPU + DLA",
              "dla": {"applied": True, "core": 1},
              "io": [{"name": "input", "mode": "input", "shape": [1, 3], "dtype": "INT8", "format": "CHW32"}]}
    record.update(changes)
    (tmp_path / "c.engine").write_bytes(b"abc")
    path = tmp_path / "c.engine.json"
    path.write_text(json.dumps(record))
    return path


def test_reader_on_a_dla_sidecar(reader: Path, tmp_path: Path) -> None:
    run = subprocess.run([str(reader), str(_sidecar(tmp_path))], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[-3:] == ["built_on aarch64-jetson L4T R36.4.0 compute capability 8.7",
                                            "dla_core 1", "input input INT8 CHW32 1x3 3"]


@pytest.mark.parametrize(("changes", "code", "message"), [
    ({"format": 1}, 2, "sidecar format 1, this reader knows 2 (rebuild the engine with this trtforge)"),
    ({"engine": _engine(platform=None)}, 2, "has a value of the wrong type"),
    ({"engine": {k: v for k, v in _engine().items() if k != "platform"}}, 2, "sidecar.engine.platform is missing"),
    ({"dla": {"applied": True}}, 2, "sidecar.dla.core is missing"),
    ({"dla": {"applied": True, "core": None}}, 2, "sidecar.dla.applied without a core"),
    ({"io": [{"name": "x", "mode": "input", "shape": [1], "dtype": "FLOAT7", "format": "LINEAR"}]}, 2,
     "unknown TensorRT data type FLOAT7"),
    ({"engine": _engine(bytes=4)}, 1, "has a different size: 3 bytes, the sidecar says 4"),
    ({"engine": _engine(sha256="0" * 64)}, 1, f"has a different sha256: {ABC_SHA}, the sidecar says {'0' * 64}"),
    ({"engine": _engine(file="gone.engine")}, 1, "gone.engine is missing"),
])
def test_reader_refuses_bad_sidecars(reader: Path, tmp_path: Path, changes: dict, code: int, message: str) -> None:
    run = subprocess.run([str(reader), str(_sidecar(tmp_path, **changes))], capture_output=True, text=True,
                         check=False)
    assert run.returncode == code and message in run.stderr, run.stderr


@pytest.mark.parametrize("size", [0, 1, 55, 56, 63, 64, 65, 119, 120, 1000, 65537])
def test_reader_checks_the_engine_sha256(reader: Path, tmp_path: Path, size: int) -> None:
    """The C++ SHA-256 (sidecar.cpp, FIPS 180-4) against Python's hashlib on every padding boundary."""
    data = os.urandom(size)
    path = _sidecar(tmp_path, engine=_engine(bytes=size, sha256=hashlib.sha256(data).hexdigest()))
    (tmp_path / "c.engine").write_bytes(data)
    run = subprocess.run([str(reader), str(path)], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
    flipped = bytes([data[0] ^ 1]) + data[1:] if data else b"x"
    (tmp_path / "c.engine").write_bytes(flipped)
    path.write_text(path.read_text().replace(f'"bytes": {size}', f'"bytes": {len(flipped)}'))
    run = subprocess.run([str(reader), str(path)], capture_output=True, text=True, check=False)
    assert run.returncode == 1 and "has a different sha256" in run.stderr, run.stderr
