"""The timing loop itself: known durations are measured within 2 %, one sync per window, exact percentiles."""

from __future__ import annotations

from typing import ClassVar

import pytest
from trtforge.bench.timing import Workload, percentiles_from_latencies, timing_from_workload, timing_in_window
from trtforge.bench.workloads import Synthetic, synthetic_workload

from trtforge.errors import TrtforgeError


def test_a_workload_of_known_duration_is_measured_within_2_percent() -> None:
    workload = synthetic_workload(Synthetic(seconds=0.01), batch=4)
    timing = timing_from_workload(workload, warmup=2, iterations=40)
    assert timing.iterations == 40
    assert timing.fps == pytest.approx(4 / 0.01, rel=0.02)
    assert timing.latency_ms["p50"] == pytest.approx(10.0, rel=0.02)


def test_a_fixed_duration_window_measures_its_duration() -> None:
    timing = timing_in_window(synthetic_workload(Synthetic(seconds=0.02)), duration_s=0.5)
    assert timing.seconds == pytest.approx(0.5, abs=0.03)  # the last step may run past the deadline
    assert timing.fps == pytest.approx(50.0, rel=0.02)


def test_the_timed_window_synchronises_once_at_its_end_and_latencies_come_from_a_synced_pass() -> None:
    calls: list[str] = []
    workload = Workload(step=lambda: calls.append("step"), batch=1, label={}, sync=lambda: calls.append("sync"))
    timing = timing_in_window(workload, iterations=5)
    assert calls == ["step"] * 5 + ["sync"]
    assert timing.latency_ms == {}  # no per-step latencies from an asynchronous window
    calls.clear()
    timed = timing_from_workload(workload, warmup=1, iterations=3)
    assert calls == ["step", "sync"] + ["step"] * 3 + ["sync"] + ["step", "sync"] * 3
    assert set(timed.latency_ms) == {"p50", "p90", "p99", "mean", "min", "max"}


def test_percentiles_are_nearest_rank() -> None:
    latencies = [i / 1000 for i in range(1, 101)]  # 1 .. 100 ms
    got = percentiles_from_latencies(latencies)
    assert (got["p50"], got["p90"], got["p99"], got["min"], got["max"]) == pytest.approx((50, 90, 99, 1, 100))
    assert got["mean"] == pytest.approx(50.5)
    assert percentiles_from_latencies([]) == {}


def test_a_window_with_neither_iterations_nor_duration_is_refused() -> None:
    with pytest.raises(TrtforgeError, match="iterations >= 1"):
        timing_from_workload(synthetic_workload(Synthetic(seconds=0.0)), warmup=0, iterations=0)


# ---------------------------------------------------------------------------------------------- polygraphy


class _Runner:
    """A double of polygraphy's ``TrtRunner``: each ``infer`` takes ``seconds``; records how it was called."""

    seconds = 0.004
    calls: ClassVar[list[tuple[str, object]]] = []

    def __init__(self, engine: object) -> None:
        self.calls.append(("init", engine))

    def activate(self) -> None:
        self.calls.append(("activate", None))

    def deactivate(self) -> None:
        self.calls.append(("deactivate", None))

    def infer(self, feed_dict: dict[str, object], copy_outputs_to_host: bool | None = None) -> dict[str, object]:
        import time

        self.calls.append(("infer", copy_outputs_to_host))
        time.sleep(self.seconds)
        return {"y": feed_dict["x"]}

    def last_inference_time(self) -> float:
        return self.seconds


@pytest.mark.rtx
def test_the_double_matches_polygraphys_trt_runner_api() -> None:
    """Every method the double offers exists on polygraphy's real ``TrtRunner`` (bound to TensorRT-RTX here),
    with the keyword the timing path uses, so the wiring test below exercises calls that exist."""
    import inspect

    from trtforge import compat

    info = compat.detect("tensorrt-rtx")
    assert info is not None
    backend = compat.polygraphy_trt(info)
    for name in ("activate", "deactivate", "infer", "last_inference_time"):
        assert callable(getattr(backend.TrtRunner, name)), name
    assert "copy_outputs_to_host" in inspect.signature(backend.TrtRunner.infer_impl).parameters  # infer forwards
    assert "runtime" in inspect.signature(backend.EngineFromBytes).parameters


def test_engine_timing_through_trt_runner_is_cross_checked_against_the_raw_loop(tmp_path) -> None:
    from types import SimpleNamespace

    from trtforge.bench.throughput import engine_measurement_from
    from trtforge.bench.timing import trt_runner_workload
    from trtforge.bench.workloads import Synthetic, synthetic_workload

    from trtforge.config import config_from_dict

    config = config_from_dict({"name": "t", "model": "tiny_models:nested", "inputs": {"x": [3, 16, 16]},
                               "output_dir": str(tmp_path), "bench": {"warmup": 2, "iterations": 25}})
    _Runner.calls = []
    backend = SimpleNamespace(TrtRunner=_Runner)
    feeds = {"x": object()}  # stands for a CUDA tensor: the runner gets it as is, never a host copy
    record = engine_measurement_from(
        config, lambda: trt_runner_workload(backend, "ENGINE", feeds, batch=1, label={"runtime": "tensorrt"}),
        lambda: synthetic_workload(Synthetic(seconds=0.004)))
    assert record["measured"] and record["label"] == {"runtime": "tensorrt"}
    assert record["fps"] == pytest.approx(1 / 0.004, rel=0.25)
    assert record["raw"]["fps"] == pytest.approx(1 / 0.004, rel=0.25)
    check = record["cross_check"]
    assert check["agree"] and check["raw_over_polygraphy"] == pytest.approx(1.0, abs=0.25)
    assert check["polygraphy_inference_ms_mean"] == pytest.approx(4.0)
    assert _Runner.calls[:2] == [("init", "ENGINE"), ("activate", None)]
    assert _Runner.calls[-1] == ("deactivate", None)
    assert {c for c in _Runner.calls if c[0] == "infer"} == {("infer", False)}  # outputs stay on the device
    assert sum(c[0] == "infer" for c in _Runner.calls) == 2 + 25


def test_a_disagreement_is_reported_not_hidden() -> None:
    from trtforge.bench.timing import Timing, cross_check

    slow, fast = Timing(10, 1, 1.0, 0.0, 1.0), Timing(10, 1, 0.5, 0.0, 0.5)
    check = cross_check(slow, fast, [0.1] * 10)
    assert check["raw_over_polygraphy"] == pytest.approx(2.0) and not check["agree"]


@pytest.mark.gpu
@pytest.mark.tensorrt
@pytest.mark.torch
def test_engine_timing_for_real(tmp_path) -> None:
    """On a GPU machine with TensorRT: the tiny model's engine timed by TrtRunner and by the raw loop."""
    from trtforge.bench.throughput import engine_measurement

    from trtforge.config import config_from_dict

    config = config_from_dict({"name": "t", "model": "tiny_models:nested", "inputs": {"x": [3, 16, 16]},
                               "outputs": ["y"], "output_dir": str(tmp_path), "precision": "fp16",
                               "bench": {"warmup": 20, "iterations": 200}})
    record = engine_measurement(config)
    assert record["measured"] and record["raw"]["measured"]
    assert record["label"]["timed_by"].startswith("polygraphy TrtRunner")
    assert record["fps"] > 0 and record["cross_check"]["raw_fps"] > 0
