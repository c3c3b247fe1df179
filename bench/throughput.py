"""Throughput of one config: the benchmark page's two columns, measured properly.

- torch FPS: the eager PyTorch model (``torch.no_grad()``, same input and batch) on CUDA when there is a GPU,
  in FP32 (the page's baseline) and, for FP16 configs on CUDA, also in FP16.
- engine FPS: the engine timed through Polygraphy's ``TrtRunner`` with device-resident inputs and outputs, and,
  in the same run, through the raw ``execute_async_v3`` loop as a cross-check (``raw``, ``cross_check``); where
  no engine can run here the row says why, and ONNX Runtime on the typed ONNX is measured as the CPU stand-in.

Every result records the machine and versions it was measured with.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from trtforge.bench.timing import (
    RunnerWorkload,
    Timing,
    Workload,
    cross_check,
    timing_from_workload,
    trt_runner_workload,
)

from trtforge.config import Config
from trtforge.log import logger

RESULT_FORMAT = "trtforge.bench.throughput/1"


def machine_record() -> dict[str, Any]:
    """``compat.machine_summary()`` plus the versions of the runtimes that measured."""
    import importlib.metadata

    from trtforge import compat

    record = dict(compat.machine_summary())
    for package in ("torch", "onnxruntime", "numpy", "polygraphy"):
        try:
            record[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            record[package] = None
    return record


def measurement_from(build: Callable[[], Workload], config: Config) -> dict[str, Any]:
    """Build a workload and time it with the config's [bench] settings."""
    workload = build()
    bench = config.bench
    timing = timing_from_workload(workload, warmup=bench.warmup, iterations=bench.iterations,
                                  duration_s=bench.duration_s)
    logger.info("bench %s: %s %.1f FPS (p50 %.2f ms)", config.name, workload.label.get("runtime"), timing.fps,
                timing.latency_ms.get("p50", float("nan")))
    return {"measured": True, "label": workload.label, "timing": timing.to_dict(), "fps": timing.fps}


def not_measured(reason: str, **label: Any) -> dict[str, Any]:
    return {"measured": False, "reason": f"not measured here: {reason}", "label": label}


def torch_device(requested: str | None) -> str:
    """``requested``, else ``cuda`` when torch sees a GPU, else ``cpu``."""
    import torch

    if requested:
        return requested
    return "cuda" if torch.cuda.is_available() else "cpu"


def torch_measurements(config: Config, *, device: str, threads: int) -> list[dict[str, Any]]:
    """FP32 (the page's torch column), and FP16 too for FP16 configs on CUDA."""
    from trtforge.bench.workloads import torch_workload

    precisions = ["fp32"]
    if config.precision == "fp16" and device.startswith("cuda"):
        precisions.append("fp16")
    return [measurement_from(functools.partial(torch_workload, config, device=device, precision=p, threads=threads),
                             config) for p in precisions]


def engine_measurement(config: Config) -> dict[str, Any]:
    """The engine timed through Polygraphy's ``TrtRunner`` (the figure), cross-checked in the same run against the
    raw ``execute_async_v3`` loop (``raw``), both with device-resident inputs and outputs."""
    from trtforge.bench.sources import engine_for
    from trtforge.bench.workloads import engine_runnable_reason, tensorrt_workload

    reason = engine_runnable_reason()
    if reason:
        return not_measured(reason, runtime="tensorrt", precision=config.precision)
    engine = engine_for(config)
    return engine_measurement_from(config, lambda: polygraphy_runner(config, engine),
                                   lambda: tensorrt_workload(config, engine, dla_core=config.dla_core))


def polygraphy_runner(config: Config, engine_path: Path) -> RunnerWorkload:
    """``TrtRunner`` over the engine deserialized on a runtime whose DLA core is the config's, fed CUDA tensors."""
    import torch
    from trtforge.bench.workloads import inputs_from_config

    from trtforge import compat

    info = compat.detect()
    assert info is not None  # engine_runnable_reason() said TensorRT runs here
    backend = compat.polygraphy_trt(info)
    runtime = info.module.Runtime(info.module.Logger(info.module.Logger.WARNING))
    if config.uses_dla and info.supports_dla_api:
        runtime.DLA_core = config.dla_core
    engine = backend.EngineFromBytes(engine_path.read_bytes(), runtime=runtime)()
    feeds = {name: torch.from_numpy(value).cuda() for name, value in inputs_from_config(config).items()}
    label = {"runtime": "tensorrt", "timed_by": "polygraphy TrtRunner (device-resident I/O)", "version": info.label,
             "device": f"cuda ({torch.cuda.get_device_name()})", "precision": config.precision,
             "dla_core": config.dla_core, "engine": str(engine_path)}
    return trt_runner_workload(backend, engine, feeds, batch=config.max_batch_size, label=label)


def engine_measurement_from(config: Config, polygraphy: Callable[[], RunnerWorkload],
                            raw: Callable[[], Workload]) -> dict[str, Any]:
    """Time ``polygraphy`` (the reported figure) then ``raw`` with the config's [bench] settings; the raw loop's
    measurement and the cross-check go into the record beside it."""
    runner = polygraphy()
    try:
        measured = measurement_from(lambda: runner.workload, config)
    finally:
        runner.close()
    direct = measurement_from(raw, config)
    check = cross_check(Timing(**_timing_fields(measured)), Timing(**_timing_fields(direct)), runner.inference_s)
    if not check["agree"]:
        logger.warning("bench %s: polygraphy %.1f FPS and the raw loop %.1f FPS disagree by more than %d %%",
                       config.name, check["polygraphy_fps"], check["raw_fps"], round(100 * check["tolerance"]))
    return {**measured, "raw": direct, "cross_check": check}


def _timing_fields(measurement: dict[str, Any]) -> dict[str, Any]:
    timing = measurement["timing"]
    return {k: timing[k] for k in ("iterations", "batch", "seconds", "started", "ended", "latency_ms")}


def onnxruntime_measurement(config: Config, *, threads: int) -> dict[str, Any]:
    """ONNX Runtime on CPU over the typed ONNX: the stand-in where no engine can run."""
    from trtforge.bench.sources import candidate_onnx
    from trtforge.bench.workloads import onnxruntime_workload

    candidate = candidate_onnx(config, fp32_fallback=True)
    if candidate.path is None:
        return not_measured(candidate.reason, runtime="onnxruntime", precision=config.precision)
    measurement = measurement_from(
        lambda: onnxruntime_workload(config, candidate.path, threads=threads,  # type: ignore[arg-type]
                                     precision=candidate.precision), config)
    measurement["label"]["onnx_kind"] = candidate.what
    return measurement


def throughput_from_config(config: Config, *, runtimes: Sequence[str] = (), device: str | None = None,
                           threads: int = 0) -> dict[str, Any]:
    """The throughput record of ``config``: torch, engine, and (where the engine is not measured) ONNX Runtime."""
    from trtforge.bench.sources import torch2trt_kwargs

    wanted = set(runtimes) or {"torch", "tensorrt", "onnxruntime"}
    record: dict[str, Any] = {
        "format": RESULT_FORMAT, "config": config.name, "model": config.model, "precision": config.precision,
        "batch": config.max_batch_size, "dla_core": config.dla_core, "kwargs": torch2trt_kwargs(config),
        "bench": {"warmup": config.bench.warmup, "iterations": config.bench.iterations,
                  "duration_s": config.bench.duration_s},
        "machine": machine_record(),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    if "torch" in wanted:
        record["torch"] = torch_measurements(config, device=torch_device(device), threads=threads)
    if "tensorrt" in wanted:
        record["engine"] = engine_measurement(config)
    else:
        from trtforge.bench.workloads import engine_runnable_reason

        reason = engine_runnable_reason() or "not requested (--runtime)"
        record["engine"] = not_measured(reason, runtime="tensorrt", precision=config.precision)
    if "onnxruntime" in wanted and not record["engine"]["measured"]:
        record["onnxruntime"] = onnxruntime_measurement(config, threads=threads)
    return record


def result_path(kind: str, name: str, results_dir: Path) -> Path:
    return results_dir / kind / f"{name}.json"
