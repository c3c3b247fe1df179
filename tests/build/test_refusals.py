"""Each refusal of the compatibility module, with its message; and the GPU-only outcome where DLA is absent."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from trtforge import compat
from trtforge.compat import TrtInfo, build_target
from trtforge.errors import TrtforgeError

TRT10 = TrtInfo("tensorrt", "10.3.0", SimpleNamespace())
RTX = TrtInfo("tensorrt-rtx", "1.7.1.116", SimpleNamespace())


def test_fp32_on_dla() -> None:
    with pytest.raises(TrtforgeError, match=r"found DLA runs FP16 or INT8 only; fix: set precision = 'fp16' or "
                                            r"'int8', or place nothing on DLA"):
        build_target(True, "fp32", 0, info=TRT10, cores=2)


@pytest.mark.parametrize("version", ["11.0.0", "11.1.2", "11.3.1", "11.4.0"])
def test_dla_on_tensorrt_11_before_11_4_1(version: str) -> None:
    info = TrtInfo("tensorrt", version, SimpleNamespace())
    with pytest.raises(TrtforgeError, match=rf"found TensorRT {version} has no DLA support \(DLA is absent in "
                                            r"TensorRT 11.0-11.3; use >= 11.4.1\); fix: use TensorRT 8.6 / 10.x"):
        build_target(True, "fp16", 0, info=info, cores=2)


def test_dla_on_tensorrt_11_4_1_builds() -> None:
    target = build_target(True, "fp16", 1, info=TrtInfo("tensorrt", "11.4.1", SimpleNamespace()), cores=2)
    assert target.dla_applied and not target.gpu_only and target.reason == "TensorRT 11.4.1, DLA core 1 of 2"


def test_dla_core_out_of_range() -> None:
    with pytest.raises(TrtforgeError, match=r"found dla_core 2 is out of range: this device has 2 DLA cores "
                                            r"\(0..1\); fix: pick a core in range"):
        build_target(True, "int8", 2, info=TRT10, cores=2)


@pytest.mark.parametrize(("info", "where"), [(RTX, "TensorRT-RTX has no DLA"),
                                             (TRT10, "this machine has no DLA cores")])
def test_require_dla_without_dla_cores(info: TrtInfo, where: str) -> None:
    with pytest.raises(TrtforgeError, match=rf"found {where} and the config requires DLA; fix: build on a Jetson"):
        build_target(True, "fp16", 0, info=info, cores=0, require_dla=True)


@pytest.mark.parametrize("info", [RTX, TRT10])
def test_dla_without_dla_cores_is_gpu_only(info: TrtInfo) -> None:
    target = build_target(True, "fp16", 0, info=info, cores=0)
    assert target.gpu_only and not target.dla_applied
    assert target.reason.endswith(": builds a GPU-only engine (DLA placement planned, not applied)")


def test_no_tensorrt_at_all(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compat, "detect", lambda prefer=None: None)
    with pytest.raises(TrtforgeError, match=r"found no TensorRT or TensorRT-RTX installed; fix: .*tensorrt-rtx"):
        build_target(False, "fp16", 0, cores=0)


def test_gpu_config_builds_anywhere() -> None:
    target = build_target(False, "fp32", 0, info=RTX, cores=0)
    assert not target.gpu_only and not target.dla_applied and target.reason == "TensorRT-RTX 1.7.1.116 on GPU"


def test_flavour_and_network_flags() -> None:
    assert TRT10.strongly_typed is False and RTX.strongly_typed is True
    assert TrtInfo("tensorrt", "11.4.1", SimpleNamespace()).strongly_typed is True
    assert compat.network_flags(TRT10) == 0 and compat.network_flags(RTX) == 0
    eight = TrtInfo("tensorrt", "8.6.2", SimpleNamespace(NetworkDefinitionCreationFlag=SimpleNamespace(
        EXPLICIT_BATCH=0)))
    assert compat.network_flags(eight) == 1
    assert compat.has_timing_cache(TRT10) and not compat.has_timing_cache(RTX)


@pytest.mark.rtx
def test_cli_require_dla_fails_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from trtforge.cli import main

    code = main(["build", "-c", "resnet18_fp16_gpu_dla12", "--out", str(tmp_path), "--require-dla"])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == ("trtforge: error: a build this machine's TensorRT can make; found TensorRT-RTX has no DLA "
                       "and the config requires DLA; fix: build on a Jetson with DLA cores, or drop --require-dla "
                       "/ require_dla")
    assert not list(tmp_path.iterdir())  # refused before any stage ran
