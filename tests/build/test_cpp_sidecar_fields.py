"""Where an engine loads, as the sidecar records it for examples/cpp/trt_infer (issue 12, item 6): the GPU's
compute capability (nvidia-smi, else a Jetson's device tree, else null), the platform and the L4T release."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from trtforge import compat

JETSON = "R36 (release), REVISION: 4.0, GCID: 37537400, BOARD: generic, EABI: aarch64, DATE: Fri Sep 13 2024"


def _fake_smi(folder: Path, output: str, code: int = 0) -> Path:
    smi = folder / "nvidia-smi"
    smi.write_text(f'#!/bin/sh\necho "$@" > {folder}/args\nprintf "{output}"\nexit {code}\n')
    smi.chmod(smi.stat().st_mode | stat.S_IEXEC)
    return smi


def test_platform_and_l4t_name_a_jetson(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compat.platform, "machine", lambda: "aarch64")
    monkeypatch.setattr(compat, "jetson_release", lambda: JETSON)
    assert (compat.platform_name(), compat.l4t_version()) == ("aarch64-jetson", "R36.4.0")
    monkeypatch.setattr(compat, "jetson_release", lambda: None)
    assert (compat.platform_name(), compat.l4t_version()) == ("aarch64", None)
    monkeypatch.setattr(compat.platform, "machine", lambda: "x86_64")
    assert compat.platform_name() == "x86_64"


def test_compute_capability_of_the_visible_gpu_from_nvidia_smi(monkeypatch: pytest.MonkeyPatch,
                                                             tmp_path: Path) -> None:
    smi = _fake_smi(tmp_path, "8.9\\n")
    monkeypatch.setattr(compat.shutil, "which", lambda name: str(smi) if name == "nvidia-smi" else None)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,0")
    assert compat.compute_capability() == "8.9"
    assert (tmp_path / "args").read_text().split() == ["-i", "2", "--query-gpu=compute_cap", "--format=csv,noheader"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    monkeypatch.setattr(compat, "jetson_release", lambda: None)
    assert compat.compute_capability() is None  # no visible GPU
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    _fake_smi(tmp_path, "[N/A]\\n")  # an old driver without compute_cap
    assert compat.compute_capability() is None


def test_compute_capability_of_a_jetson_from_its_device_tree(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(compat.shutil, "which", lambda name: None)
    monkeypatch.setattr(compat, "jetson_release", lambda: JETSON)
    tree = tmp_path / "compatible"
    monkeypatch.setattr(compat, "DEVICE_TREE", tree)
    for soc, expected in (("nvidia,tegra234", "8.7"), ("nvidia,tegra194", "7.2"), ("nvidia,tegra999", None)):
        tree.write_bytes(f"nvidia,p3737-0000+p3701-0005\0{soc}\0".encode())
        assert compat.compute_capability() == expected
