"""tensorrt-stubs 10.13 made parseable (parameters named ``in``; a parameter without default after defaults)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from trtforge.build.stubfix import stub_text_fixed, stubs_fixed

BROKEN = (
    "class IPluginV3:\n"
    "    def on_shape_change(self: IPluginV3, in: list[PluginTensorDesc], out: list[PluginTensorDesc]) -> None: ...\n"
    "    def add_scale_nd(self, input: ITensor, mode: ScaleMode, shift: Weights = None, scale: Weights = None, "
    "power: Weights = None, channel_axis: int) -> IScaleLayer: ...\n"
)


def test_fixes_exactly_the_two_problems(tmp_path: Path) -> None:
    with pytest.raises(SyntaxError):
        ast.parse(BROKEN)
    fixed = stub_text_fixed(BROKEN)
    ast.parse(fixed)
    assert "in_: list[PluginTensorDesc], out:" in fixed and "power: Weights = None, channel_axis: int = ...)" in fixed
    (tmp_path / "t.pyi").write_text(BROKEN)
    assert stubs_fixed(tmp_path) == [tmp_path / "t.pyi"] and stubs_fixed(tmp_path) == []  # idempotent


STUB_FILE = Path(__file__).resolve().parents[2] / ".stubs" / "tensorrt_bindings" / "tensorrt.pyi"


@pytest.mark.skipif(not STUB_FILE.is_file(), reason="needs tensorrt-stubs in .stubs (make setup)")
def test_the_installed_stubs_parse_once_fixed() -> None:
    ast.parse(stub_text_fixed(STUB_FILE.read_text()))
