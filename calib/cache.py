"""TensorRT calibration caches: the versioned header, the hex scale lines, and the key that proves a cache fits.

Format (TensorRT 8.6 / 10.x, read by ``IInt8Calibrator.read_calibration_cache`` and ``trtexec --calib``)::

    TRT-100300-EntropyCalibration2
    input: 3c010204
    /layer1/Relu_output_0: 3d8f5c29

The number is ``getInferLibVersion()``: MAJOR*1000+MINOR*100+PATCH up to TensorRT 9, MAJOR*10000+MINOR*100+PATCH
from 10 on. Each value is the float32 bit pattern of the scale (amax / 127) in hex, most significant first; this
project writes 8 lowercase digits, TensorRT and other writers may not pad (``0``) and the reader takes any case, as
trtexec does (``int(hex, 16)`` reinterpreted as float32). Names may contain ``:``, so a line is split at its last
``:``. One reader (``ranges_from_cache`` / ``read_cache``) serves ``trtforge cache show``, ``check_cache`` and the
calibrator; reference/wild/caches/ holds real caches from TensorRT 5.1 to 10.7 (headers ``TRT-5100`` ...
``TRT-100700``) that it reads bit for bit.

TensorRT silently ignores a cache whose header does not match and recalibrates, so the cache carries a sidecar
``<cache>.json`` with its key (ONNX hash, data manifest hash, method, TensorRT version, target) and
``check_cache`` rejects any difference before a build.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Collection, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from trtforge.calib.ranges import Ranges

from trtforge.artifacts import read_json, sha256_file, write_atomic, write_json
from trtforge.errors import TrtforgeError
from trtforge.log import logger

Target = Literal["gpu", "dla"]
ALGORITHMS = ("EntropyCalibration2", "MinMaxCalibration", "EntropyCalibration", "LegacyCalibration")
DEFAULT_ALGORITHM = "EntropyCalibration2"
QMAX = 127.0
CACHE_FORMAT = 1
_HEX = re.compile(r"^(?:0[xX])?[0-9a-fA-F]{1,8}$")
_HEADER = re.compile(r"^TRT-([0-9]{1,9})-(\S+)$")
_AMAX_TABLE = re.compile(r"^\S+\s+[-+0-9.eE]+$")
_VERSION = re.compile(r"^\s*v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:[.\-+~]\S*)?\s*$")


def version_number(trt_version: str) -> int:
    """``getInferLibVersion()`` of a TensorRT version string: 8.6.1(.6) -> 8601, 10.3.0.30 -> 100300; package
    versions such as ``8.5.2-1+cuda11.4`` (JetPack's libnvinfer) count by their first three numbers."""
    match = _VERSION.match(trt_version)
    if not match:
        raise TrtforgeError.of("a TensorRT version like 10.3.0 or 8.6.1", found=trt_version,
                               fix="pass --trt-version MAJOR.MINOR.PATCH")
    major, minor, patch = (int(match.group(i) or 0) for i in (1, 2, 3))
    if minor > 99 or patch > 99 or (major < 10 and minor > 9):
        raise TrtforgeError.of("a TensorRT version with minor and patch numbers TensorRT can encode",
                               found=trt_version, fix="pass --trt-version MAJOR.MINOR.PATCH")
    if major >= 10:
        return major * 10000 + minor * 100 + patch
    return major * 1000 + minor * 100 + patch


def version_text(number: int) -> str:
    """The inverse of ``version_number``: 100300 -> 10.3.0, 8601 -> 8.6.1, 8510 -> 8.5.10 (DRIVE OS)."""
    if number >= 100000:
        return f"{number // 10000}.{number // 100 % 100}.{number % 100}"
    return f"{number // 1000}.{number // 100 % 10}.{number % 100}"


def cache_header(trt_version: str, algorithm: str = DEFAULT_ALGORITHM) -> str:
    if algorithm not in ALGORITHMS:
        raise TrtforgeError.of(f"a calibration algorithm among {', '.join(ALGORITHMS)}", found=algorithm)
    return f"TRT-{version_number(trt_version)}-{algorithm}"


def hex_from_scale(scale: float) -> str:
    """The float32 bit pattern as 8 lowercase hex digits, most significant first (1/127 -> 3c010204)."""
    return struct.pack(">f", scale).hex()


def scale_from_hex(text: str) -> float:
    """The scale a cache value stands for, read as trtexec does: ``int(text, 16)`` as IEEE-754 float32 bits (1 to 8
    hex digits, either case, ``0`` for a zero scale: TensorRT does not zero-pad)."""
    return _float_from_bits(_bits_from_hex(text, "a scale"))


def _bits_from_hex(text: str, where: str) -> int:
    if not _HEX.match(text):
        raise TrtforgeError.of(f"a float32 bit pattern in hex (1 to 8 digits, e.g. 3c010204) for {where}",
                               found=text[:40] or "nothing", fix="regenerate the cache with `trtforge calib`")
    return int(text[2:] if text[:2].lower() == "0x" else text, 16)


def _float_from_bits(bits: int) -> float:
    return float(struct.unpack(">f", bits.to_bytes(4, "big"))[0])


def cache_from_ranges(ranges: Ranges, trt_version: str, algorithm: str = DEFAULT_ALGORITHM) -> str:
    """The cache text: header, then one ``<tensor>: <hex scale>`` line per tensor in name order."""
    lines = [cache_header(trt_version, algorithm)]
    lines += [f"{name}: {hex_from_scale(amax / QMAX)}" for name, amax in sorted(ranges.amax.items())]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class CacheText:
    """A parsed cache: its header parts, the amax (scale * 127) of each tensor, the float32 bits as written (file
    order) and what the reader warned about."""

    version: int
    algorithm: str
    amax: dict[str, float]
    bits: dict[str, int] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    @property
    def header(self) -> str:
        return f"TRT-{self.version}-{self.algorithm}"

    @property
    def scales(self) -> dict[str, float]:
        return {name: _float_from_bits(bits) for name, bits in self.bits.items()}

    def to_json(self) -> dict[str, Any]:
        """``trtforge cache show --json``: header, version (MAJOR.MINOR.PATCH), algorithm, scales, warnings."""
        return {"header": self.header, "version": version_text(self.version), "algorithm": self.algorithm,
                "scales": self.scales, "warnings": list(self.warnings)}


def ranges_from_cache(text: str, source: str = "the cache text") -> CacheText:
    """Parse any TensorRT calibration cache (the inverse of ``cache_from_ranges``): ``TRT-<N>-<algorithm>`` then
    ``<tensor>: <hex>`` lines split at the last ``:`` (names may hold ``:``), LF or CRLF, with or without a final
    newline. A name repeated with the same value warns, with another value it is an error."""
    body = text.rstrip("\x00")  # a C++ writer's buffer may end in NULs
    lines = [line[:-1] if line.endswith("\r") else line for line in body.split("\n")]
    version, algorithm = _header_parts(lines[0].lstrip("\ufeff").strip(), source)
    bits: dict[str, int] = {}
    seen: dict[str, int] = {}
    warnings = _version_warnings(version)
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        name, sep, value = line.rpartition(":")
        if not sep or not name.strip():
            raise TrtforgeError.of(f"'<tensor>: <hex>' on line {number} of {source}", found=line[:60],
                                   fix="regenerate the cache with `trtforge calib`")
        value_bits = _bits_from_hex(value.strip(), f"'{name}' on line {number} of {source}")
        if name in bits and bits[name] != value_bits:
            raise TrtforgeError.of(f"one scale per tensor in {source}",
                                   found=f"'{name}' with {bits[name]:08x} (line {seen[name]}) and {value_bits:08x} "
                                         f"(line {number})", fix="keep one of the two lines")
        if name in bits:
            warnings.append(f"'{name}' is repeated (lines {seen[name]} and {number}) with the same value")
        bits.setdefault(name, value_bits)
        seen.setdefault(name, number)
    if not bits:
        warnings.append("the cache holds no tensor scales")
    amax = {name: _float_from_bits(b) * QMAX for name, b in bits.items()}
    return CacheText(version=version, algorithm=algorithm, amax=amax, bits=bits, warnings=tuple(warnings))


def _header_parts(head: str, source: str) -> tuple[int, str]:
    match = _HEADER.match(head)
    if not match:
        looks = " (a '<name> <amax>' text table, not a TensorRT cache)" if _AMAX_TABLE.match(head) else ""
        raise TrtforgeError.of(f"a TensorRT calibration cache starting with TRT-<N>-<algorithm> "
                               f"(e.g. TRT-100300-EntropyCalibration2) in {source}", found=f"'{head[:60]}'{looks}",
                               fix="give the cache TensorRT or `trtforge calib` wrote")
    if match.group(2) not in ALGORITHMS:
        raise TrtforgeError.of(f"a calibration algorithm among {', '.join(ALGORITHMS)} in the header of {source}",
                               found=match.group(2)[:40])
    return int(match.group(1)), match.group(2)


def _version_warnings(version: int) -> list[str]:
    if 10000 <= version < 100000 and version // 1000 >= 10:
        return [f"header number {version} reads as TensorRT {version_text(version)} by MAJOR*1000+MINOR*100+PATCH, "
                f"which TensorRT 10+ does not use (10.3.0 writes 100300): TensorRT will ignore this cache"]
    return []


def text_from_cache(cache: CacheText) -> str:
    """The canonical text of a parsed cache (8 lowercase hex digits, LF, final newline) in its own order: the
    project's caches come back byte for byte, a foreign one keeps every tensor and value."""
    lines = [cache.header, *(f"{name}: {bits:08x}" for name, bits in cache.bits.items())]
    return "\n".join(lines) + "\n"


def read_cache(path: Path) -> CacheText:
    """``ranges_from_cache`` on a file (UTF-8, a BOM allowed); anything else is one ``TrtforgeError``."""
    source = Path(path)
    if not source.is_file():
        raise TrtforgeError.of(f"a calibration cache at {source}", found="no such file", fix="run `trtforge calib`")
    try:
        text = source.read_bytes().decode("utf-8")
    except UnicodeDecodeError as err:
        raise TrtforgeError.of(f"a TensorRT calibration cache (text) at {source}",
                               found=f"bytes that are not UTF-8 text (at byte {err.start})",
                               fix="give the cache TensorRT or `trtforge calib` wrote, not an engine or a table") \
            from None
    return ranges_from_cache(text, source.name)


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
    parsed = read_cache(path)  # the reader `trtforge cache show` uses
    for warning in parsed.warnings:
        logger.warning("calib: %s: %s", path.name, warning)
    record = read_json(sidecar_path(path), what="calibration cache key", kind=dict)  # a list: one TrtforgeError
    found = record.get("key") if isinstance(record.get("key"), dict) else {}  # a number: every field differs
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
