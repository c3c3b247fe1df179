"""Helpers of the C++ tests: stub TensorRT and CUDA roots (tests/build/cpp_stub, trtforge's own declarations and
stub libraries, not NVIDIA's), CMake builds of examples/cpp against them, and sidecars for the stub's plans."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from trtforge.compat import platform_name

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "cpp"
STUB = Path(__file__).resolve().parent / "cpp_stub"
GXX = shutil.which("g++") or shutil.which("c++")

needs_cxx = pytest.mark.skipif(not (shutil.which("cmake") and GXX),
                               reason="needs cmake and a C++17 compiler (apt-get install cmake g++)")


def run(args: list[str | Path], env: dict[str, str] | None = None, cwd: Path | None = None,
        timeout: int = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, check=False, cwd=cwd,
                          env={**os.environ, **(env or {})}, timeout=timeout)


def version_header(version: tuple[int, int, int]) -> str:
    major, minor, patch = version
    return (f"#pragma once\n#define NV_TENSORRT_MAJOR {major}\n#define NV_TENSORRT_MINOR {minor}\n"
            f"#define NV_TENSORRT_PATCH {patch}\n#define NV_TENSORRT_BUILD 1\n")


def stub_roots(folder: Path, version: tuple[int, int, int] = (10, 3, 0), *, library: bool = True) -> tuple[Path, Path]:
    """``<folder>/trt`` (include/NvInfer.h for ``version``, lib/libnvinfer.so) and ``<folder>/cuda``
    (include/cuda_runtime_api.h, lib64/libcudart.so), a tarball's layout; ``library=False`` leaves out
    libnvinfer."""
    trt, cuda = folder / "trt", folder / "cuda"
    for path in (trt / "include", trt / "lib", cuda / "include", cuda / "lib64"):
        path.mkdir(parents=True, exist_ok=True)
    shutil.copy(STUB / "include" / "NvInfer.h", trt / "include")
    (trt / "include" / "NvInferVersion.h").write_text(version_header(version))
    shutil.copy(STUB / "include" / "cuda_runtime_api.h", cuda / "include")
    cudart = cuda / "lib64" / "libcudart.so"
    made = run([GXX, "-std=c++17", "-shared", "-fPIC", "-O1", "-I", cuda / "include", STUB / "stub_cudart.cpp",
                "-o", cudart])
    assert made.returncode == 0, made.stderr
    if library:
        made = run([GXX, "-std=c++17", "-shared", "-fPIC", "-O1", "-I", trt / "include", "-I", cuda / "include",
                    STUB / "stub_nvinfer.cpp", "-L", cuda / "lib64", "-lcudart", f"-Wl,-rpath,{cuda / 'lib64'}",
                    "-o", trt / "lib" / "libnvinfer.so"])
        assert made.returncode == 0, made.stderr
    return trt, cuda


def configure(build: Path, *args: str, env: dict[str, str] | None = None,
              cmake: str = "cmake") -> subprocess.CompletedProcess[str]:
    done = run([cmake, "-S", EXAMPLE, "-B", build, *args], env=env)  # no build type: -O0 compiles faster
    if done.returncode != 0 and "nlohmann_json" in done.stderr:
        pytest.skip("needs nlohmann-json from the system packages (apt-get install nlohmann-json3-dev)")
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def build_target(build: Path, target: str, cmake: str = "cmake") -> Path:
    made = run([cmake, "--build", build, "--target", target, "-j", "2"])
    assert made.returncode == 0, made.stdout + made.stderr
    return build / target


def trt_infer_for(folder: Path, version: tuple[int, int, int] = (10, 3, 0)) -> Path:
    """trt_infer built by CMake against stub roots of ``version``."""
    trt, cuda = stub_roots(folder, version)
    configure(folder / "build", f"-DTENSORRT_ROOT={trt}", f"-DCUDAToolkit_ROOT={cuda}")
    return build_target(folder / "build", "trt_infer")


def tensor_line(mode: str, name: str, dtype: str, fmt: str, shape: list[int]) -> str:
    return f"tensor {mode} {name} {dtype} {fmt} {'x'.join(map(str, shape))}"


def write_case(folder: Path, tensors: list[tuple[str, str, str, str, list[int]]], *, extra: tuple[str, ...] = (),
               plan: bytes | None = None, **changes: object) -> Path:
    """A stub plan (``tensors``: mode, name, dtype, format, shape; ``extra`` plan lines) as ``c.engine`` and its
    sidecar ``c.engine.json`` (true size and sha256, this machine's platform); ``changes`` update the
    sidecar's top-level keys, ``engine_<key>`` / ``tensorrt_<key>`` its nested ones."""
    folder.mkdir(parents=True, exist_ok=True)
    data = plan if plan is not None else "\n".join(
        ["trtforge-stub-plan", *(tensor_line(*t) for t in tensors), *extra, ""]).encode()
    (folder / "c.engine").write_bytes(data)
    record: dict = {
        "format": 2, "config": "c",
        "engine": {"file": "c.engine", "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(),
                   "gpu_only": False, "compute_capability": "8.7", "platform": platform_name(), "l4t": None},
        "tensorrt": {"flavour": "tensorrt", "version": "10.3.0"}, "precision": "fp16", "runs_on": "GPU",
        "dla": {"applied": False, "core": None},
        "io": [{"name": name, "mode": mode, "shape": shape, "dtype": dtype, "format": fmt}
               for mode, name, dtype, fmt, shape in tensors]}
    for key, value in changes.items():
        part, _, sub = key.partition("_")
        if part in ("engine", "tensorrt") and sub:
            record[part][sub] = value
        else:
            record[key] = value
    path = folder / "c.engine.json"
    path.write_text(json.dumps(record))
    return path
