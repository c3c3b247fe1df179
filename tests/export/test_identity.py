"""The model-identity hash: it follows every user module the model's code imports, and is checked without
importing anything."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from trtforge.config import config_from_dict

PARTS = '''import torch
from torch import nn

CH = {channels}


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, CH, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.conv(x))
'''
FACTORY = '''from rtparts import Net


def factory():
    return Net()
'''


def _write_model(folder: Path, channels: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "rtparts.py").write_text(PARTS.format(channels=channels))
    (folder / "rtfactory.py").write_text(FACTORY)


def _forget(monkeypatch: pytest.MonkeyPatch) -> None:
    """A new process would import the edited files; drop the cached modules to do the same here."""
    for name in ("rtparts", "rtfactory"):
        monkeypatch.delitem(sys.modules, name, raising=False)


def test_module_file_resolves_without_importing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from trtforge.export.identity import module_file

    package = tmp_path / "pkg_never_imported"
    package.mkdir()
    (package / "__init__.py").write_text("raise RuntimeError('imported')\n")
    (package / "models.py").write_text("raise RuntimeError('imported')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert module_file("pkg_never_imported.models") == str((package / "models.py").resolve())
    assert "pkg_never_imported" not in sys.modules
    assert module_file("no_such_module_anywhere").startswith("<")


def test_user_modules_exclude_stdlib_site_packages_and_trtforge() -> None:
    import json

    import numpy
    import trtforge.export.identity as identity

    here = sys.modules[__name__]
    files = identity.user_module_files({"json": json, "numpy": numpy, "trtforge.export.identity": identity,
                                        "this_test": here}, factory=None)
    assert files == [Path(__file__).resolve()]


@pytest.mark.torch
def test_an_edit_in_a_module_the_factory_imports_re_exports(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from trtforge.export import onnx_from_torch

    from trtforge.artifacts import read_json

    code = tmp_path / "code"
    _write_model(code, channels=4)
    monkeypatch.syspath_prepend(str(code))
    _forget(monkeypatch)
    config = config_from_dict({"name": "indirect", "model": "rtfactory:factory", "inputs": {"x": [3, 8, 8]},
                               "outputs": ["y"], "output_dir": str(tmp_path / "out")})
    first = onnx_from_torch(config)
    sources = read_json(first.record_path, what="export record")["model_sources"]
    assert {str((code / "rtparts.py").resolve()), str((code / "rtfactory.py").resolve())} <= set(sources)
    own = {str(Path(m.__file__).resolve()) for n, m in list(sys.modules.items())
           if n.split(".")[0] == "trtforge" and getattr(m, "__file__", None)}
    assert not any("site-packages" in path or path in own for path in sources)
    assert onnx_from_torch(config).reused
    _write_model(code, channels=8)  # CH = 4 -> 8 in rtparts.py, the factory's file unchanged
    _forget(monkeypatch)
    changed = onnx_from_torch(config)
    assert not changed.reused
    import onnx

    conv = [i for i in onnx.load(str(changed.onnx_path)).graph.initializer if len(i.dims) == 4]
    assert conv[0].dims[0] == 8  # the new model was exported, not the stale one
    assert onnx_from_torch(config).reused
