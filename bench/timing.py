"""The timing loop: warm-up, a fixed iteration count or duration, one synchronisation at the end of the
timed window, and latency percentiles.

A :class:`Workload` is what gets timed: ``step`` enqueues one inference, ``sync`` (when the runtime is
asynchronous, e.g. CUDA) waits for everything enqueued. Throughput is measured with ``sync`` called once,
after the last step, so the device pipelines steps as it would in a deployment; latencies of an asynchronous
workload come from a second pass that synchronises after every step. A synchronous workload (ONNX Runtime
on CPU) gives both from one pass.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from trtforge.errors import TrtforgeError


@dataclass(frozen=True)
class Workload:
    """One thing to time. ``label`` says where and how it runs (runtime, device, precision, versions)."""

    step: Callable[[], object]
    batch: int
    label: dict[str, Any]
    sync: Callable[[], object] | None = None


@dataclass(frozen=True)
class Timing:
    """What one timed window measured. Times in seconds; latencies in milliseconds."""

    iterations: int
    batch: int
    seconds: float
    started: float  # wall clock (time.time()) at the first timed step
    ended: float  # wall clock after the final synchronisation
    latency_ms: dict[str, float] = field(default_factory=dict)  # p50, p90, p99, mean, min, max

    @property
    def fps(self) -> float:
        """Samples per second (iterations times batch over the window)."""
        return self.iterations * self.batch / self.seconds

    def to_dict(self) -> dict[str, Any]:
        return {"iterations": self.iterations, "batch": self.batch, "seconds": self.seconds,
                "started": self.started, "ended": self.ended, "fps": self.fps, "latency_ms": self.latency_ms}


def percentiles_from_latencies(latencies: list[float]) -> dict[str, float]:
    """p50/p90/p99 (nearest rank), mean, min and max in milliseconds of per-step times in seconds."""
    if not latencies:
        return {}
    ordered = sorted(latencies)

    def rank(q: float) -> float:
        index = min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))
        return ordered[index] * 1e3

    return {"p50": rank(0.50), "p90": rank(0.90), "p99": rank(0.99), "mean": sum(ordered) / len(ordered) * 1e3,
            "min": ordered[0] * 1e3, "max": ordered[-1] * 1e3}


def timing_from_workload(workload: Workload, *, warmup: int, iterations: int, duration_s: float = 0.0) -> Timing:
    """Warm up, then time ``iterations`` steps (or as many as fit in ``duration_s`` when it is > 0)."""
    if iterations < 1 and duration_s <= 0:
        raise TrtforgeError.of("bench.iterations >= 1 or bench.duration_s > 0", found=(iterations, duration_s))
    for _ in range(warmup):
        workload.step()
    if workload.sync is not None:
        workload.sync()
    window = timing_in_window(workload, iterations=iterations, duration_s=duration_s)
    if workload.sync is None:
        return window
    latencies = _synced_latencies(workload, count=window.iterations)
    return Timing(window.iterations, window.batch, window.seconds, window.started, window.ended,
                  percentiles_from_latencies(latencies))


def timing_in_window(workload: Workload, *, iterations: int = 0, duration_s: float = 0.0,
                     until: float | None = None) -> Timing:
    """The timed window itself: steps back to back, ``sync`` once at the end.

    Stops after ``iterations`` steps, after ``duration_s`` seconds, or when the wall clock passes ``until``
    (the concurrent harness gives every process the same ``until``)."""
    clock = time.perf_counter
    stamps = []
    wall_start, start = time.time(), clock()
    deadline = start + duration_s if duration_s > 0 else None
    if until is not None:
        deadline = start + (until - wall_start)
    last = start
    count = 0
    while True:
        if deadline is not None and last >= deadline:
            break
        if deadline is None and count >= iterations:
            break
        workload.step()
        now = clock()
        stamps.append(now - last)
        last = now
        count += 1
    if workload.sync is not None:
        workload.sync()
    end = clock()
    latency = percentiles_from_latencies(stamps) if workload.sync is None else {}
    return Timing(count, workload.batch, end - start, wall_start, wall_start + (end - start), latency)


def _synced_latencies(workload: Workload, *, count: int) -> list[float]:
    assert workload.sync is not None
    latencies = []
    for _ in range(count):
        start = time.perf_counter()
        workload.step()
        workload.sync()
        latencies.append(time.perf_counter() - start)
    return latencies


# ---------------------------------------------------------------------------------------------- polygraphy


@dataclass
class RunnerWorkload:
    """An engine timed through Polygraphy's ``TrtRunner``: ``workload`` (one ``infer`` per step, inputs and outputs
    left on the device), the runner's own per-inference times, and ``close`` to deactivate the runner."""

    workload: Workload
    inference_s: list[float]
    close: Callable[[], None]


def trt_runner_workload(backend: Any, engine: Any, feeds: dict[str, Any], *, batch: int,
                        label: dict[str, Any]) -> RunnerWorkload:
    """``backend`` is ``polygraphy.backend.trt`` (bound to the flavour by ``compat.polygraphy_trt``), ``engine``
    a deserialized engine, ``feeds`` device-resident inputs (CUDA torch tensors or Polygraphy ``DeviceView``s).
    ``infer(..., copy_outputs_to_host=False)`` keeps the outputs on the device too; the runner synchronises its
    stream inside ``infer``, so the workload is synchronous (per-step latencies come from the window itself)."""
    runner = backend.TrtRunner(engine)
    runner.activate()
    times: list[float] = []

    def step() -> None:
        runner.infer(feeds, copy_outputs_to_host=False)
        times.append(float(runner.last_inference_time()))

    return RunnerWorkload(Workload(step=step, batch=batch, label=label), times, runner.deactivate)


CROSS_CHECK_TOLERANCE = 0.25  # polygraphy's per-inference sync and checks against the raw loop's single sync


def cross_check(polygraphy: Timing, raw: Timing, inference_s: list[float]) -> dict[str, Any]:
    """Polygraphy's FPS against the raw ``execute_async_v3`` loop's, measured in the same run; they agree when the
    raw loop is at most ``CROSS_CHECK_TOLERANCE`` faster or slower."""
    ratio = raw.fps / polygraphy.fps if polygraphy.fps > 0 else math.inf
    mean_ms = 1e3 * sum(inference_s) / len(inference_s) if inference_s else None
    return {"polygraphy_fps": polygraphy.fps, "raw_fps": raw.fps, "raw_over_polygraphy": ratio,
            "agree": abs(ratio - 1.0) <= CROSS_CHECK_TOLERANCE, "tolerance": CROSS_CHECK_TOLERANCE,
            "polygraphy_inference_ms_mean": mean_ms}
