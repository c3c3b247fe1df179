"""Concurrent runs: N separate processes, each with its own config, engine and DLA core, that start together
and measure over the same wall-clock window.

Protocol (one line each, on the child's stdin/stdout): the child builds and warms up its workload, prints
``READY``; when every child is ready the parent sends ``GO <start> <end>`` (wall-clock times, the same for
all); each child waits for ``start``, steps until ``end``, synchronises once and prints ``RESULT <json>``. The
parent enforces a timeout on every phase; a child that crashes, hangs or exits early fails the run with its
error, and every child's process group is killed before the parent returns (no orphans).
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

from trtforge.errors import TrtforgeError

START_DELAY_S = 0.5  # from the last READY to the common start: time for every child to read GO


@dataclass(frozen=True)
class ProcessSpec:
    """What one child runs. Paths are resolved by the parent, so children never export or build."""

    runtime: str  # torch | onnxruntime | tensorrt | synthetic
    config: str = ""  # config name or path ("" for synthetic)
    overrides: tuple[str, ...] = ()
    dla_core: int = 0
    device: str = "cpu"
    precision: str = "fp32"
    threads: int = 0
    warmup: int = 0
    onnx: str = ""
    onnx_kind: str = ""
    engine: str = ""
    synthetic_s: float = 0.0
    fail_after: int = -1
    hang: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


@dataclass
class _Child:
    index: int
    spec: ProcessSpec
    proc: subprocess.Popen[str]
    lines: queue.Queue[str | None] = field(default_factory=queue.Queue)
    stderr_path: Path | None = None

    def error_text(self) -> str:
        text = self.stderr_path.read_text(errors="replace") if self.stderr_path and self.stderr_path.exists() else ""
        lines = [line for line in text.strip().splitlines() if line.strip()]
        errors = [line for line in lines if line.startswith("ERROR ")]
        return errors[-1][6:] if errors else " | ".join(lines[-3:]) or "no error output"


def results_from_processes(specs: Sequence[ProcessSpec], *, window_s: float, timeout_s: float,
                           log_dir: Path) -> list[dict[str, Any]]:
    """Start every child, align them on a barrier, time the same window; per-process results in spec order."""
    children: list[_Child] = []
    try:
        for index, spec in enumerate(specs):
            children.append(_start_child(index, spec, log_dir))
        for child in children:
            _expect(child, "READY", deadline=time.monotonic() + timeout_s, phase="setup and warm-up")
        start = time.time() + START_DELAY_S
        for child in children:
            _send(child, f"GO {start!r} {start + window_s!r}\n")
        deadline = time.monotonic() + START_DELAY_S + window_s + timeout_s
        results = [json.loads(_expect(child, "RESULT", deadline=deadline, phase="the timed window"))
                   for child in children]
        for child in children:
            child.proc.wait(timeout=max(1.0, deadline - time.monotonic()))
        return results
    finally:
        for child in children:
            _kill_group(child.proc)


def _start_child(index: int, spec: ProcessSpec, log_dir: Path) -> _Child:
    log_dir.mkdir(parents=True, exist_ok=True)
    stderr_path = log_dir / f"process{index}.stderr.log"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    with open(stderr_path, "w") as stderr:
        proc = subprocess.Popen([sys.executable, "-m", "trtforge.bench.child", spec.to_json()],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, text=True,
                                start_new_session=True, env=env)
    child = _Child(index=index, spec=spec, proc=proc, stderr_path=stderr_path)
    assert proc.stdout is not None
    threading.Thread(target=_pump, args=(proc.stdout, child.lines), daemon=True).start()
    return child


def _pump(stream: IO[str], lines: queue.Queue[str | None]) -> None:
    for line in stream:
        lines.put(line.rstrip("\n"))
    lines.put(None)  # end of output: the child exited or closed stdout


def _expect(child: _Child, word: str, *, deadline: float, phase: str) -> str:
    """The rest of the child's next ``word ...`` line; a crash, an early exit or the deadline fails the run."""
    name = f"process {child.index} ({child.spec.config or child.spec.runtime})"
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TrtforgeError.of(f"{name} to finish {phase} in time",
                                   found=f"no {word} after the timeout; it was killed",
                                   fix="raise [bench] timeout_s, or look for a hang in the child")
        try:
            line = child.lines.get(timeout=min(remaining, 0.5))
        except queue.Empty:
            continue
        if line is None:
            code = child.proc.wait()
            raise TrtforgeError.of(f"{name} to finish {phase}",
                                   found=f"it exited with code {code}: {child.error_text()}",
                                   fix=f"see {child.stderr_path}")
        if line.startswith(word):
            return line[len(word):].strip()


def _send(child: _Child, text: str) -> None:
    assert child.proc.stdin is not None
    try:
        child.proc.stdin.write(text)
        child.proc.stdin.flush()
    except BrokenPipeError:
        pass  # the child died; _expect reports it with its error


def _kill_group(proc: subprocess.Popen[str]) -> None:
    """Kill the child's whole process group (it runs in its own session) and reap it."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            proc.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):  # a process that ignores SIGKILL: nothing more to do
        proc.wait(timeout=10)
    for stream in (proc.stdin, proc.stdout):
        if stream is not None:
            stream.close()


def overlap_from_results(results: Sequence[dict[str, Any]]) -> dict[str, float]:
    """The window every process was measuring at once: latest start to earliest end, and its share of each."""
    start = max(r["timing"]["started"] for r in results)
    end = min(r["timing"]["ended"] for r in results)
    overlap = max(0.0, end - start)
    longest = max(r["timing"]["seconds"] for r in results)
    return {"started": start, "ended": end, "seconds": overlap, "share_of_longest": overlap / longest if longest else 0}
