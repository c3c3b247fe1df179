"""The one module that knows TensorRT flavours and versions. Nothing else probes them.

Flavours:
- ``tensorrt``     TensorRT 8.6 / 10.x (weakly typed: FP16/INT8 builder flags, calibrators; DLA on Jetson)
                   and TensorRT >= 11 (strongly typed; DLA on AGX Orin from 11.4.1, none in 11.0-11.3).
- ``tensorrt-rtx`` TensorRT-RTX (strongly typed, no DLA). Installs from PyPI and builds on CPU-only machines.

``import tensorrt`` succeeds as an empty namespace package when only ``tensorrt-stubs`` is installed, so real
TensorRT is recognised by what the module has (``__version__`` and ``Builder``), not by the import.
"""

from __future__ import annotations

import functools
import importlib
import os
import platform
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Literal

from trtforge.errors import TrtforgeError

Flavour = Literal["tensorrt", "tensorrt-rtx"]
FLAVOUR_ENV = "TRTFORGE_TRT_FLAVOUR"  # force one flavour when both are installed


@dataclass(frozen=True)
class TrtInfo:
    """What TensorRT this process can use."""

    flavour: Flavour
    version: str
    module: ModuleType = field(repr=False, compare=False)

    @property
    def version_tuple(self) -> tuple[int, ...]:
        return version_tuple(self.version)

    @property
    def strongly_typed(self) -> bool:
        """Precision comes from the ONNX types (TensorRT >= 11 and TensorRT-RTX), not from builder flags."""
        return self.flavour == "tensorrt-rtx" or self.version_tuple >= (11,)

    @property
    def supports_dla_api(self) -> bool:
        """DLA exists in this TensorRT line (the hardware may still be absent: see ``dla_cores``)."""
        if self.flavour == "tensorrt-rtx":
            return False
        return not ((11, 0) <= self.version_tuple[:2] < (11, 4)) and not (
            self.version_tuple[:2] == (11, 4) and self.version_tuple < (11, 4, 1))

    @property
    def label(self) -> str:
        return f"{'TensorRT-RTX' if self.flavour == 'tensorrt-rtx' else 'TensorRT'} {self.version}"


def version_tuple(version: str) -> tuple[int, ...]:
    parts = []
    for piece in version.split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)


def _is_real_trt(module: ModuleType) -> bool:
    return hasattr(module, "__version__") and hasattr(module, "Builder")


def _try_import(name: str) -> ModuleType | None:
    try:
        module = importlib.import_module(name)
    except Exception:  # ImportError, or a broken native library (OSError/RuntimeError)
        return None
    return module if _is_real_trt(module) else None


@functools.cache
def detect(prefer: Flavour | None = None) -> TrtInfo | None:
    """The TensorRT this process uses: real TensorRT first, else TensorRT-RTX, else ``None``."""
    wanted = prefer or os.environ.get(FLAVOUR_ENV) or None
    order: list[tuple[Flavour, str]] = [("tensorrt", "tensorrt"), ("tensorrt-rtx", "tensorrt_rtx")]
    if wanted == "tensorrt-rtx":
        order.reverse()
    for flavour, module_name in order:
        module = _try_import(module_name)
        if module is not None:
            return TrtInfo(flavour=flavour, version=str(module.__version__), module=module)
    return None


def require() -> TrtInfo:
    """The TensorRT to build with, or a clear error saying how to get one."""
    info = detect()
    if info is None:
        raise TrtforgeError.of(
            "TensorRT (8.6, 10.x or >= 11.4.1) or TensorRT-RTX to parse and build engines",
            found="neither `import tensorrt` nor `import tensorrt_rtx` gives a usable module",
            fix="on a Jetson use JetPack's python3-libnvinfer; elsewhere `pip install tensorrt-rtx-cu13`",
        )
    return info


# ---------------------------------------------------------------------------------------------- hardware


def jetson_release() -> str | None:
    """The L4T release on a Jetson (``/etc/nv_tegra_release``), else ``None``."""
    path = Path("/etc/nv_tegra_release")
    if not path.is_file():
        return None
    first = path.read_text(errors="replace").splitlines()[:1]
    return first[0].strip("# ").strip() if first else None


def cuda_gpus() -> list[str]:
    """GPU names from ``nvidia-smi`` (no CUDA library needed); empty when there is none."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return []
    try:
        out = subprocess.run([smi, "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                             text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [line.strip() for line in out.stdout.splitlines() if line.strip()]


# Jetson GPUs by SoC (/proc/device-tree/compatible), from NVIDIA's CUDA GPU list (developer.nvidia.com/cuda-gpus):
# Jetson AGX Orin / Orin NX / Orin Nano (tegra234) 8.7, Jetson AGX Xavier / Xavier NX (tegra194) 7.2.
_JETSON_COMPUTE_CAPABILITY = {"nvidia,tegra234": "8.7", "nvidia,tegra194": "7.2"}
DEVICE_TREE = Path("/proc/device-tree/compatible")


def compute_capability() -> str | None:
    """The compute capability ("8.7") of the GPU TensorRT builds for (the first CUDA_VISIBLE_DEVICES entry, else
    GPU 0), from ``nvidia-smi`` or a Jetson's device tree; ``None`` when no GPU is known."""
    smi = shutil.which("nvidia-smi")
    visible = os.environ.get("CUDA_VISIBLE_DEVICES", "0").split(",")[0].strip()
    if smi is not None and visible not in ("", "-1"):
        try:
            out = subprocess.run([smi, "-i", visible, "--query-gpu=compute_cap", "--format=csv,noheader"],
                                 capture_output=True, text=True, timeout=20, check=False)
            first = out.stdout.strip().splitlines()[:1]
            if out.returncode == 0 and first and first[0].strip().replace(".", "", 1).isdigit():
                return first[0].strip()
        except (OSError, subprocess.TimeoutExpired):
            pass
    if jetson_release() is not None and DEVICE_TREE.is_file():
        names = DEVICE_TREE.read_bytes().decode(errors="replace").split("\0")
        return next((_JETSON_COMPUTE_CAPABILITY[n] for n in names if n in _JETSON_COMPUTE_CAPABILITY), None)
    return None


def platform_name() -> str:
    """The platform an engine is built on, as the C++ consumer names it: ``x86_64``, ``aarch64`` or
    ``aarch64-jetson`` (``/etc/nv_tegra_release`` present)."""
    machine = platform.machine()
    return f"{machine}-jetson" if machine == "aarch64" and jetson_release() is not None else machine


def l4t_version() -> str | None:
    """``R36.4.0`` from a Jetson's ``# R36 (release), REVISION: 4.0, ...``; ``None`` elsewhere."""
    import re

    match = re.match(r"R(\d+)\D+REVISION:\s*([\d.]+)", jetson_release() or "")
    return f"R{match.group(1)}.{match.group(2).rstrip('.')}" if match else None


def machine_summary() -> dict[str, object]:
    """Recorded beside every measurement: where it was made."""
    info = detect()
    return {
        "host": platform.node(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "gpus": cuda_gpus(),
        "jetson": jetson_release(),
        "tensorrt": info.label if info else None,
    }


@functools.cache
def dla_cores(info: TrtInfo | None = None) -> int:
    """DLA cores TensorRT sees on this machine (0 without DLA hardware or without a DLA-capable TensorRT)."""
    info = info or detect()
    if info is None or not info.supports_dla_api:
        return 0
    trt = info.module
    try:
        builder = trt.Builder(trt.Logger(trt.Logger.ERROR))
    except Exception:  # no CUDA driver: TensorRT cannot create a builder here
        return 0
    return int(getattr(builder, "num_DLA_cores", 0))


def build_support(uses_dla: bool, precision: str, dla_core: int, info: TrtInfo | None, cores: int,
                  *, require_dla: bool = False) -> tuple[str, str]:
    """Whether a config can be built here: ``("yes" | "gpu-only" | "no", reason)``.

    ``gpu-only`` means the DLA placement is planned and reported but the engine runs everything on the GPU,
    because this machine has no DLA cores (x86, TensorRT-RTX)."""
    if info is None:
        return "no", "no TensorRT or TensorRT-RTX installed"
    if uses_dla and precision == "fp32":
        return "no", "DLA runs FP16 or INT8 only"
    if uses_dla and info.flavour == "tensorrt" and not info.supports_dla_api:
        return "no", f"{info.label} has no DLA support (DLA is absent in TensorRT 11.0-11.3; use >= 11.4.1)"
    if uses_dla and cores > 0 and dla_core >= cores:
        return "no", f"dla_core {dla_core} is out of range: this device has {cores} DLA cores (0..{cores - 1})"
    if uses_dla and cores == 0:
        where = "TensorRT-RTX has no DLA" if info.flavour == "tensorrt-rtx" else "this machine has no DLA cores"
        if require_dla:
            return "no", f"{where} and the config requires DLA"
        return "gpu-only", f"{where}: builds a GPU-only engine (DLA placement planned, not applied)"
    if uses_dla:
        return "yes", f"{info.label}, DLA core {dla_core} of {cores}"
    return "yes", f"{info.label} on GPU"


# ---------------------------------------------------------------------------------------------- building


@dataclass(frozen=True)
class BuildTarget:
    """What a build of one config does here: which TensorRT, how many DLA cores, and whether the DLA placement
    is applied (``dla_applied``) or the DLA config is built as a GPU-only engine (``gpu_only``)."""

    info: TrtInfo = field(repr=False)
    cores: int
    dla_requested: bool
    dla_applied: bool
    gpu_only: bool
    reason: str


_FIXES = {
    "DLA runs": "set precision = 'fp16' or 'int8', or place nothing on DLA",
    "dla_core": "pick a core in range with --dla-core / dla_core",
    "has no DLA support": "use TensorRT 8.6 / 10.x (JetPack 6) or >= 11.4.1 (JetPack >= 7.2.2) for DLA",
    "and the config requires DLA": "build on a Jetson with DLA cores, or drop --require-dla / require_dla",
    "no TensorRT": "on a Jetson use JetPack's python3-libnvinfer; elsewhere `pip install tensorrt-rtx-cu13`",
}


def build_target(uses_dla: bool, precision: str, dla_core: int, *, require_dla: bool = False,
                 info: TrtInfo | None = None, cores: int | None = None) -> BuildTarget:
    """The build's target, or a ``TrtforgeError`` for each refusal: no TensorRT, FP32 on DLA, DLA on TensorRT
    11.0-11.3, a DLA core out of range, DLA required where there are no DLA cores."""
    info = info or detect()
    cores = dla_cores(info) if cores is None else cores
    status, reason = build_support(uses_dla, precision, dla_core, info, cores, require_dla=require_dla)
    if status == "no" or info is None:
        fix = next((f for key, f in _FIXES.items() if key in reason), None)
        raise TrtforgeError.of("a build this machine's TensorRT can make", found=reason, fix=fix)
    return BuildTarget(info=info, cores=cores, dla_requested=uses_dla, dla_applied=uses_dla and status == "yes",
                       gpu_only=status == "gpu-only", reason=reason)


def network_flags(info: TrtInfo) -> int:
    """``create_network`` flags: explicit batch on TensorRT 8.x (implied from 10.0), nothing else (strong typing
    comes from the flavour: always on for TensorRT >= 11 and TensorRT-RTX, off for 8.6/10.x)."""
    if info.flavour == "tensorrt" and info.version_tuple < (10,):
        trt = info.module
        return 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)
    return 0


def has_timing_cache(info: TrtInfo) -> bool:
    """TensorRT-RTX keeps the timing-cache API but its operations are no-ops (deprecated in RTX 1.2)."""
    return info.flavour == "tensorrt"


def can_run_engines(info: TrtInfo | None) -> bool:
    """Engines can be deserialized here: a TensorRT flavour and a CUDA GPU (``nvidia-smi``) or a Jetson's
    integrated one. TensorRT-RTX builds on a CPU-only machine but cannot load what it built there."""
    return info is not None and (bool(cuda_gpus()) or jetson_release() is not None)


def polygraphy_trt(info: TrtInfo) -> ModuleType:
    """``polygraphy.backend.trt`` bound to ``info``'s flavour (Polygraphy picks TensorRT-RTX from
    ``POLYGRAPHY_USE_TENSORRT_RTX``, read when it is first imported)."""
    if info.flavour == "tensorrt-rtx":
        os.environ.setdefault("POLYGRAPHY_USE_TENSORRT_RTX", "1")
    return importlib.import_module("polygraphy.backend.trt")
