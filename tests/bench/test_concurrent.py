"""The concurrent harness with real child processes: a common window, crashes, hangs, timeouts, no orphans."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from trtforge.bench import concurrent
from trtforge.bench.concurrent import ProcessSpec, overlap_from_results, results_from_processes

from trtforge.errors import TrtforgeError


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The pids of every child the harness starts in this test."""
    pids: list[int] = []
    original = concurrent._start_child

    def recording(*args, **kwargs):  # type: ignore[no-untyped-def]
        child = original(*args, **kwargs)
        pids.append(child.proc.pid)
        return child

    monkeypatch.setattr(concurrent, "_start_child", recording)
    return pids


def _alive(pid: int) -> bool:
    """The process, or any member of its process group (its session), still exists."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(entry.name) == pid or int(fields[2]) == pid:  # fields[2]: the process group id
                return True
    return False


def test_processes_share_one_window_and_measure_known_durations_within_2_percent(tmp_path: Path,
                                                                                   started: list[int]) -> None:
    specs = [ProcessSpec(runtime="synthetic", synthetic_s=0.02, warmup=2),
             ProcessSpec(runtime="synthetic", synthetic_s=0.04, warmup=2)]
    results = results_from_processes(specs, window_s=1.0, timeout_s=60, log_dir=tmp_path)
    assert [r["timing"]["fps"] for r in results] == [pytest.approx(50, rel=0.02), pytest.approx(25, rel=0.02)]
    overlap = overlap_from_results(results)
    assert overlap["seconds"] == pytest.approx(1.0, abs=0.05)
    assert overlap["share_of_longest"] > 0.95
    assert abs(results[0]["timing"]["started"] - results[1]["timing"]["started"]) < 0.05
    assert not any(_alive(pid) for pid in started)


def test_a_crashing_child_fails_the_run_with_its_error_and_leaves_no_process(tmp_path: Path,
                                                                             started: list[int]) -> None:
    specs = [ProcessSpec(runtime="synthetic", synthetic_s=0.01),
             ProcessSpec(runtime="synthetic", synthetic_s=0.01, fail_after=5)]
    with pytest.raises(TrtforgeError, match=r"process 1 .*exited with code 1: RuntimeError: synthetic failure at step 5"
                       ):
        results_from_processes(specs, window_s=30.0, timeout_s=60, log_dir=tmp_path)
    assert len(started) == 2
    assert not any(_alive(pid) for pid in started)  # the healthy child was killed too, not left running


def test_a_child_that_hangs_in_setup_times_out(tmp_path: Path, started: list[int]) -> None:
    specs = [ProcessSpec(runtime="synthetic", synthetic_s=0.01), ProcessSpec(runtime="synthetic", hang="setup")]
    begin = time.monotonic()
    with pytest.raises(TrtforgeError, match=r"process 1 .*setup and warm-up in time.*killed"):
        results_from_processes(specs, window_s=1.0, timeout_s=2.0, log_dir=tmp_path)
    assert time.monotonic() - begin < 15
    assert not any(_alive(pid) for pid in started)


def test_a_child_that_hangs_in_the_window_times_out(tmp_path: Path, started: list[int]) -> None:
    specs = [ProcessSpec(runtime="synthetic", synthetic_s=0.01), ProcessSpec(runtime="synthetic", synthetic_s=0.01,
                                                                              hang="window")]
    begin = time.monotonic()
    with pytest.raises(TrtforgeError, match=r"process 1 .*the timed window in time"):
        results_from_processes(specs, window_s=0.5, timeout_s=1.5, log_dir=tmp_path)
    assert time.monotonic() - begin < 15
    assert not any(_alive(pid) for pid in started)


def test_the_child_protocol_error_is_reported(tmp_path: Path) -> None:
    """A child whose spec names an unknown runtime fails during setup with that error."""
    with pytest.raises(TrtforgeError, match="unknown runtime 'nope'"):
        results_from_processes([ProcessSpec(runtime="nope")], window_s=0.1, timeout_s=30, log_dir=tmp_path)
    assert os.path.exists(tmp_path / "process0.stderr.log")


def _children_with(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if "trtforge.bench.child" in cmdline and marker in cmdline:
                found.append(int(entry.name))
    return found


def test_a_parent_stopped_with_sigterm_kills_its_children(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys

    marker = "0.0123457"  # a step time no other test uses: finds this test's children in /proc
    script = ("from pathlib import Path; from trtforge.bench.concurrent import ProcessSpec, results_from_processes; "
              f"s = ProcessSpec(runtime='synthetic', synthetic_s={marker}); "
              f"results_from_processes([s, s], window_s=60, timeout_s=60, log_dir=Path({str(tmp_path)!r}))")
    parent = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.monotonic() + 30
    while len(_children_with(marker)) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    children = _children_with(marker)
    assert len(children) == 2
    parent.send_signal(signal.SIGTERM)
    assert parent.wait(timeout=30) == 128 + signal.SIGTERM
    assert not any(_alive(pid) for pid in children)
