"""The timing loop itself: known durations are measured within 2 %, one sync per window, exact percentiles."""

from __future__ import annotations

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
