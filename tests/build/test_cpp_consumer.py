"""examples/cpp/trt_infer (issue 12, items 6 and 8): built by CMake against trtforge's own TensorRT and CUDA
declarations and linked with the stub libnvinfer / libcudart of tests/build/cpp_stub, whose behaviour each test
chooses (a runtime that cannot be created, a library version, DLA cores, a GPU's compute capability, I/O formats).
Compiling against the declarations and NVIDIA's real headers: test_cpp_build.py."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from cpp_toolchain import needs_cxx, run, trt_infer_for, write_case

from trtforge.compat import platform_name

pytestmark = [needs_cxx, pytest.mark.slow]  # two CMake builds of trt_infer

OK = {"TRTFORGE_STUB_RUNTIME": "ok", "TRTFORGE_STUB_REPORT": "1"}
NO_LEAKS = "stub-cudart: 0 buffers and 0 streams left"
IMAGE = [("input", "input", "HALF", "LINEAR", [1, 3, 8, 8]), ("output", "logits", "FLOAT", "LINEAR", [1, 10])]


@pytest.fixture(scope="module")
def trt_infer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Against TensorRT 10.3.0 declarations (Dims64, the 10.x version encoding)."""
    return trt_infer_for(tmp_path_factory.mktemp("trt10"))


@pytest.fixture(scope="module")
def trt_infer_86(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Against TensorRT 8.6.1 declarations (Dims32, the 8.x version encoding)."""
    return trt_infer_for(tmp_path_factory.mktemp("trt86"), (8, 6, 1))


def infer(binary: Path, sidecar: Path, *args: str, **env: str):
    done = run([binary, sidecar, *args], env=env, timeout=60)
    assert done.returncode >= 0, f"killed by signal {-done.returncode}: {done.stderr}"  # never a crash
    return done


# ------------------------------------------------------------------------------ item 8: the stub library


def test_stub_runtime_that_cannot_be_created_exits_with_a_message(trt_infer: Path, tmp_path: Path) -> None:
    done = infer(trt_infer, write_case(tmp_path, IMAGE), TRTFORGE_STUB_REPORT="1")
    assert done.returncode == 4, done.stderr
    assert "[TensorRT] stub createInferRuntime: CUDA initialization failure" in done.stderr
    assert "trt_infer: could not create the TensorRT runtime (libnvinfer 10.3.0)" in done.stderr
    assert NO_LEAKS in done.stderr


def test_stub_with_a_newer_patch_than_the_headers_accepts_a_sidecar_of_that_version(trt_infer: Path,
                                                                                     tmp_path: Path) -> None:
    sidecar = write_case(tmp_path, IMAGE, tensorrt_version="10.3.1.9")
    done = infer(trt_infer, sidecar, TRTFORGE_STUB_LIB_VERSION="100301", **OK)
    assert done.returncode == 0, done.stderr
    assert "TensorRT library 10.3.1 (headers 10.3.0), engine built by tensorrt 10.3.1.9" in done.stdout
    assert "ran one inference on GPU" in done.stdout
    assert "warning" not in done.stderr  # same version as the loaded library: nothing to report
    refused = infer(trt_infer, sidecar, TRTFORGE_STUB_LIB_VERSION="100301")  # the runtime is still created after
    assert refused.returncode == 4 and "could not create the TensorRT runtime (libnvinfer 10.3.1)" in refused.stderr


# ------------------------------------------------------------------------------ item 6: the consumer


def test_version_check_reads_the_loaded_library_not_the_headers(trt_infer: Path, tmp_path: Path) -> None:
    newer = infer(trt_infer, write_case(tmp_path / "a", IMAGE, tensorrt_version="10.4.0"),
                  TRTFORGE_STUB_LIB_VERSION="100400", **OK)
    assert newer.returncode == 0, newer.stderr
    assert "compiled against TensorRT 10.3.0 headers, loaded library is 10.4.0" in newer.stderr
    old = infer(trt_infer, write_case(tmp_path / "b", IMAGE), TRTFORGE_STUB_LIB_VERSION="100400", **OK)
    assert old.returncode == 3
    assert ("engine built by TensorRT 10.3.0, the loaded libnvinfer is TensorRT 10.4.0: TensorRT loads engines of "
            "its own version only; rebuild this config with this TensorRT (make engine CONFIG=c)") in old.stderr
    patch = infer(trt_infer, write_case(tmp_path / "c", IMAGE, tensorrt_version="10.3.2"), **OK)
    assert patch.returncode == 0, patch.stderr  # another patch: reported, TensorRT's own check decides
    assert "engine built by TensorRT 10.3.2, loaded library is 10.3.0" in patch.stderr
    bad = infer(trt_infer, write_case(tmp_path / "d", IMAGE, tensorrt_version="ten"), **OK)
    assert bad.returncode == 2 and "sidecar.tensorrt.version must look like 10.3.0, found 'ten'" in bad.stderr


def test_version_check_decodes_the_8x_encoding(trt_infer_86: Path, tmp_path: Path) -> None:
    """getInferLibVersion() is M*1000 + m*100 + p before 10.0 (8.6.1 -> 8601), M*10000 + m*100 + p from 10.0."""
    sidecar = write_case(tmp_path / "a", IMAGE, tensorrt_version="8.6.1.6")
    done = infer(trt_infer_86, sidecar, TRTFORGE_STUB_LIB_VERSION="8601", **OK)
    assert done.returncode == 0, done.stderr
    assert "TensorRT library 8.6.1 (headers 8.6.1)" in done.stdout
    older = infer(trt_infer_86, write_case(tmp_path / "b", IMAGE, tensorrt_version="8.5.2"),
                  TRTFORGE_STUB_LIB_VERSION="8601", **OK)
    assert older.returncode == 3 and "the loaded libnvinfer is TensorRT 8.6.1" in older.stderr


def test_null_runtime_engine_and_context_are_refused_with_messages(trt_infer: Path, tmp_path: Path) -> None:
    engine = infer(trt_infer, write_case(tmp_path / "a", IMAGE, plan=b"not a plan"), **OK)
    assert engine.returncode == 4 and "TensorRT could not deserialize" in engine.stderr, engine.stderr
    assert "[TensorRT] stub: not a stub plan" in engine.stderr and NO_LEAKS in engine.stderr
    context = infer(trt_infer, write_case(tmp_path / "b", IMAGE, extra=("context fail",)), **OK)
    assert context.returncode == 4 and "could not create an execution context" in context.stderr, context.stderr


def _bytes(dtype: str, fmt: str, shape: list[int]) -> int:
    """What NvInferRuntime.h's TensorFormat documentation says the buffer holds, computed independently."""
    size = {"FLOAT": 4, "HALF": 2, "INT8": 1}[dtype]
    n, c, h, w = shape
    vector = {"CHW4": 4, "CHW16": 16, "CHW32": 32, "HWC8": 8, "HWC16": 16, "DLA_HWC4": 4}.get(fmt, 1)
    cv = -(-c // vector) * vector  # channels padded to whole vectors
    if fmt == "DLA_LINEAR":  # [N][C][H][roundUp(W, 64 / elementSize)]
        return n * c * h * (-(-w * size // 64) * 64 // size) * size
    if fmt == "DLA_HWC4":  # rows of W * 4 channels rounded up to 64 bytes
        return n * h * (-(-w * cv * size // 64) * 64)
    return n * cv * h * w * size


@pytest.mark.parametrize(("dtype", "fmt"), [("INT8", "CHW32"), ("HALF", "CHW16"), ("HALF", "HWC16"),
                                            ("INT8", "HWC8"), ("HALF", "DLA_LINEAR"), ("INT8", "DLA_HWC4"),
                                            ("FLOAT", "LINEAR")])
def test_buffers_are_sized_from_the_engines_formats_and_strides(trt_infer: Path, tmp_path: Path, dtype: str,
                                                                fmt: str) -> None:
    shape = [1, 3, 5, 5]
    tensors = [("input", "input", dtype, fmt, shape), ("output", "out", dtype, fmt, shape)]
    done = infer(trt_infer, write_case(tmp_path, tensors), **OK)
    # the stub's enqueueV3 fails when a buffer is smaller than its format needs
    assert done.returncode == 0, done.stderr
    expected = _bytes(dtype, fmt, shape)
    assert f"input input {dtype} {fmt} 1x3x5x5 {expected} bytes" in done.stdout
    assert expected > 75 * {"FLOAT": 4, "HALF": 2, "INT8": 1}[dtype] or fmt == "LINEAR"


def test_dynamic_dimensions_are_refused_clearly(trt_infer: Path, tmp_path: Path) -> None:
    tensors = [("input", "input", "HALF", "LINEAR", [-1, 3, 8, 8]), ("output", "logits", "FLOAT", "LINEAR", [-1, 10])]
    done = infer(trt_infer, write_case(tmp_path, tensors), **OK)
    assert done.returncode == 4
    assert ("the engine's input input has dynamic dimensions (-1x3x8x8): trt_infer runs static-shape engines only"
            in done.stderr)
    assert NO_LEAKS in done.stderr


def test_every_engine_io_tensor_is_bound_or_the_sidecar_refused(trt_infer: Path, tmp_path: Path) -> None:
    extra = ("tensor output aux FLOAT LINEAR 1x2",)  # in the engine, not in the sidecar
    missing = infer(trt_infer, write_case(tmp_path / "a", IMAGE, extra=extra), **OK)
    assert missing.returncode == 4
    assert "the engine's output aux is not in the sidecar" in missing.stderr and NO_LEAKS in missing.stderr
    sidecar = write_case(tmp_path / "b", IMAGE)
    stale = sidecar.read_text().replace('"dtype": "FLOAT"', '"dtype": "HALF"')
    sidecar.write_text(stale)
    typed = infer(trt_infer, sidecar, **OK)
    assert typed.returncode == 4 and "differs from the engine's output (FLOAT 1x10)" in typed.stderr
    more = write_case(tmp_path / "c", IMAGE)
    more.write_text(more.read_text().replace('"io": [', '"io": [{"name": "gone", "mode": "input", "shape": [1], '
                                                        '"dtype": "FLOAT", "format": "LINEAR"}, '))
    gone = infer(trt_infer, more, **OK)
    assert gone.returncode == 4 and "the sidecar lists input gone, which the engine does not have" in gone.stderr


def test_engine_size_and_sha256_are_checked_against_the_sidecar(trt_infer: Path, tmp_path: Path) -> None:
    sidecar = write_case(tmp_path, IMAGE)
    engine = tmp_path / "c.engine"
    data = engine.read_bytes()
    engine.write_bytes(data[:-2] + b"X\n")  # same size, other bytes
    changed = infer(trt_infer, sidecar, **OK)
    assert changed.returncode == 1 and "has a different sha256: " in changed.stderr, changed.stderr
    assert f"the sidecar says {hashlib.sha256(data).hexdigest()}" in changed.stderr
    engine.write_bytes(data[:-1])
    cut = infer(trt_infer, sidecar, **OK)
    assert cut.returncode == 1 and f"{len(data) - 1} bytes, the sidecar says {len(data)}" in cut.stderr
    engine.unlink()
    gone = infer(trt_infer, sidecar, **OK)
    assert gone.returncode == 1 and "is missing" in gone.stderr


def test_no_leaks_on_early_returns(trt_infer: Path, tmp_path: Path) -> None:
    """A failure after device buffers and the stream exist frees them all (RAII), as a copied template must."""
    failed = infer(trt_infer, write_case(tmp_path / "a", IMAGE, extra=("enqueue fail",)), **OK)
    assert failed.returncode == 6 and "could not enqueue the inference" in failed.stderr
    assert NO_LEAKS in failed.stderr
    huge = [*IMAGE, ("output", "huge", "FLOAT", "LINEAR", [1, 1, 100000, 100000])]  # cudaMalloc fails on the third
    oom = infer(trt_infer, write_case(tmp_path / "b", huge), **OK)
    assert oom.returncode == 5 and "cudaMalloc of 40000000000 bytes for huge failed: out of memory" in oom.stderr
    assert NO_LEAKS in oom.stderr
    ran = infer(trt_infer, write_case(tmp_path / "c", IMAGE), **OK)
    assert ran.returncode == 0 and NO_LEAKS in ran.stderr


@pytest.mark.parametrize(("arg", "message"), [("x", "found 'x'"), ("-1", "found '-1'"), ("1.5", "found '1.5'"),
                                              ("99999999999999999999", "found '99999999999999999999'"),
                                              ("", "found ''")])
def test_numeric_arguments_are_parsed_without_aborting(trt_infer: Path, tmp_path: Path, arg: str,
                                                       message: str) -> None:
    sidecar = write_case(tmp_path, IMAGE, dla={"applied": True, "core": 1})
    done = infer(trt_infer, sidecar, arg, **OK)
    assert done.returncode == 2 and f"dla_core must be a non-negative integer, {message}" in done.stderr


def test_dla_core_chosen_before_deserializing(trt_infer: Path, tmp_path: Path) -> None:
    sidecar = write_case(tmp_path / "a", IMAGE, extra=("dla 1",), dla={"applied": True, "core": 1},
                         runs_on="GPU + DLA core 1")
    ran = infer(trt_infer, sidecar, TRTFORGE_STUB_DLA_CORES="2", **OK)
    assert ran.returncode == 0 and "ran one inference on GPU + DLA core 1" in ran.stdout, ran.stderr
    other = infer(trt_infer, sidecar, "0", TRTFORGE_STUB_DLA_CORES="2", **OK)  # the stub plan is for core 1
    assert other.returncode == 4 and "engine is for DLA core 1, runtime core is 0" in other.stderr
    absent = infer(trt_infer, sidecar, "1", **OK)
    assert absent.returncode == 3 and "DLA core 1 is not available: this device has 0 DLA cores" in absent.stderr
    gpu = infer(trt_infer, write_case(tmp_path / "b", IMAGE), "0", **OK)
    assert gpu.returncode == 2 and "does not use DLA (runs on: GPU)" in gpu.stderr


def test_mismatched_platform_and_gpu_are_refused_before_deserializing(trt_infer: Path, tmp_path: Path) -> None:
    """The plan is not loadable (a deserialization would fail with status 4): each refusal comes first."""
    def case(name: str, **changes: object) -> Path:
        return write_case(tmp_path / name, IMAGE, plan=b"not a plan", **changes)

    other = "x86_64" if platform_name() != "x86_64" else "aarch64-jetson"
    platform = infer(trt_infer, case("a", engine_platform=other), **OK)
    assert platform.returncode == 3, platform.stderr
    assert f"engine built on {other}, this machine is " in platform.stderr
    assert "an engine loads only on the platform and GPU it was built for; rebuild this config" in platform.stderr
    gpu = infer(trt_infer, case("b", engine_compute_capability="7.2"), TRTFORGE_STUB_CC="8.7", **OK)
    assert gpu.returncode == 3
    assert "engine built for a GPU of compute capability 7.2, this GPU (device 0) is 8.7" in gpu.stderr
    none = infer(trt_infer, case("c"), TRTFORGE_STUB_CC="none", **OK)
    assert none.returncode == 5 and "is a GPU visible to this process?" in none.stderr
    unknown = infer(trt_infer, case("d", engine_compute_capability=None), **OK)
    assert unknown.returncode == 4  # not refused: the sidecar did not know the GPU, so TensorRT decides
    assert "the sidecar records no compute capability; this GPU is 8.7" in unknown.stderr


def test_tensorrt_rtx_gpu_only_engine_is_refused_with_rebuild_on_the_jetson(trt_infer: Path, tmp_path: Path) -> None:
    sidecar = write_case(tmp_path, IMAGE, plan=b"an RTX plan", engine_gpu_only=True, engine_platform="x86_64",
                         engine_compute_capability=None,
                         tensorrt={"flavour": "tensorrt-rtx", "version": "1.7.1.116"})
    done = infer(trt_infer, sidecar, **OK)
    assert done.returncode == 3
    assert ("engine built by TensorRT-RTX 1.7.1.116 on x86_64 (a GPU-only engine of the CPU development flow): "
            "TensorRT cannot load TensorRT-RTX engines and TensorRT-RTX does not run on Jetson; rebuild this config "
            "on the Jetson with TensorRT (make engine CONFIG=c)") in done.stderr
