"""What the benchmarks run, taken from the other stages: the FP32 reference ONNX, the typed candidate ONNX
(FP16-typed or Q/DQ), the engine, and the torch2trt-style kwargs that name a config on the benchmark page."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from trtforge.config import Config

RESULTS_DIR = Path("artifacts") / "bench"  # where bench, bench-concurrent and compare write their JSON
STORED_RESULTS_DIR = Path("bench") / "results"  # results measured on other machines, kept in git


@dataclass(frozen=True)
class Candidate:
    """An ONNX file to run in ONNX Runtime, or why there is none."""

    path: Path | None
    precision: str
    what: str  # e.g. "FP16-typed ONNX", "Q/DQ ONNX", "tagged ONNX"
    reason: str = ""  # set when ``path`` is None


def reference_onnx(config: Config) -> Path:
    """The tagged FP32 ONNX of ``config`` (exported and tagged if stale): the ONNX Runtime reference."""
    from trtforge.pipeline import tagged_from_config

    return tagged_from_config(config).tagged_path


def candidate_onnx(config: Config, *, fp32_fallback: bool = False) -> Candidate:
    """The ONNX the strongly typed build path uses for ``config`` (``trtforge.build.typed_onnx_for``).

    Where the build stage cannot make one, ``fp32_fallback`` gives the tagged FP32 ONNX instead (a throughput
    stand-in, labelled as such); without it the candidate says why there is none."""
    what = {"fp16": "FP16-typed ONNX", "int8": "Q/DQ ONNX", "fp32": "tagged ONNX"}[config.precision]
    try:
        from trtforge.build import typed_onnx_for  # type: ignore[attr-defined]
    except ImportError:
        reason = "the build stage provides no typed ONNX (trtforge.build.typed_onnx_for is missing)"
        if fp32_fallback:
            return Candidate(reference_onnx(config), "fp32", f"tagged FP32 ONNX; {reason}")
        return Candidate(None, config.precision, what, reason)
    return Candidate(Path(typed_onnx_for(config)), config.precision, what)


def engine_for(config: Config) -> Path:
    """The engine file of ``config`` (built if stale) by the build stage."""
    from trtforge.build import engine_for_config  # type: ignore[attr-defined]

    result = engine_for_config(config)
    return Path(result.engine_path)


def torch2trt_kwargs(config: Config, *, dla_core: int | None = None) -> str:
    """The config as torch2trt's benchmark page names it, e.g. ``{'fp16_mode': True, 'default_device_type':
    DeviceType.GPU, 'device_types': "{'layer1': 'DLA'}", 'max_batch_size': 1}``; ``dla_core`` adds the
    concurrent tables' last entry."""
    parts = []
    if config.precision != "fp32":
        parts.append(f"'{config.precision}_mode': True")
    parts.append(f"'default_device_type': DeviceType.{config.default_device}")
    if config.device_types:
        inner = ", ".join(f"'{k}': '{v}'" for k, v in config.device_types.items())
        parts.append(f"'device_types': \"{{{inner}}}\"")
    parts.append(f"'max_batch_size': {config.max_batch_size}")
    if dla_core is not None:
        parts.append(f"'dla_core': {dla_core}")
    return "{" + ", ".join(parts) + "}"
