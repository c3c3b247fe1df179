"""Golden tests of the TensorRT calibration cache: header formula, hex encoding, names with ':', round trips,
the key check, dynamic ranges, and the calibrator's method set against the TensorRT 10 stubs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from trtforge.calib import (
    CacheKey,
    Ranges,
    cache_from_ranges,
    cache_header,
    calibrator_from_cache,
    check_cache,
    dynamic_ranges_from_ranges,
    ranges_from_cache,
    version_number,
)
from trtforge.calib.cache import cache_file_name, hex_from_scale, scale_from_hex, write_cache

from trtforge.errors import TrtforgeError

STUBS = Path(__file__).resolve().parents[2] / ".stubs" / "tensorrt_bindings" / "tensorrt.pyi"


def _ranges(**amax: float) -> Ranges:
    return Ranges(amax=dict(amax) or {"input": 1.0, "/conv1/Conv_output_0": 2.5, "input_1:0": 0.125},
                  method="entropy", onnx_sha256="a" * 64, data_sha256="d" * 64, synthetic=False)


@pytest.mark.parametrize(("version", "number", "header"), [
    ("8.5.2", 8502, "TRT-8502-EntropyCalibration2"),
    ("8.6.1", 8601, "TRT-8601-EntropyCalibration2"),
    ("8.6.1.6", 8601, "TRT-8601-EntropyCalibration2"),
    ("10.3.0", 100300, "TRT-100300-EntropyCalibration2"),
    ("10.7.0", 100700, "TRT-100700-EntropyCalibration2"),
])
def test_header_formula(version: str, number: int, header: str) -> None:
    assert version_number(version) == number
    assert cache_header(version) == header


def test_header_other_algorithm_and_bad_input() -> None:
    assert cache_header("10.3.0", "MinMaxCalibration") == "TRT-100300-MinMaxCalibration"
    with pytest.raises(TrtforgeError, match="algorithm"):
        cache_header("10.3.0", "Percentile")
    with pytest.raises(TrtforgeError, match="TensorRT version"):
        version_number("ten")


def test_hex_encoding_is_big_endian_float32_bits() -> None:
    assert hex_from_scale(1 / 127) == "3c010204"
    assert hex_from_scale(1.0) == "3f800000"
    assert hex_from_scale(1e-40) == "000116c2"  # denormal: still 8 digits, zero-padded
    assert scale_from_hex("3c010a14") == pytest.approx(1.00024 / 127, rel=1e-5)


def test_cache_text_golden() -> None:
    text = cache_from_ranges(_ranges(), "10.3.0")
    assert text == ("TRT-100300-EntropyCalibration2\n"
                    "/conv1/Conv_output_0: 3ca14285\n"
                    "input: 3c010204\n"
                    "input_1:0: 3a810204\n")


def test_round_trip_including_names_with_colons() -> None:
    ranges = _ranges(**{"a:b:c": 3.0, "x: y": 0.5, "plain": 1e-3})
    text = cache_from_ranges(ranges, "8.6.1")
    parsed = ranges_from_cache(text)
    assert (parsed.version, parsed.algorithm) == (8601, "EntropyCalibration2")
    assert set(parsed.amax) == set(ranges.amax)
    for name, amax in ranges.amax.items():
        assert parsed.amax[name] == pytest.approx(amax, rel=1e-6)
    again = Ranges(amax=parsed.amax, method="entropy", onnx_sha256="", data_sha256="", synthetic=False)
    assert cache_from_ranges(again, "8.6.1") == text  # byte-identical after a round trip


def test_malformed_cache_is_an_error() -> None:
    with pytest.raises(TrtforgeError, match="TRT-<N>-<algorithm>"):
        ranges_from_cache("calibration.json\ninput 1.0\n")
    with pytest.raises(TrtforgeError, match="1 to 8 digits"):
        ranges_from_cache("TRT-100300-EntropyCalibration2\ninput: 3c01020g\n")
    with pytest.raises(TrtforgeError, match="1 to 8 digits"):
        ranges_from_cache("TRT-100300-EntropyCalibration2\ninput: 13c010204\n")


def test_dynamic_ranges_are_symmetric() -> None:
    assert dynamic_ranges_from_ranges(_ranges(a=2.0)) == {"a": (-2.0, 2.0)}


def _written(tmp_path: Path, version: str = "10.3.0", target: str = "dla") -> tuple[Path, Ranges]:
    ranges = _ranges()
    path = write_cache(ranges, tmp_path / cache_file_name(version, target), version, target)  # type: ignore[arg-type]
    return path, ranges


def test_cache_file_name_and_check_accepts_its_own_key(tmp_path: Path) -> None:
    path, ranges = _written(tmp_path)
    assert path.name == "calib.trt100300.dla.cache"
    parsed = check_cache(path, CacheKey.of(ranges, "10.3.0", "dla"), tensors=ranges.amax)
    assert set(parsed.amax) == set(ranges.amax)


@pytest.mark.parametrize(("change", "reason"), [
    ({"onnx_sha256": "b" * 64}, "onnx_sha256: expected bbbb"),
    ({"data_sha256": "e" * 64}, "data_sha256: expected eeee"),
    ({"trt_version": 80601 // 10}, "header: expected TRT-8060-"),
    ({"target": "gpu"}, "target: expected gpu, found dla"),
    ({"method": "max"}, "method: expected max, found entropy"),
])
def test_check_rejects_a_foreign_cache_with_what_differs(tmp_path: Path, change: dict, reason: str) -> None:
    path, ranges = _written(tmp_path)
    expected = CacheKey(**{**CacheKey.of(ranges, "10.3.0", "dla").__dict__, **change})
    with pytest.raises(TrtforgeError, match=re.escape(reason)):
        check_cache(path, expected)


def test_check_rejects_an_edited_cache_and_a_different_tensor_set(tmp_path: Path) -> None:
    path, ranges = _written(tmp_path)
    key = CacheKey.of(ranges, "10.3.0", "dla")
    with pytest.raises(TrtforgeError, match=r"1 tensors without a scale \(e.g. new\)"):
        check_cache(path, key, tensors=[*ranges.amax, "new"])
    path.write_text(path.read_text().replace("TRT-100300", "TRT-8601"))
    with pytest.raises(TrtforgeError, match="header: expected TRT-100300-EntropyCalibration2, found TRT-8601"):
        check_cache(path, key)


class _FakeTrt:
    """The part of the tensorrt module the calibrator uses (a test double; its names are checked below)."""

    class CalibrationAlgoType:
        ENTROPY_CALIBRATION_2 = "ENTROPY_CALIBRATION_2"

    class IInt8EntropyCalibrator2:
        def __init__(self) -> None:
            self.base_initialised = True


def test_calibrator_serves_the_checked_cache_and_refuses_to_recalibrate(tmp_path: Path) -> None:
    path, ranges = _written(tmp_path)
    calibrator = calibrator_from_cache(_FakeTrt, path, CacheKey.of(ranges, "10.3.0", "dla"))  # type: ignore[arg-type]
    assert isinstance(calibrator, _FakeTrt.IInt8EntropyCalibrator2) and calibrator.base_initialised
    assert calibrator.read_calibration_cache() == path.read_bytes()
    assert calibrator.get_algorithm() == "ENTROPY_CALIBRATION_2"
    calibrator.raise_if_recalibrated()  # nothing asked yet
    assert calibrator.get_batch(["input"]) is None
    with pytest.raises(TrtforgeError, match="asked for calibration batches"):
        calibrator.raise_if_recalibrated()


def test_calibrator_is_not_built_for_a_mismatched_cache(tmp_path: Path) -> None:
    path, ranges = _written(tmp_path)
    with pytest.raises(TrtforgeError, match="header: expected TRT-8601"):
        calibrator_from_cache(_FakeTrt, path, CacheKey.of(ranges, "8.6.1", "dla"))  # type: ignore[arg-type]


def test_calibrator_overrides_exist_in_the_tensorrt_10_stubs(tmp_path: Path) -> None:
    """Every TensorRT method our calibrator overrides is a method of the stubs' IInt8EntropyCalibrator2 or its
    base IInt8Calibrator, with the same parameters (the stubs do not parse as Python, so read them as text)."""
    if not STUBS.is_file():
        pytest.skip("tensorrt-stubs not installed in .stubs (make setup)")
    text = STUBS.read_text()
    stub_methods: dict[str, str] = {}
    for cls in ("IInt8Calibrator", "IInt8EntropyCalibrator2"):
        body = re.search(rf"^class {cls}[(:].*?(?=^class )", text, re.S | re.M)
        assert body, cls
        stub_methods.update(re.findall(r"^    def (\w+)\((.*?)\)", body.group(0), re.M))
    path, ranges = _written(tmp_path)
    calibrator = calibrator_from_cache(_FakeTrt, path, CacheKey.of(ranges, "10.3.0", "dla"))  # type: ignore[arg-type]
    ours = {name for name in type(calibrator).__dict__ if not name.startswith("_")}
    trt_methods = ours - {"raise_if_recalibrated", "cache_path", "recalibration_requested"}
    assert trt_methods == {"get_algorithm", "get_batch_size", "get_batch", "read_calibration_cache",
                           "write_calibration_cache"}
    for name in trt_methods:
        assert name in stub_methods, f"{name} is not a TensorRT 10 calibrator method"
        params = [p.split(":")[0].strip() for p in stub_methods[name].split(",") if p.strip()]
        import inspect

        ours_params = list(inspect.signature(getattr(type(calibrator), name)).parameters)
        assert [p for p in params if p != "self"] == [p for p in ours_params if p != "self"], name


def test_dynamic_ranges_into_network_reports_float_tensors_without_a_range() -> None:
    from types import SimpleNamespace

    from trtforge.calib import dynamic_ranges_into_network

    def tensor(name: str, dtype: str = "FLOAT") -> SimpleNamespace:
        return SimpleNamespace(name=name, dtype=SimpleNamespace(name=dtype), dynamic_range=None)

    inputs = [tensor("input")]
    outputs = [tensor("conv"), tensor("shape", "INT64"), tensor("(Unnamed Layer* 3) [Constant]_output")]
    layers = [SimpleNamespace(num_outputs=1, get_output=lambda k, t=t: t) for t in outputs]
    network = SimpleNamespace(num_inputs=1, get_input=lambda i: inputs[i], num_layers=len(layers),
                              get_layer=lambda i: layers[i])
    missing = dynamic_ranges_into_network(network, {"input": (-1.0, 1.0), "conv": (-2.0, 2.0)})
    assert missing == ["(Unnamed Layer* 3) [Constant]_output"]
    assert inputs[0].dynamic_range == (-1.0, 1.0) and outputs[0].dynamic_range == (-2.0, 2.0)
    assert outputs[1].dynamic_range is None
