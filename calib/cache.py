"""TensorRT calibration caches: the versioned header, the hex scale lines, and the key that proves a cache fits.

Format (TensorRT 8.6 / 10.x, read by ``IInt8Calibrator.read_calibration_cache`` and ``trtexec --calib``)::

    TRT-100300-EntropyCalibration2
    input: 3c010204
    /layer1/Relu_output_0: 3d8f5c29

The number is ``getInferLibVersion()``: MAJOR*1000+MINOR*100+PATCH up to TensorRT 9, MAJOR*10000+MINOR*100+PATCH
from 10 on. Each value is the float32 bit pattern of the scale (amax / 127) as 8 lowercase hex digits, most
significant first. Names may contain ``:``, so a line is split at its last ``": "``.

TensorRT silently ignores a cache whose header does not match and recalibrates, so the cache carries a sidecar
``<cache>.json`` with its key (ONNX hash, data manifest hash, method, TensorRT version, target) and
``check_cache`` rejects any difference before a build.
"""

from __future__ import annotations

import struct
from collections.abc import Collection, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from trtforge.calib.ranges import Ranges

from trtforge.artifacts import read_json, sha256_file, write_atomic, write_json
from trtforge.errors import TrtforgeError

Target = Literal["gpu", "dla"]
ALGORITHMS = ("EntropyCalibration2", "MinMaxCalibration", "EntropyCalibration", "LegacyCalibration")
DEFAULT_ALGORITHM = "EntropyCalibration2"
QMAX = 127.0
CACHE_FORMAT = 1


def version_number(trt_version: str) -> int:
    """``getInferLibVersion()`` of a TensorRT version string: 8.6.1(.6) -> 8601, 10.3.0 -> 100300."""
    parts = trt_version.strip().split(".")
    try:
        major, minor, patch = (int(p) for p in ([*parts, "0", "0"])[:3])
    except ValueError:
        raise TrtforgeError.of("a TensorRT version like 10.3.0 or 8.6.1", found=trt_version,
                               fix="pass --trt-version MAJOR.MINOR.PATCH") from None
    if major >= 10:
        return major * 10000 + minor * 100 + patch
    return major * 1000 + minor * 100 + patch


def cache_header(trt_version: str, algorithm: str = DEFAULT_ALGORITHM) -> str:
    if algorithm not in ALGORITHMS:
        raise TrtforgeError.of(f"a calibration algorithm among {', '.join(ALGORITHMS)}", found=algorithm)
    return f"TRT-{version_number(trt_version)}-{algorithm}"


def hex_from_scale(scale: float) -> str:
    """The float32 bit pattern as 8 lowercase hex digits, most significant first (1/127 -> 3c010204)."""
    return struct.pack(">f", scale).hex()


def scale_from_hex(text: str) -> float:
    if len(text) != 8:
        raise TrtforgeError.of("8 hex digits per scale in the calibration cache", found=text)
    return float(struct.unpack(">f", bytes.fromhex(text))[0])


def cache_from_ranges(ranges: Ranges, trt_version: str, algorithm: str = DEFAULT_ALGORITHM) -> str:
    """The cache text: header, then one ``<tensor>: <hex scale>`` line per tensor in name order."""
    lines = [cache_header(trt_version, algorithm)]
    lines += [f"{name}: {hex_from_scale(amax / QMAX)}" for name, amax in sorted(ranges.amax.items())]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class CacheText:
    """A parsed cache: its header parts and the amax (scale * 127) of each tensor."""

    version: int
    algorithm: str
    amax: dict[str, float]

    @property
    def header(self) -> str:
        return f"TRT-{self.version}-{self.algorithm}"


def ranges_from_cache(text: str) -> CacheText:
    """Parse a TensorRT calibration cache (the inverse of ``cache_from_ranges``)."""
    lines = text.splitlines()
    head = lines[0].strip() if lines else ""
    pieces = head.split("-", 2)
    if len(pieces) != 3 or pieces[0] != "TRT" or not pieces[1].isdigit():
        raise TrtforgeError.of("a calibration cache starting with TRT-<version>-<algorithm>", found=head[:60],
                               fix="regenerate it with `trtforge calib`")
    amax: dict[str, float] = {}
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        name, sep, value = line.rpartition(": ")
        if not sep or not name:
            raise TrtforgeError.of(f"'<tensor>: <hex>' on line {number} of the calibration cache", found=line)
        amax[name] = scale_from_hex(value.strip()) * QMAX
    return CacheText(version=int(pieces[1]), algorithm=pieces[2], amax=amax)


# ---------------------------------------------------------------------------------------------- the key


@dataclass(frozen=True)
class CacheKey:
    """What a cache was made for. A cache is used only when every field equals the build's expectation."""

    onnx_sha256: str
    data_sha256: str
    method: str
    trt_version: int  # getInferLibVersion() number, as in the header
    algorithm: str
    target: Target

    @classmethod
    def of(cls, ranges: Ranges, trt_version: str, target: Target,
           algorithm: str = DEFAULT_ALGORITHM) -> CacheKey:
        return cls(onnx_sha256=ranges.onnx_sha256, data_sha256=ranges.data_sha256, method=ranges.method,
                   trt_version=version_number(trt_version), algorithm=algorithm, target=target)


def cache_file_name(trt_version: str, target: Target, *, synthetic: bool = False) -> str:
    """``calib.trt100300.dla.cache``: one cache per TensorRT version and target in the same folder; a cache made
    from synthetic data says so in its name (``calib.trt100300.dla.SYNTHETIC.cache``), since the cache text
    itself has no room for comments."""
    return f"calib.trt{version_number(trt_version)}.{target}{'.SYNTHETIC' if synthetic else ''}.cache"


def write_cache(ranges: Ranges, path: Path, trt_version: str, target: Target,
                algorithm: str = DEFAULT_ALGORITHM) -> Path:
    """Write the cache and its key sidecar ``<cache>.json`` (the cache itself must stay TensorRT-parsable)."""
    write_atomic(path, cache_from_ranges(ranges, trt_version, algorithm))
    key = CacheKey.of(ranges, trt_version, target, algorithm)
    record = {"format": CACHE_FORMAT, "key": asdict(key), "cache_sha256": sha256_file(path),
              "tensors": len(ranges.amax), "synthetic_data": ranges.synthetic}
    write_json(sidecar_path(path), record)
    return path


def sidecar_path(cache_path: Path) -> Path:
    return cache_path.with_name(cache_path.name + ".json")


def check_cache(cache_path: Path, expected: CacheKey, tensors: Collection[str] | None = None, *,
                network_tensors: Collection[str] | None = None) -> CacheText:
    """The parsed cache if it was made for ``expected`` (covering exactly ``tensors``, and naming only tensors of
    the parsed network ``network_tensors``, when given); otherwise a ``TrtforgeError`` naming every difference.

    ``network_tensors`` may hold more names than the cache: TensorRT adds tensors of its own (constants, the
    matrix multiply of a decomposed Gemm) that no ONNX-side calibration can see."""
    path = Path(cache_path)
    if not path.is_file():
        raise TrtforgeError.of(f"a calibration cache at {path}", found="no such file", fix="run `trtforge calib`")
    parsed = ranges_from_cache(path.read_text())
    record = read_json(sidecar_path(path), what="calibration cache key")
    found = dict(record.get("key", {}))
    problems = _key_differences(asdict(expected), found)
    header = f"TRT-{expected.trt_version}-{expected.algorithm}"
    if parsed.header != header:
        problems.append(f"header: expected {header}, found {parsed.header}")
    if record.get("cache_sha256") != sha256_file(path):
        problems.append("cache_sha256: the cache was edited after it was written")
    if tensors is not None:
        problems += _tensor_differences(set(tensors), set(parsed.amax))
    if network_tensors is not None and (foreign := sorted(set(parsed.amax) - set(network_tensors))):
        problems.append(f"{len(foreign)} tensors not in the network (e.g. {', '.join(foreign[:3])})")
    if problems:
        raise TrtforgeError.of(f"a calibration cache made for this engine ({path.name})",
                               found="; ".join(problems),
                               fix="run `trtforge calib` for this config and TensorRT version (--force to redo)")
    return parsed


def _key_differences(expected: Mapping[str, Any], found: Mapping[str, Any]) -> list[str]:
    return [f"{k}: expected {str(expected.get(k))[:16]}, found {str(found.get(k, '<absent>'))[:16]}"
            for k in sorted(expected) if expected.get(k) != found.get(k)]


def _tensor_differences(expected: set[str], found: set[str]) -> list[str]:
    problems = []
    if missing := sorted(expected - found):
        problems.append(f"{len(missing)} tensors without a scale (e.g. {', '.join(missing[:3])})")
    if extra := sorted(found - expected):
        problems.append(f"{len(extra)} tensors not in the network (e.g. {', '.join(extra[:3])})")
    return problems


# ---------------------------------------------------------------------------------------------- dynamic ranges


def dynamic_ranges_from_ranges(ranges: Ranges) -> dict[str, tuple[float, float]]:
    """Per-tensor ``(-amax, amax)`` for ``ITensor.dynamic_range`` (the weakly typed path without a calibrator)."""
    return {name: (-amax, amax) for name, amax in sorted(ranges.amax.items())}
