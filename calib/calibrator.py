"""The calibrator for TensorRT 8.6 / 10.x that serves a checked cache and never lets TensorRT recalibrate.

TensorRT calls ``read_calibration_cache``; if it accepts the bytes it never asks for a batch. If it rejects them
(it does so silently, e.g. on a header mismatch) it calls ``get_batch``: ours records the refusal, logs an
error and returns ``None`` (no data), and ``raise_if_recalibrated`` turns that into a ``TrtforgeError`` after
the build, so an engine calibrated on nothing is never shipped.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from trtforge.calib.cache import CacheKey, check_cache

from trtforge.errors import TrtforgeError
from trtforge.log import logger


def calibrator_from_cache(trt_module: ModuleType, cache_path: Path, expected: CacheKey,
                          tensors: Collection[str] | None = None, *,
                          network_tensors: Collection[str] | None = None) -> Any:
    """An ``IInt8EntropyCalibrator2`` of ``trt_module`` serving ``cache_path`` once ``check_cache`` accepts it
    (``tensors``, ``network_tensors``: see ``check_cache``)."""
    if expected.algorithm != "EntropyCalibration2":
        raise TrtforgeError.of("a cache for EntropyCalibration2 (the calibrator DLA requires)",
                               found=expected.algorithm)
    check_cache(cache_path, expected, tensors, network_tensors=network_tensors)
    payload = Path(cache_path).read_bytes()
    # Typed Any: tensorrt-stubs 10.13 do not parse under mypy (parameters named `in`), so the method set is
    # checked against the stubs' IInt8EntropyCalibrator2 by tests/calib/test_calibrator.py instead.
    trt: Any = trt_module

    class ServedCacheCalibrator(trt.IInt8EntropyCalibrator2):
        """Serves one pre-computed cache; has no data, so TensorRT cannot recalibrate with it."""

        def __init__(self) -> None:
            trt.IInt8EntropyCalibrator2.__init__(self)
            self.cache_path = Path(cache_path)
            self.recalibration_requested = False

        def get_algorithm(self) -> Any:
            return trt.CalibrationAlgoType.ENTROPY_CALIBRATION_2

        def get_batch_size(self) -> int:
            return 1

        def get_batch(self, names: list[str]) -> list[int]:
            self.recalibration_requested = True
            logger.error("calib: TensorRT rejected %s and asked for calibration data; refusing (no batches)",
                         self.cache_path)
            return None  # type: ignore[return-value]  # None = "no more batches" in TensorRT's Python API

        def read_calibration_cache(self) -> bytes:
            return payload

        def write_calibration_cache(self, cache: Any) -> None:
            return None  # the served cache is the only one; TensorRT must not replace it

        def raise_if_recalibrated(self) -> None:
            if self.recalibration_requested:
                raise TrtforgeError.of(f"TensorRT to accept the calibration cache {self.cache_path.name}",
                                       found="it asked for calibration batches (cache rejected)",
                                       fix="regenerate the cache for this TensorRT version: trtforge calib "
                                           "--trt-version <this device's version> --force")

    return ServedCacheCalibrator()


def dynamic_ranges_into_network(network: Any, ranges: Mapping[str, tuple[float, float]]) -> list[str]:
    """Set ``ITensor.dynamic_range`` on the network inputs and layer outputs that have a range (the weakly typed
    path without a calibrator, TensorRT 8.6 / 10.x); return the float tensors left without one (TensorRT runs
    their layers in higher precision)."""
    tensors = [network.get_input(i) for i in range(network.num_inputs)]
    for index in range(network.num_layers):
        layer = network.get_layer(index)
        tensors += [layer.get_output(k) for k in range(layer.num_outputs)]
    missing = []
    for tensor in tensors:
        if tensor.name in ranges:
            tensor.dynamic_range = tuple(ranges[tensor.name])
        elif getattr(tensor.dtype, "name", "") in ("FLOAT", "HALF"):
            missing.append(tensor.name)
    return missing
