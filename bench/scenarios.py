"""The benchmark page's concurrent scenarios (``configs/scenarios/*.toml``) run through the harness.

The runtime is chosen per machine: the TensorRT engine where one can run; else the eager PyTorch model on
CUDA (the GPU is shared by the processes; DLA cores are recorded as requested, not used); else ONNX Runtime
on CPU with one intra-op thread per process.
"""

from __future__ import annotations

import datetime
import os
from pathlib import Path
from typing import Any

from trtforge.bench.concurrent import (
    ProcessSpec,
    check_window_and_timeout,
    overlap_from_results,
    results_from_processes,
)

from trtforge.config import Config, Scenario, load_config
from trtforge.errors import TrtforgeError

RESULT_FORMAT = "trtforge.bench.concurrent/1"


def runtime_for_machine(requested: str | None) -> str:
    """``requested``, else tensorrt / torch (CUDA) / onnxruntime, the first this machine can run."""
    from trtforge.bench.workloads import engine_runnable_reason

    if requested:
        return requested
    if not engine_runnable_reason():
        return "tensorrt"
    try:
        import torch

        if torch.cuda.is_available():
            return "torch"
    except ImportError:
        pass
    return "onnxruntime"


def config_source(named: str) -> str:
    """How a child finds a scenario's config: a path stays a path (made absolute), a name stays a name."""
    candidate = Path(named)
    if candidate.suffix == ".toml" or os.sep in named:
        return str(candidate.resolve())
    return named


def spec_for_process(config: Config, dla_core: int, runtime: str, *, threads: int,
                     source: str | None = None) -> ProcessSpec:
    """Resolve what the child runs (export, typed ONNX or engine) here, before any child starts. ``source`` is
    how the scenario named the config (a name or a path; default its name): the child loads it the same way
    and checks that it finds the same config."""
    from trtforge.bench import sources
    from trtforge.bench.child import config_sha256

    named = config_source(source or config.name)
    common = {"config": named, "config_sha256": config_sha256(config), "dla_core": dla_core,
              "warmup": config.bench.warmup, "threads": threads}
    if runtime == "tensorrt":
        engine = sources.engine_for(load_config(named, [f"dla_core={dla_core}"]))
        return ProcessSpec(runtime=runtime, engine=str(engine), device="cuda", precision=config.precision,
                           **common)  # type: ignore[arg-type]
    if runtime == "torch":
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
        precision = "fp16" if config.precision == "fp16" and device == "cuda" else "fp32"
        return ProcessSpec(runtime=runtime, device=device, precision=precision, **common)  # type: ignore[arg-type]
    if runtime == "onnxruntime":
        candidate = sources.candidate_onnx(config, fp32_fallback=True)
        if candidate.path is None:
            raise TrtforgeError.of(f"a typed ONNX for {config.name} to run in ONNX Runtime", found=candidate.reason,
                                   fix="build the config first (`make engine CONFIG=...`)")
        return ProcessSpec(runtime=runtime, onnx=str(candidate.path), precision=candidate.precision,
                           onnx_kind=candidate.what, **common)  # type: ignore[arg-type]
    raise TrtforgeError.of("--runtime to be tensorrt, torch or onnxruntime", found=runtime)


def concurrent_from_scenario(scenario: Scenario, *, runtime: str | None, results_dir: Path,
                             window_s: float | None = None, threads: int = 1) -> dict[str, Any]:
    """Run every process of ``scenario`` at once over one window; per-process and aggregate FPS, overlap."""
    from trtforge.bench.sources import torch2trt_kwargs
    from trtforge.bench.throughput import machine_record

    chosen = runtime_for_machine(runtime)
    configs = [load_config(p.config) for p in scenario.processes]
    window = window_s if window_s is not None else max(c.bench.window_s for c in configs)
    timeout = max(c.bench.timeout_s for c in configs)
    check_window_and_timeout(window, timeout)  # before anything is exported, built or started
    specs = [spec_for_process(c, p.dla_core, chosen, threads=threads, source=p.config)
             for c, p in zip(configs, scenario.processes, strict=True)]
    results = results_from_processes(specs, window_s=window, timeout_s=timeout,
                                     log_dir=results_dir / "concurrent" / f"{scenario.name}.logs")
    processes = [{"config": c.name, "source": p.config, "dla_core": p.dla_core,
                  "kwargs": torch2trt_kwargs(c, dla_core=p.dla_core), "label": r["label"], "timing": r["timing"],
                  "fps": r["timing"]["fps"]}
                 for c, p, r in zip(configs, scenario.processes, results, strict=True)]
    return {
        "format": RESULT_FORMAT, "scenario": scenario.name, "title": scenario.title,
        "precision": scenario.precision, "runtime": chosen, "window_s": window, "threads_per_process": threads,
        "processes": processes, "aggregate_fps": sum(p["fps"] for p in processes),
        "overlap": overlap_from_results(results), "machine": machine_record(),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
