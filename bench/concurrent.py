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
from dataclasses import asdict, dataclass
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
    stderr_path: Path

    @property
    def name(self) -> str:
        return f"process {self.index} ({self.spec.config or self.spec.runtime})"

    def error_text(self) -> str:
        text = self.stderr_path.read_text(errors="replace") if self.stderr_path.exists() else ""
        lines = [line for line in text.strip().splitlines() if line.strip()]
        errors = [line for line in lines if line.startswith("ERROR ")]
        return errors[-1][6:] if errors else " | ".join(lines[-3:]) or "no error output"


Lines = queue.Queue[tuple[int, str | None]]


def results_from_processes(specs: Sequence[ProcessSpec], *, window_s: float, timeout_s: float,
                           log_dir: Path) -> list[dict[str, Any]]:
    """Start every child, align them on a barrier, time the same window; per-process results in spec order."""
    children: list[_Child] = []
    lines: Lines = queue.Queue()
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _exit_on_sigterm) if in_main else None
    try:
        for index, spec in enumerate(specs):
            children.append(_start_child(index, spec, log_dir, lines))
        _expect_all(children, lines, "READY", deadline=time.monotonic() + timeout_s, phase="setup and warm-up")
        start = time.time() + START_DELAY_S
        for child in children:
            _send(child, f"GO {start!r} {start + window_s!r}\n")
        deadline = time.monotonic() + START_DELAY_S + window_s + timeout_s
        found = _expect_all(children, lines, "RESULT", deadline=deadline, phase="the timed window")
        for child in children:
            child.proc.wait(timeout=max(1.0, deadline - time.monotonic()))
        return [json.loads(found[child.index]) for child in children]
    finally:
        for child in children:
            _kill_group(child.proc)
        if in_main:
            signal.signal(signal.SIGTERM, previous)


def _exit_on_sigterm(signum: int, frame: object) -> None:
    """SIGTERM (``kill``, a CI timeout) unwinds like Ctrl-C, so the children are killed on the way out."""
    raise SystemExit(128 + signum)


def _start_child(index: int, spec: ProcessSpec, log_dir: Path, lines: Lines) -> _Child:
    log_dir.mkdir(parents=True, exist_ok=True)
    stderr_path = log_dir / f"process{index}.stderr.log"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    with open(stderr_path, "w") as stderr:
        proc = subprocess.Popen([sys.executable, "-m", "trtforge.bench.child", spec.to_json()],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, text=True,
                                start_new_session=True, env=env)
    assert proc.stdout is not None
    threading.Thread(target=_pump, args=(index, proc.stdout, lines), daemon=True).start()
    return _Child(index=index, spec=spec, proc=proc, stderr_path=stderr_path)


def _pump(index: int, stream: IO[str], lines: Lines) -> None:
    for line in stream:
        lines.put((index, line.rstrip("\n")))
    lines.put((index, None))  # end of output: the child exited or closed stdout


def _expect_all(children: list[_Child], lines: Lines, word: str, *, deadline: float, phase: str) -> dict[int, str]:
    """The rest of every child's next ``word ...`` line. The first child to exit early fails the run at once;
    the deadline fails it with the children that have not answered."""
    found: dict[int, str] = {}
    while len(found) < len(children):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            late = [c for c in children if c.index not in found]
            raise TrtforgeError.of(f"{', '.join(c.name for c in late)} to finish {phase} in time",
                                   found=f"no {word} after the timeout; killed",
                                   fix="raise [bench] timeout_s, or look for a hang in the child")
        try:
            index, line = lines.get(timeout=min(remaining, 0.5))
        except queue.Empty:
            continue
        child = children[index]
        if line is None and index in found:
            continue  # it answered, then exited (after RESULT)
        if line is None:
            code = child.proc.wait()
            raise TrtforgeError.of(f"{child.name} to finish {phase}",
                                   found=f"it exited with code {code}: {child.error_text()}",
                                   fix=f"see {child.stderr_path}")
        if line.startswith(word) and index not in found:
            found[index] = line[len(word):].strip()
    return found


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
