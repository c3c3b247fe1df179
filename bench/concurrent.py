"""Concurrent runs: N separate processes, each with its own config, engine and DLA core, that start together
and measure over the same wall-clock window.

Protocol: each child gets two pipes of its own (passed as file descriptors, never its stdin/stdout, which
user code shares; stdout and stderr go to log files). On the *result* pipe the child writes ``READY`` once
its workload is built and warmed up, then ``RESULT <json>`` (or ``ERROR <message>``); on the *control* pipe
the parent sends ``GO <start> <end>`` (wall-clock times, the same for all) once every child is ready. The
parent reads with ``select`` and a deadline on every phase, never waits for an end of file and never waits
without a timeout, so a child that closes or redirects its stdout, or leaves a grandchild holding a
descriptor, cannot hang it.

Cleanup: every child runs in its own session; on the way out (success, error, Ctrl-C, SIGTERM, SIGHUP) the
parent kills each child's process group and every process that carries this run's token in its
environment (grandchildren that started their own session). If the parent itself is killed (SIGKILL), each
child dies by ``PR_SET_PDEATHSIG`` (Linux) or its watchdog thread on the parent's pid, and a guard process
started for the run does the same cleanup when its pipe from the parent closes.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import secrets
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from trtforge.errors import TrtforgeError

START_DELAY_S = 0.5  # from the last READY to the common start: time for every child to read GO
EXIT_GRACE_S = 5.0  # how long a child may take to exit after its RESULT before it is killed
RUN_TOKEN_ENV = "TRTFORGE_BENCH_RUN"  # inherited by the children and their descendants: finds them in /proc
MAX_LINE_BYTES = 1 << 20  # a protocol line longer than this is an error, not a memory hog


@dataclass(frozen=True)
class ProcessSpec:
    """What one child runs. Paths are resolved by the parent, so children never export or build."""

    runtime: str  # torch | onnxruntime | tensorrt | synthetic
    config: str = ""  # config name or path, as the scenario named it ("" for synthetic)
    config_sha256: str = ""  # the config the parent resolved; the child refuses to run another
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


@dataclass(frozen=True)
class Channel:
    """How a child talks to its parent: descriptor numbers as the child sees them, and who the parent is."""

    results_fd: int  # child -> parent: READY, RESULT <json>, ERROR <message>
    control_fd: int  # parent -> child: GO <start> <end>
    parent_pid: int
    timeout_s: float  # the longest the child waits for GO
    sys_path: tuple[str, ...] = ()  # the parent's import path: ``module:factory`` imports the same in both

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


@dataclass
class _Child:
    index: int
    spec: ProcessSpec
    proc: subprocess.Popen[bytes]
    stderr_path: Path
    reader: int  # the parent's end of the result pipe (non-blocking)
    writer: int  # the parent's end of the control pipe
    buffer: bytearray = field(default_factory=bytearray)
    closed: bool = False  # the result pipe reached its end
    error: str = ""  # the child's ERROR message, if it sent one

    @property
    def name(self) -> str:
        return f"process {self.index} ({self.spec.config or self.spec.runtime})"

    def error_text(self) -> str:
        if self.error:
            return self.error
        text = self.stderr_path.read_text(errors="replace") if self.stderr_path.exists() else ""
        lines = [line for line in text.strip().splitlines() if line.strip()]
        errors = [line for line in lines if line.startswith("ERROR ")]
        return errors[-1][6:] if errors else " | ".join(lines[-3:]) or "no error output"


def check_window_and_timeout(window_s: float, timeout_s: float) -> None:
    """Both are seconds, finite and positive: a negative window measures nothing, a negative timeout waits for
    nothing, an infinite one waits forever."""
    for what, value in (("the window (--window, [bench] window_s)", window_s),
                        ("[bench] timeout_s", timeout_s)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
            raise TrtforgeError.of(f"{what} to be a positive number of seconds", found=value,
                                   fix="give a value > 0, e.g. 10")


def results_from_processes(specs: Sequence[ProcessSpec], *, window_s: float, timeout_s: float,
                           log_dir: Path) -> list[dict[str, Any]]:
    """Start every child, align them on a barrier, time the same window; per-process results in spec order."""
    check_window_and_timeout(window_s, timeout_s)
    token = f"{os.getpid()}-{secrets.token_hex(8)}"
    children: list[_Child] = []
    guard: subprocess.Popen[bytes] | None = None
    with _signals_unwind():
        try:
            guard = _start_guard(token)
            for index, spec in enumerate(specs):
                children.append(_start_child(index, spec, log_dir, token=token, timeout_s=timeout_s))
                _tell_guard(guard, children[-1].proc.pid)
            _expect_all(children, "READY", deadline=time.monotonic() + timeout_s, phase="setup and warm-up")
            start = time.time() + START_DELAY_S
            for child in children:
                _send(child, f"GO {start!r} {start + window_s!r}\n")
            deadline = time.monotonic() + START_DELAY_S + window_s + timeout_s
            found = _expect_all(children, "RESULT", deadline=deadline, phase="the timed window")
            _await_exits(children, grace_s=min(EXIT_GRACE_S, timeout_s))
            return [_result_from_line(child, found[child.index]) for child in children]
        finally:
            with _signals_deferred():  # a second Ctrl-C or SIGTERM must not cut the cleanup short
                _stop_run(children, guard, token)


@contextlib.contextmanager
def _signals_unwind() -> Iterator[None]:
    """SIGTERM (``kill``, a CI timeout) and SIGHUP (a closed terminal) unwind like Ctrl-C, so the children are
    killed on the way out. Only the main thread can install handlers; elsewhere the caller's stay."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    wanted = [signal.SIGTERM] + ([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])
    previous = {signum: signal.signal(signum, _exit_on_signal) for signum in wanted}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """Hold SIGINT, SIGTERM and SIGHUP until the block ends, then raise the first one that came."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []
    wanted = [signal.SIGINT, signal.SIGTERM] + ([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])
    previous = {signum: signal.signal(signum, lambda signum, frame: pending.append(signum)) for signum in wanted}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if pending:
            signal.raise_signal(pending[0])


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def child_command(spec: ProcessSpec, channel: Channel) -> list[str]:
    """The child's command line (a separate function so tests can start other children)."""
    return [sys.executable, "-m", "trtforge.bench.child", spec.to_json(), channel.to_json()]


def _start_child(index: int, spec: ProcessSpec, log_dir: Path, *, token: str, timeout_s: float) -> _Child:
    log_dir.mkdir(parents=True, exist_ok=True)
    stderr_path = log_dir / f"process{index}.stderr.log"
    results_r, results_w = os.pipe()
    control_r, control_w = os.pipe()
    channel = Channel(results_fd=results_w, control_fd=control_r, parent_pid=os.getpid(), timeout_s=timeout_s,
                      sys_path=tuple(os.path.abspath(p) if p else os.getcwd() for p in sys.path))
    env = dict(os.environ, PYTHONUNBUFFERED="1", **{RUN_TOKEN_ENV: token})
    try:
        with open(log_dir / f"process{index}.stdout.log", "wb") as stdout, open(stderr_path, "wb") as stderr:
            proc = subprocess.Popen(child_command(spec, channel), stdin=subprocess.DEVNULL, stdout=stdout,
                                    stderr=stderr, pass_fds=(results_w, control_r), start_new_session=True,
                                    env=env)
    except BaseException:
        for fd in (results_r, control_w):
            os.close(fd)
        raise
    finally:
        for fd in (results_w, control_r):  # the child's ends: only the child holds them now
            os.close(fd)
    os.set_blocking(results_r, False)
    os.set_blocking(control_w, False)
    return _Child(index=index, spec=spec, proc=proc, stderr_path=stderr_path, reader=results_r, writer=control_w)


def _expect_all(children: list[_Child], word: str, *, deadline: float, phase: str) -> dict[int, str]:
    """The rest of every child's ``word ...`` line. The first child to fail (ERROR, exit, closed channel) fails
    the run at once; the deadline fails it with the children that have not answered."""
    found: dict[int, str] = {}
    while len(found) < len(children):
        waiting = [c for c in children if c.index not in found]
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TrtforgeError.of(f"{', '.join(c.name for c in waiting)} to finish {phase} in time",
                                   found=f"no {word} after the timeout; killed",
                                   fix="raise [bench] timeout_s, or look for a hang in the child")
        open_readers = [c.reader for c in waiting if not c.closed]
        if open_readers:
            select.select(open_readers, [], [], min(remaining, 0.2))
        else:
            time.sleep(min(remaining, 0.05))
        for child in waiting:
            exited = child.proc.poll() is not None  # polled before reading: what it wrote is in the pipe
            _read_available(child)
            line = _next_line(child, word, phase)
            if line is not None:
                found[child.index] = line
            elif exited or child.closed:
                raise _failure(child, phase)
    return found


def _read_available(child: _Child) -> None:
    """Whatever the child has written so far, without blocking."""
    while not child.closed:
        try:
            data = os.read(child.reader, 65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            child.closed = True
            return
        child.buffer += data
        if len(child.buffer) > MAX_LINE_BYTES and b"\n" not in child.buffer:
            raise TrtforgeError.of(f"{child.name} to send short protocol lines",
                                   found=f"more than {MAX_LINE_BYTES} bytes without a newline",
                                   fix=f"see {child.stderr_path}")


def _next_line(child: _Child, word: str, phase: str) -> str | None:
    """The rest of the next complete line if it is ``word ...``; an ``ERROR`` line fails the run."""
    if b"\n" not in child.buffer:
        return None
    raw, _, rest = bytes(child.buffer).partition(b"\n")
    child.buffer[:] = rest
    line = raw.decode("utf-8", errors="replace")
    head, _, tail = line.partition(" ")
    if head == word:
        return tail.strip()
    if head == "ERROR":
        child.error = tail.strip() or "an empty ERROR line"
        raise _failure(child, phase)
    raise TrtforgeError.of(f"{child.name} to send {word} on its result channel", found=repr(line[:200]),
                           fix=f"see {child.stderr_path}")


def _failure(child: _Child, phase: str) -> TrtforgeError:
    """The child failed or left: say how, with its exit code once it has one (waited for briefly)."""
    with contextlib.suppress(subprocess.TimeoutExpired):
        child.proc.wait(timeout=2.0)
    code = child.proc.returncode
    how = f"it exited with code {code}" if code is not None else "it closed its result channel and kept running"
    return TrtforgeError.of(f"{child.name} to finish {phase}", found=f"{how}: {child.error_text()}",
                            fix=f"see {child.stderr_path}")


def _send(child: _Child, text: str) -> None:
    with contextlib.suppress(OSError):  # the child died (EPIPE): _expect_all reports it with its error
        os.write(child.writer, text.encode())


def _await_exits(children: list[_Child], *, grace_s: float) -> None:
    """Each child exits by itself after its RESULT; one that lingers (a non-daemon thread, a stuck atexit hook)
    keeps its result but is killed, with a warning."""
    from trtforge.log import logger

    deadline = time.monotonic() + grace_s
    for child in children:
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        if child.proc.returncode is None:
            logger.warning("%s was still running %.0f s after its RESULT; killed (its result is kept)",
                           child.name, grace_s)


def _result_from_line(child: _Child, text: str) -> dict[str, Any]:
    try:
        result = json.loads(text)
        timing = result["timing"]
        if not all(isinstance(timing[k], int | float) for k in ("started", "ended", "seconds", "fps")):
            raise TypeError("timing values are not numbers")
    except (ValueError, KeyError, TypeError) as err:
        raise TrtforgeError.of(f"{child.name} to send RESULT with a JSON timing record",
                               found=f"{type(err).__name__}: {err}", fix=f"see {child.stderr_path}") from None
    return dict(result)


# ---------------------------------------------------------------------------------------------- cleanup


def _start_guard(token: str) -> subprocess.Popen[bytes]:
    """A small process that kills this run's children if the parent dies without cleaning up (SIGKILL): it
    waits for the end of its stdin, which the kernel closes when the parent dies, however it dies."""
    return subprocess.Popen([sys.executable, "-m", "trtforge.bench.child", "--guard", token],
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)


def _tell_guard(guard: subprocess.Popen[bytes], pid: int) -> None:
    with contextlib.suppress(OSError):
        assert guard.stdin is not None
        guard.stdin.write(f"{pid}\n".encode())
        guard.stdin.flush()


def _stop_run(children: list[_Child], guard: subprocess.Popen[bytes] | None, token: str) -> None:
    """Kill every child's process group and every process of this run, reap the children, close the pipes."""
    if guard is not None:
        guard.kill()  # the parent is alive and does the cleanup itself
    kill_run(token, [c.proc.pid for c in children])
    for child in children:
        with contextlib.suppress(subprocess.TimeoutExpired):  # a process that ignores SIGKILL: nothing more to do
            child.proc.wait(timeout=10)
        for fd in (child.reader, child.writer):
            with contextlib.suppress(OSError):
                os.close(fd)
    if guard is not None:
        with contextlib.suppress(OSError):
            assert guard.stdin is not None
            guard.stdin.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            guard.wait(timeout=10)


def kill_run(token: str, groups: Sequence[int]) -> None:
    """SIGKILL the process groups ``groups`` (each child leads its own) and, on Linux, every process whose
    environment carries ``token`` (descendants in sessions of their own). A process that clears its
    environment and leaves the child's group is out of reach."""
    for pgid in groups:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
    killed = pids_with_token(token)
    for pid in killed:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5.0  # they are not ours to reap: wait until they are gone (or zombies)
    while any(_running(pid) for pid in killed) and time.monotonic() < deadline:
        time.sleep(0.02)


def _running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def pids_with_token(token: str) -> list[int]:
    """Processes (not this one) whose environment has ``RUN_TOKEN_ENV=token``; empty where /proc is missing."""
    wanted = f"{RUN_TOKEN_ENV}={token}".encode()
    found: list[int] = []
    proc = Path("/proc")
    if not proc.is_dir():
        return found
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if wanted in environ.split(b"\0"):
            found.append(int(entry.name))
    return found


def overlap_from_results(results: Sequence[dict[str, Any]]) -> dict[str, float]:
    """The window every process was measuring at once: latest start to earliest end, and its share of each."""
    start = max(r["timing"]["started"] for r in results)
    end = min(r["timing"]["ended"] for r in results)
    overlap = max(0.0, end - start)
    longest = max(r["timing"]["seconds"] for r in results)
    return {"started": start, "ended": end, "seconds": overlap, "share_of_longest": overlap / longest if longest else 0}
