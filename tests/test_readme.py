"""The README is executable: its two opening commands and every command it shows are run here."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
MAKEFILE = (ROOT / "Makefile").read_text()


def _blocks() -> list[str]:
    return re.findall(r"```sh\n(.*?)```", README, flags=re.S)


def _commands() -> list[str]:
    lines = [line.split("#")[0].strip() for block in _blocks() for line in block.splitlines()]
    return [line for line in lines if line]


def test_the_readme_opens_with_the_run_and_test_commands() -> None:
    first = [line.split("#")[0].strip() for line in _blocks()[0].splitlines()]
    assert first == ["make engine CONFIG=resnet18_fp16_gpu_dla12", "make test"]


def test_every_make_target_in_the_readme_exists() -> None:
    targets = {m.group(1) for m in re.finditer(r"`?make ([a-z][a-z-]*)", README)}
    assert targets, "the README shows make commands"
    for target in targets:
        done = subprocess.run(["make", "-n", target], cwd=ROOT, capture_output=True, text=True)
        assert done.returncode == 0, f"make {target}: {done.stderr}"


def _trtforge_commands() -> list[str]:
    return [c for c in _commands() if c.startswith("trtforge ")]


@pytest.mark.torch
@pytest.mark.slow
def test_the_readme_run_command_works_as_written(tmp_path: Path) -> None:
    """`make engine CONFIG=resnet18_fp16_gpu_dla12`, into a temporary folder instead of artifacts/."""
    env = {**os.environ, "ARGS": f"--out {tmp_path}"}
    done = subprocess.run(["make", "engine", "CONFIG=resnet18_fp16_gpu_dla12"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "tagged.onnx").is_file()


@pytest.mark.torch
@pytest.mark.slow
@pytest.mark.parametrize("command", _trtforge_commands() or ["trtforge configs"])
def test_every_trtforge_command_in_the_readme_runs(command: str, tmp_path: Path) -> None:
    argv = shlex.split(command)
    if "--config" in argv or "-c" in argv:
        argv += ["--out", str(tmp_path)]
    done = subprocess.run([sys.executable, "-m", "trtforge", *argv[1:]], cwd=ROOT, capture_output=True,
                          text=True, timeout=1200)
    assert done.returncode == 0, done.stderr[-3000:]


def _make_commands() -> list[str]:
    covered = {"make test", "make engine CONFIG=resnet18_fp16_gpu_dla12"}
    return [c for c in _commands() if c.startswith("make ") and c not in covered]


@pytest.mark.torch
@pytest.mark.slow
@pytest.mark.parametrize("command", _make_commands())
def test_every_make_command_in_the_readme_runs_as_written(command: str) -> None:
    """These write into artifacts/ (ignored by git), exactly as a user's run would."""
    done = subprocess.run(shlex.split(command), cwd=ROOT, capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, f"{command}\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
