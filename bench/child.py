"""One process of a concurrent run: ``python -m trtforge.bench.child '<ProcessSpec JSON>' '<Channel JSON>'``.

Ties its life to the parent's first (``PR_SET_PDEATHSIG`` on Linux, and a watchdog thread on the parent's pid
everywhere), builds and warms up its workload, writes ``READY`` on its result channel, waits for
``GO <start> <end>`` on its control channel, times the window and writes ``RESULT <json>``. Any error is
written as ``ERROR <message>`` on the channel and on stderr (exit code 1). Stdout belongs to user code (the
parent logs it to a file) and is never read. The process ends with ``os._exit`` once its answer is sent, so
a non-daemon thread or an atexit hook of user code cannot keep it alive.

``python -m trtforge.bench.child --guard <token>`` is the run's guard (see ``trtforge.bench.concurrent``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import select
import signal
import sys
import threading
import time
import traceback
from pathlib import Path

from trtforge.bench.concurrent import Channel, ProcessSpec, kill_run
from trtforge.bench.timing import Workload, timing_in_window

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
EXIT_PARENT_GONE = 3
GO_MARGIN_S = 10.0  # the parent sends GO within its own setup timeout; this is slack on top


def config_sha256(config: object) -> str:
    """A digest of a config's resolved values (``Config.to_dict``): parent and child compare them."""
    data = json.dumps(config.to_dict(), sort_keys=True).encode()  # type: ignore[attr-defined]
    return hashlib.sha256(data).hexdigest()


def die_with_parent(parent_pid: int) -> None:
    """Ask the kernel to SIGKILL this process when its parent dies, however it dies (Linux); everywhere, a
    watchdog thread kills this process group once the parent's pid is no longer its parent."""
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    if os.getppid() != parent_pid:  # the parent died before the request took effect
        os._exit(EXIT_PARENT_GONE)
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True, name="trtforge-parent-watch").start()


def _watch_parent(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(0.25)
    with contextlib.suppress(OSError):
        os.killpg(os.getpgrp(), signal.SIGKILL)  # this process and what it started in its group
    os._exit(EXIT_PARENT_GONE)


def workload_from_spec(spec: ProcessSpec) -> Workload:
    from trtforge.bench import workloads

    if spec.runtime == "synthetic":
        synthetic = workloads.Synthetic(seconds=spec.synthetic_s, fail_after=spec.fail_after,
                                        hang=spec.hang)  # type: ignore[arg-type]
        return workloads.synthetic_workload(synthetic)
    if spec.runtime not in ("torch", "onnxruntime", "tensorrt"):
        raise ValueError(f"unknown runtime {spec.runtime!r}")
    from trtforge.config import load_config
    from trtforge.errors import TrtforgeError

    config = load_config(spec.config, list(spec.overrides))
    if spec.config_sha256 and config_sha256(config) != spec.config_sha256:
        raise TrtforgeError.of(f"the config the parent resolved from {spec.config}",
                               found=f"another config ({config.name}, digest {config_sha256(config)[:12]})",
                               fix="do not edit configs while a benchmark runs")
    if spec.runtime == "torch":
        return workloads.torch_workload(config, device=spec.device, precision=spec.precision, threads=spec.threads)
    if spec.runtime == "onnxruntime":
        workload = workloads.onnxruntime_workload(config, Path(spec.onnx), threads=spec.threads,
                                                  precision=spec.precision)
        workload.label["onnx_kind"] = spec.onnx_kind
        return workload
    return workloads.tensorrt_workload(config, Path(spec.engine), dla_core=spec.dla_core)


def _send(fd: int, text: str) -> None:
    data = (text + "\n").encode()
    while data:
        data = data[os.write(fd, data):]


def _go_from_parent(fd: int, timeout_s: float) -> tuple[float, float]:
    """``(start, end)`` from the parent's ``GO`` line, waited for at most ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    data = b""
    while b"\n" not in data:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise RuntimeError(f"no GO from the parent within {timeout_s:g} s")
        if select.select([fd], [], [], remaining)[0]:
            chunk = os.read(fd, 4096)
            if not chunk:
                raise RuntimeError("the parent closed the control channel before GO")
            data += chunk
    line = data.partition(b"\n")[0].decode(errors="replace").split()
    if len(line) != 3 or line[0] != "GO":
        raise RuntimeError(f"expected 'GO <start> <end>' from the parent, got {' '.join(line)!r}")
    return float(line[1]), float(line[2])


def main(argv: list[str]) -> int:
    if argv[:1] == ["--guard"]:
        return guard_main(argv[1])
    spec = ProcessSpec(**json.loads(argv[0]))
    raw = json.loads(argv[1])
    channel = Channel(**{**raw, "sys_path": tuple(raw.get("sys_path", ()))})
    die_with_parent(channel.parent_pid)
    for fd in (channel.results_fd, channel.control_fd):
        os.set_inheritable(fd, False)  # programs the workload starts do not get the channel
    if channel.sys_path:  # not `python -m`'s working directory first: what the parent imports, the child does
        sys.path[:] = list(channel.sys_path)
    try:
        workload = workload_from_spec(spec)
        for _ in range(spec.warmup):
            workload.step()
        if workload.sync is not None:
            workload.sync()
        _send(channel.results_fd, "READY")
        start, end = _go_from_parent(channel.control_fd, channel.timeout_s + GO_MARGIN_S)
        time.sleep(max(0.0, start - time.time()))
        timing = timing_in_window(workload, until=end)
        result = {"timing": timing.to_dict(), "label": workload.label, "spec": json.loads(argv[0])}
        _send(channel.results_fd, "RESULT " + json.dumps(result))
    except Exception as err:
        traceback.print_exc()
        message = " ".join(f"{type(err).__name__}: {err}".split())
        print(f"ERROR {message}", file=sys.stderr, flush=True)
        with contextlib.suppress(OSError):
            _send(channel.results_fd, f"ERROR {message}")
        return 1
    return 0


def guard_main(token: str) -> int:
    """Read child pids from stdin until it ends (the parent closed it or died), then kill the run."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    pids = [int(line) for line in sys.stdin.buffer if line.strip().isdigit()]
    kill_run(token, pids)
    return 0


if __name__ == "__main__":
    try:
        code = main(sys.argv[1:])
    except SystemExit as exit_:  # user code called sys.exit()
        code = exit_.code if isinstance(exit_.code, int) else 1
    with contextlib.suppress(Exception):
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)
