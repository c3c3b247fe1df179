"""The C++ build (issue 12, items 7 and 8): examples/cpp/CMakeLists.txt on CMake 3.16 and later, TENSORRT_ROOT from
the environment, TensorRT's include folder as SYSTEM, not-found messages naming the missing piece, the TensorRT 8.5
floor; trt_infer.cpp compiled against trtforge's own declarations (tests/build/cpp_stub) and, when
TENSORRT_INCLUDE_DIR is set, against NVIDIA's real headers."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from cpp_toolchain import EXAMPLE, GXX, STUB, build_target, configure, needs_cxx, run, stub_roots

pytestmark = needs_cxx

SYSTEM_TENSORRT = [Path(d) / name for d in ("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu")
                   for name in ("libnvinfer.so",)] + [Path(f"/usr/include/{a}-linux-gnu/NvInfer.h")
                                                      for a in ("x86_64", "aarch64")] + [Path("/usr/include/NvInfer.h")]


# ------------------------------------------------------------------------------ item 7: CMake


def test_cmake_reads_tensorrt_root_from_the_environment(tmp_path: Path) -> None:
    trt, cuda = stub_roots(tmp_path, library=False)
    (trt / "lib" / "libnvinfer.so").write_bytes(b"")  # found, not linked: configuring only
    done = configure(tmp_path / "b", env={"TENSORRT_ROOT": str(trt), "CUDAToolkit_ROOT": str(cuda)})
    assert f"TensorRT 10.3.0 found ({trt}/include, {trt}/lib/libnvinfer.so)" in done.stdout, done.stdout
    assert f"CUDA runtime {cuda}/lib64/libcudart.so: building trt_infer" in done.stdout


def test_cmake_not_found_message_names_the_missing_piece(tmp_path: Path) -> None:
    if any(p.exists() for p in SYSTEM_TENSORRT):
        pytest.skip("this machine has a system TensorRT, which CMake finds")
    trt, cuda = stub_roots(tmp_path, library=False)
    done = configure(tmp_path / "b", f"-DTENSORRT_ROOT={trt}", f"-DCUDAToolkit_ROOT={cuda}")
    line = next(x for x in done.stdout.splitlines() if "trt_infer not built" in x)
    assert line == ("-- trt_infer not built (sidecar reader only), missing: libnvinfer (set TENSORRT_ROOT, or apt-get "
                    "install libnvinfer-dev for the libnvinfer.so link)")
    empty = configure(tmp_path / "c", f"-DTENSORRT_ROOT={tmp_path / 'nothing'}", f"-DCUDAToolkit_ROOT={cuda}")
    assert "missing: NvInfer.h (TensorRT headers: set TENSORRT_ROOT, or apt-get install libnvinfer-dev); " \
           "libnvinfer (" in empty.stdout
    required = run(["cmake", "-S", EXAMPLE, "-B", tmp_path / "d", f"-DTENSORRT_ROOT={trt}",
                    f"-DCUDAToolkit_ROOT={cuda}", "-DTRTFORGE_REQUIRE_TENSORRT=ON"])
    assert required.returncode != 0 and "trt_infer cannot be built, missing: libnvinfer (" in required.stderr


def test_cmake_states_and_checks_the_minimum_tensorrt_version(tmp_path: Path) -> None:
    assert "TensorRT (>= 8.5)" in (EXAMPLE / "CMakeLists.txt").read_text()
    trt, cuda = stub_roots(tmp_path, (8, 4, 3), library=False)
    (trt / "lib" / "libnvinfer.so").write_bytes(b"")
    done = configure(tmp_path / "b", f"-DTENSORRT_ROOT={trt}", f"-DCUDAToolkit_ROOT={cuda}")
    assert f"missing: TensorRT >= 8.5 (found 8.4.3 in {trt}/include: trt_infer uses the name-based I/O API of " \
           "8.5+, JetPack 5.1 has TensorRT 8.5)" in done.stdout, done.stdout


def test_cmake_tensorrt_include_folder_is_a_system_include(tmp_path: Path) -> None:
    trt, cuda = stub_roots(tmp_path, library=False)
    (trt / "lib" / "libnvinfer.so").write_bytes(b"")
    configure(tmp_path / "b", f"-DTENSORRT_ROOT={trt}", f"-DCUDAToolkit_ROOT={cuda}",
              "-DCMAKE_EXPORT_COMPILE_COMMANDS=ON")
    commands = json.loads((tmp_path / "b" / "compile_commands.json").read_text())
    command = next(c["command"] for c in commands if c["file"].endswith("trt_infer.cpp"))
    assert f"-isystem {trt}/include" in command and f"-isystem {cuda}/include" in command
    assert f"-I{trt}/include" not in command


def test_cmake_searches_again_when_tensorrt_root_changes(tmp_path: Path) -> None:
    first, cuda = stub_roots(tmp_path / "a", (10, 3, 0), library=False)
    second, _ = stub_roots(tmp_path / "b", (10, 16, 0), library=False)
    for root in (first, second):
        (root / "lib" / "libnvinfer.so").write_bytes(b"")
    build = tmp_path / "build"
    configure(build, f"-DTENSORRT_ROOT={first}", f"-DCUDAToolkit_ROOT={cuda}")
    again = configure(build, f"-DTENSORRT_ROOT={second}")
    assert f"TensorRT 10.16.0 found ({second}/include, {second}/lib/libnvinfer.so)" in again.stdout, again.stdout


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("TRTFORGE_CMAKE_3_16"),
                    reason="set TRTFORGE_CMAKE_3_16 to a CMake 3.16 binary (pip install 'cmake==3.16.*' into a "
                           "scratch venv), JetPack 5's CMake")
def test_cmake_3_16_builds_trt_infer(tmp_path: Path) -> None:
    cmake = os.environ["TRTFORGE_CMAKE_3_16"]
    assert run([cmake, "--version"]).stdout.startswith("cmake version 3.16.")
    trt, cuda = stub_roots(tmp_path)
    done = configure(tmp_path / "b", f"-DTENSORRT_ROOT={trt}", f"-DCUDAToolkit_ROOT={cuda}", cmake=cmake)
    assert "building trt_infer" in done.stdout, done.stdout
    binary = build_target(tmp_path / "b", "trt_infer", cmake=cmake)
    ran = run([binary])
    assert ran.returncode == 2 and "usage: trt_infer <engine.json> [dla_core]" in ran.stderr


# ------------------------------------------------------------------------------ item 8: compiling


def _syntax(*flags: str, include: list[Path]) -> str:
    args = [GXX, "-std=c++17", "-fsyntax-only", "-Wall", "-Wextra", "-Wpedantic", "-Wshadow", "-Werror", *flags]
    for folder in include:
        args += ["-isystem", folder]
    done = run([*args, "-I", EXAMPLE, EXAMPLE / "trt_infer.cpp"])
    return "ok" if done.returncode == 0 else done.stderr


@pytest.mark.parametrize("version", [(8, 5, 3), (8, 6, 1), (10, 3, 0), (10, 16, 0), (11, 1, 0)])
def test_trt_infer_compiles_cleanly_against_the_projects_declarations(version: tuple[int, int, int]) -> None:
    major, minor, patch = version
    flags = [f"-DNV_TENSORRT_MAJOR={major}", f"-DNV_TENSORRT_MINOR={minor}", f"-DNV_TENSORRT_PATCH={patch}"]
    assert _syntax(*flags, include=[STUB / "include"]) == "ok"


@pytest.mark.parametrize(("major", "minor"), [(8, 6), (10, 3)])
def test_trt_infer_object_builds_without_warnings_when_optimized(tmp_path: Path, major: int, minor: int) -> None:
    """-O2 enables warnings -fsyntax-only never runs (-Wmaybe-uninitialized)."""
    done = run([GXX, "-std=c++17", "-O2", "-c", "-Wall", "-Wextra", "-Werror", f"-DNV_TENSORRT_MAJOR={major}",
                f"-DNV_TENSORRT_MINOR={minor}", "-isystem", STUB / "include", "-I", EXAMPLE, EXAMPLE / "trt_infer.cpp",
                "-o", tmp_path / "t.o"])
    assert done.returncode == 0, done.stderr


def test_trt_infer_states_its_minimum_tensorrt_version() -> None:
    flags = ["-DNV_TENSORRT_MAJOR=8", "-DNV_TENSORRT_MINOR=4", "-DNV_TENSORRT_PATCH=3"]
    assert "trt_infer needs TensorRT >= 8.5" in _syntax(*flags, include=[STUB / "include"])


@pytest.mark.skipif(not os.environ.get("TENSORRT_INCLUDE_DIR"),
                    reason="set TENSORRT_INCLUDE_DIR to NVIDIA's TensorRT headers (and CUDA_INCLUDE_DIR if "
                           "cuda_runtime_api.h is not under /usr/local/cuda/include)")
def test_trt_infer_compiles_against_real_tensorrt_headers() -> None:
    cuda = Path(os.environ.get("CUDA_INCLUDE_DIR", "/usr/local/cuda/include"))
    include = [Path(os.environ["TENSORRT_INCLUDE_DIR"])]
    include.append(cuda if (cuda / "cuda_runtime_api.h").is_file() else STUB / "include")
    assert _syntax(include=include) == "ok"


@pytest.mark.skipif(not Path("/usr/local/cuda/include/cuda_runtime_api.h").is_file(),
                    reason="no CUDA toolkit headers in /usr/local/cuda/include")
def test_trt_infer_and_the_stub_match_real_cuda_headers() -> None:
    cuda = Path("/usr/local/cuda/include")
    assert _syntax(include=[cuda, STUB / "include"]) == "ok"
    done = run([GXX, "-std=c++17", "-fsyntax-only", "-isystem", cuda, STUB / "stub_cudart.cpp"])
    assert done.returncode == 0, done.stderr  # the stub's signatures are CUDA's

