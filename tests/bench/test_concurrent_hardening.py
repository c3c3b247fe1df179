"""The concurrent harness against hostile children (issue 12, defects 1, 2, 9, 10, 15 of reliability.md).

Models that misbehave (the reliability kit's ``rtmodels``) are written to ``tmp_path`` and run in real torch
children on the CPU. Every test is bounded in time and checks in /proc that no process of its runs is left:
children and their descendants carry the run's token (``TRTFORGE_BENCH_RUN=<parent pid>-...``).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from trtforge.bench import concurrent
from trtforge.bench.child import config_sha256, workload_from_spec
from trtforge.bench.concurrent import RUN_TOKEN_ENV, Channel, ProcessSpec, results_from_processes
from trtforge.bench.scenarios import concurrent_from_scenario, spec_for_process

from trtforge.config import load_config, load_scenario
from trtforge.errors import TrtforgeError

REPO = Path(__file__).resolve().parents[2]

MODELS = '''
"""Misbehaving models (after reliability_kit/rtmodels.py); each misbehaves only when its RK_* variable is set."""
import os
import subprocess
import sys
import threading
import time

import torch
from torch import nn


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        if os.environ.get("RK_HANG") == "1":
            time.sleep(10**6)
        if os.environ.get("RK_PRINT") == "1":
            print("RESULT of the forward pass: ok", flush=True)
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(self.conv(x), 1), 1))


def announce():
    print(f"ANNOUNCE rkmodels:announce built (pid {os.getpid()})", file=sys.stderr, flush=True)
    return Tiny()


def devnull_stdout():
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)  # as libraries that silence C output do
    return Tiny()


def grandchildren():
    """A helper in its own session (a daemon, a server), and a forked copy in its own session that holds every
    descriptor this process has, the result channel included."""
    helper = subprocess.Popen(["sleep", os.environ["RK_SLEEP"]], start_new_session=True)
    pid = os.fork()
    if pid == 0:
        os.setsid()
        time.sleep(10**6)
        os._exit(0)
    with open(os.environ["RK_PIDFILE"], "w") as f:
        f.write(f"{helper.pid} {pid}")
    return Tiny()


def lingering():
    threading.Thread(target=lambda: time.sleep(10**6), daemon=False).start()  # the process never exits
    return Tiny()


def tiny():
    return Tiny()
'''

CONFIG = '''model = "rkmodels:{factory}"
outputs = ["logits"]
precision = "fp32"
[inputs]
input = [3, 16, 16]
[bench]
warmup = 2
window_s = 0.5
timeout_s = {timeout_s}
'''


@pytest.fixture
def kit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``rkmodels`` importable by the children, a config folder of one config per factory, scenarios of one
    process each; returns the config folder (``TRTFORGE_CONFIG_DIR``)."""
    pytest.importorskip("torch")
    (tmp_path / "rkmodels.py").write_text(MODELS)
    cdir = tmp_path / "cdir"
    (cdir / "scenarios").mkdir(parents=True)
    for factory in ("announce", "devnull_stdout", "grandchildren", "lingering", "tiny"):
        (cdir / f"{factory}.toml").write_text(CONFIG.format(factory=factory, timeout_s=120.0))
        (cdir / "scenarios" / f"{factory}.toml").write_text(
            f'title = "{factory}"\nprecision = "fp32"\n[[processes]]\nconfig = "{factory}"\n')
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("TRTFORGE_CONFIG_DIR", str(cdir))
    monkeypatch.setenv("RK_SLEEP", f"987.{os.getpid()}")  # a helper command line no other test starts
    monkeypatch.setenv("RK_PIDFILE", str(tmp_path / "grandchildren.pids"))
    monkeypatch.syspath_prepend(str(tmp_path))
    return cdir


def _environ_has(pid: int, prefix: bytes) -> bool:
    try:
        return any(item.startswith(prefix) for item in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"))
    except OSError:
        return False


def _live(pid: int) -> bool:
    """The process exists and is not a zombie."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def run_processes(parent_pid: int) -> list[int]:
    """Live processes started by the harness in process ``parent_pid``: children and their descendants (by the
    run token in their environment) and the run's guard (by its command line)."""
    prefix = f"{RUN_TOKEN_ENV}={parent_pid}-".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or not _live(int(entry.name)):
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if _environ_has(int(entry.name), prefix) or (b"--guard" in cmdline and f"{parent_pid}-".encode() in cmdline):
            found.append(int(entry.name))
    return found


def _eventually(check: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return check()


def _run(scenario: str, tmp_path: Path, *, window_s: float = 0.5) -> dict:
    begin = time.monotonic()
    record = concurrent_from_scenario(load_scenario(scenario), runtime="torch", results_dir=tmp_path / "results",
                                      window_s=window_s)
    assert time.monotonic() - begin < 120
    assert run_processes(os.getpid()) == []
    return record


# ------------------------------------------------------------------------------------------------ defect 1


@pytest.mark.slow
def test_defect01_scenario_config_by_path(kit: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A scenario naming a config by a path whose stem is a named config runs the file, not the named config."""
    monkeypatch.delenv("TRTFORGE_CONFIG_DIR")  # the real configs/, where resnet18_fp16_gpu is a named config
    monkeypatch.delenv("PYTHONPATH")  # rkmodels is on the parent's sys.path only: the child imports the same
    shadow = tmp_path / "shadow" / "resnet18_fp16_gpu.toml"
    shadow.parent.mkdir()
    shadow.write_text(CONFIG.format(factory="announce", timeout_s=120.0))
    scenario = tmp_path / "shadow_scn.toml"
    scenario.write_text(f'title = "shadow"\nprecision = "fp32"\n[[processes]]\nconfig = "{shadow}"\n')
    record = _run(str(scenario), tmp_path)
    proc = record["processes"][0]
    assert proc["source"] == str(shadow)
    log = tmp_path / "results" / "concurrent" / "shadow_scn.logs" / "process0.stderr.log"
    assert "ANNOUNCE rkmodels:announce built" in log.read_text()  # the file's model was built in the child
    assert config_sha256(load_config(str(shadow))) != config_sha256(load_config("resnet18_fp16_gpu"))
    assert proc["fps"] > 0


def test_defect01_child_loads_the_path_and_refuses_another_config(kit: Path, tmp_path: Path) -> None:
    path = kit / "tiny.toml"
    spec = spec_for_process(load_config(str(path)), 0, "torch", threads=1, source=str(path))
    assert spec.config == str(path.resolve())
    assert spec.config_sha256 == config_sha256(load_config(str(path)))
    other = ProcessSpec(**{**json.loads(spec.to_json()), "config_sha256": "0" * 64})
    with pytest.raises(TrtforgeError, match=r"the config the parent resolved from .*tiny\.toml; found another"):
        workload_from_spec(other)


def test_defect01_tensorrt_engine_resolved_from_the_path(kit: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from trtforge.bench import sources

    seen = []
    monkeypatch.setattr(sources, "engine_for", lambda config: seen.append(config) or tmp_path / "x.engine")
    shadow = tmp_path / "resnet18_fp16_gpu.toml"  # a named config of configs/ has this stem
    shadow.write_text(CONFIG.format(factory="tiny", timeout_s=60.0))
    monkeypatch.delenv("TRTFORGE_CONFIG_DIR")
    spec = spec_for_process(load_config(str(shadow)), 1, "tensorrt", threads=1, source=str(shadow))
    assert [c.model for c in seen] == ["rkmodels:tiny"] and seen[0].dla_core == 1
    assert spec.engine == str(tmp_path / "x.engine") and spec.config == str(shadow)


# ------------------------------------------------------------------------------------------------ defect 2


@pytest.mark.slow
def test_defect02_child_devnull_stdout_no_hang(kit: Path, tmp_path: Path) -> None:
    record = _run("devnull_stdout", tmp_path)
    assert record["processes"][0]["fps"] > 0


@pytest.mark.slow
def test_defect02_grandchild_holding_the_pipes_no_hang(kit: Path, tmp_path: Path) -> None:
    """A helper in its own session and a forked copy (own session, holding the result channel) neither hang
    the parent nor outlive the run."""
    record = _run("grandchildren", tmp_path)
    assert record["processes"][0]["fps"] > 0
    helper, fork = map(int, (tmp_path / "grandchildren.pids").read_text().split())
    assert not _live(helper) and not _live(fork)


def test_defect02_every_child_wait_has_a_timeout(tmp_path: Path) -> None:
    """A child whose parent closes the control channel before GO stops at once with an error on its channel."""
    results_r, results_w = os.pipe()
    control_r, control_w = os.pipe()
    channel = Channel(results_fd=results_w, control_fd=control_r, parent_pid=os.getpid(), timeout_s=600)
    child = subprocess.Popen(concurrent.child_command(ProcessSpec(runtime="synthetic", synthetic_s=0.01), channel),
                             pass_fds=(results_w, control_r), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(results_w)
    os.close(control_r)
    try:
        with os.fdopen(results_r, "rb") as results:
            assert results.readline() == b"READY\n"
            os.close(control_w)
            assert results.readline() == b"ERROR RuntimeError: the parent closed the control channel before GO\n"
        assert child.wait(timeout=30) == 1
    finally:
        child.kill()
        child.wait(timeout=30)


# ------------------------------------------------------------------------------------------------ defect 9


@pytest.mark.slow
def test_defect09_user_result_lines_on_stdout_are_not_the_protocol(kit: Path, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RK_PRINT", "1")
    record = _run("tiny", tmp_path)
    assert record["processes"][0]["timing"]["iterations"] > 0
    stdout = tmp_path / "results" / "concurrent" / "tiny.logs" / "process0.stdout.log"
    assert "RESULT of the forward pass: ok" in stdout.read_text()  # logged, never parsed


@pytest.mark.slow
def test_defect09_child_lingering_after_result(kit: Path, tmp_path: Path) -> None:
    begin = time.monotonic()
    record = _run("lingering", tmp_path)
    assert record["processes"][0]["fps"] > 0
    assert time.monotonic() - begin < 60


FAKE_CHILD = '''
import json, os, sys, time, signal
channel = json.loads(sys.argv[2])
mode = os.environ["FAKE_MODE"]
signal.signal(signal.SIGTERM, signal.SIG_IGN)
os.write(channel["results_fd"], b"READY\\n")
go = os.read(channel["control_fd"], 4096).split()
timing = {"iterations": 1, "batch": 1, "seconds": 0.1, "started": float(go[1]), "ended": float(go[2]),
          "fps": 10.0, "latency_ms": {}}
text = {"garbage": "RESULT {not json", "linger": "RESULT " + json.dumps({"timing": timing, "label": {}})}[mode]
os.write(channel["results_fd"], (text + "\\n").encode())
time.sleep(10**6)
'''


@pytest.fixture
def fake_child(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], list[dict]]:
    """Runs the harness with one child that speaks the protocol, then never exits (and ignores SIGTERM)."""
    script = tmp_path / "fake_child.py"
    script.write_text(FAKE_CHILD)
    monkeypatch.setattr(concurrent, "child_command", lambda spec, channel: [sys.executable, str(script),
                                                                          spec.to_json(), channel.to_json()])
    monkeypatch.setattr(concurrent, "EXIT_GRACE_S", 1.0)

    def run(mode: str) -> list[dict]:
        monkeypatch.setenv("FAKE_MODE", mode)
        try:
            return results_from_processes([ProcessSpec(runtime="synthetic")], window_s=0.2, timeout_s=20,
                                          log_dir=tmp_path / "logs")
        finally:
            assert run_processes(os.getpid()) == []

    return run


def test_defect09_lingering_child_is_killed_and_its_result_kept(fake_child: Callable[[str], list[dict]],
                                                                caplog: pytest.LogCaptureFixture) -> None:
    begin = time.monotonic()
    results = fake_child("linger")
    assert results[0]["timing"]["fps"] == 10.0
    assert time.monotonic() - begin < 15
    assert "was still running 1 s after its RESULT; killed (its result is kept)" in caplog.text


def test_defect09_garbled_result_is_one_error(fake_child: Callable[[str], list[dict]]) -> None:
    with pytest.raises(TrtforgeError, match=r"process 0 \(synthetic\) to send RESULT with a JSON timing record; "
                                            r"found JSONDecodeError"):
        fake_child("garbage")


# ------------------------------------------------------------------------------------------------ defect 10


PARENT = '''
import sys
from pathlib import Path
from trtforge.bench.concurrent import ProcessSpec, results_from_processes
spec = ProcessSpec(runtime="synthetic", hang="setup")
results_from_processes([spec, spec], window_s=1, timeout_s=600, log_dir=Path(sys.argv[1]))
'''


def _stop(parent: subprocess.Popen) -> None:
    """End the test's parent and, should the harness have failed, whatever its run left (by pid)."""
    leftovers = run_processes(parent.pid)
    parent.kill()
    parent.wait(timeout=30)
    for pid in leftovers:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def _children_of_run(parent: subprocess.Popen, count: int) -> list[int]:
    assert _eventually(lambda: len(run_processes(parent.pid)) >= count, 60), "the children did not start"
    return run_processes(parent.pid)


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGHUP, signal.SIGTERM], ids=["KILL", "HUP", "TERM"])
def test_defect10_children_die_with_the_parent(tmp_path: Path, signum: int) -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT, str(tmp_path)], start_new_session=True)
    try:
        children = _children_of_run(parent, 3)  # two children and the guard
        time.sleep(0.5)  # past the children's start-up (their prctl and parent check)
        parent.send_signal(signum)
        assert parent.wait(timeout=30) == (-signum if signum == signal.SIGKILL else 128 + signum)
        assert _eventually(lambda: not any(_live(pid) for pid in children), 15), "a child outlived its parent"
    finally:
        _stop(parent)


PARENT_SCENARIO = '''
import sys
from pathlib import Path
from trtforge.bench.scenarios import concurrent_from_scenario
from trtforge.config import load_scenario
concurrent_from_scenario(load_scenario("grandchildren"), runtime="torch", results_dir=Path(sys.argv[1]))
'''


@pytest.mark.slow
def test_defect10_grandchildren_in_their_own_session_die_with_a_killed_parent(kit: Path, tmp_path: Path) -> None:
    """SIGKILL leaves the parent no chance to clean up: the child dies by PR_SET_PDEATHSIG, and the run's
    guard kills the descendants that started sessions of their own (found by the run token)."""
    pidfile = tmp_path / "grandchildren.pids"
    env = dict(os.environ, RK_HANG="1")  # the child hangs in warm-up, after its factory started the helpers
    parent = subprocess.Popen([sys.executable, "-c", PARENT_SCENARIO, str(tmp_path / "results")], env=env,
                              start_new_session=True)
    try:
        assert _eventually(lambda: pidfile.exists() and len(pidfile.read_text().split()) == 2, 90)
        helper, fork = map(int, pidfile.read_text().split())
        processes = run_processes(parent.pid)
        assert helper in processes and fork in processes
        parent.send_signal(signal.SIGKILL)
        assert parent.wait(timeout=30) == -signal.SIGKILL
        assert _eventually(lambda: not any(_live(pid) for pid in processes), 15)
        assert run_processes(parent.pid) == []
    finally:
        _stop(parent)


# ------------------------------------------------------------------------------------------------ defect 15


def _cli(argv: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    from trtforge.cli import main
    from trtforge.log import logger

    monkeypatch.setattr(logger, "handlers", [])  # log to this test's captured stderr, not an earlier test's
    code = main(argv)
    return code, capsys.readouterr().err


def test_defect15_negative_window_is_refused_before_anything_is_written(tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture[str],
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    for value in ("-3", "0", "nan", "inf"):
        code, err = _cli(["bench-concurrent", "-s", "fp16_2gpu", "--runtime", "torch", f"--window={value}",
                          "--results", str(tmp_path / "results")], capsys, monkeypatch)
        assert code == 2
        assert _one_error_line(err) and "--window" in err and f"found {float(value)}" in err
    assert not (tmp_path / "results").exists()
    with pytest.raises(TrtforgeError, match=r"the window .* to be a positive number of seconds; found -3"):
        results_from_processes([ProcessSpec(runtime="synthetic")], window_s=-3, timeout_s=10, log_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_defect15_negative_timeout_is_refused_naming_the_value(kit: Path, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    (kit / "negative.toml").write_text(CONFIG.format(factory="tiny", timeout_s=-1))
    (kit / "scenarios" / "neg.toml").write_text('title = "neg"\nprecision = "fp32"\n[[processes]]\n'
                                                'config = "negative"\n')
    code, err = _cli(["bench-concurrent", "-s", "neg", "--runtime", "torch", "--results", str(tmp_path / "r")],
                     capsys, monkeypatch)
    assert code == 2
    assert _one_error_line(err) and "bench.timeout_s > 0" in err and "found -1.0" in err
    assert not (tmp_path / "r").exists()
    with pytest.raises(TrtforgeError, match=r"\[bench\] timeout_s to be a positive number of seconds; found -1"):
        results_from_processes([ProcessSpec(runtime="synthetic")], window_s=1, timeout_s=-1, log_dir=tmp_path)


def _one_error_line(err: str) -> bool:
    """Exactly one ``trtforge: error:`` line and no traceback (stage log lines may come before it)."""
    return "Traceback" not in err and [line.startswith("trtforge: error: ") for line in err.splitlines()
                                       if not line.startswith("[trtforge]")] == [True]
