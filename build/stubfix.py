"""Make ``tensorrt-stubs`` 10.13 parseable, so mypy can check the TensorRT 10 code path against it.

The generated stubs name parameters ``in`` (a keyword: a syntax error for mypy and ``ast``) and put a
parameter without default after defaulted ones (``add_scale_nd(..., power=None, channel_axis: int)``). The
fix renames ``in`` to ``in_`` and gives such trailing parameters a ``...`` default; nothing else changes.

    python -m trtforge.build.stubfix .stubs
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

_IN_PARAM = re.compile(r"([(,]\s*)in(\s*:)")
_AFTER_DEFAULT = re.compile(r"(= None, )(\w+: [\w\[\], .|]+)(\) ->)")


def stub_text_fixed(text: str) -> str:
    return _AFTER_DEFAULT.sub(r"\1\2 = ...\3", _IN_PARAM.sub(r"\1in_\2", text))


def stubs_fixed(folder: Path) -> list[Path]:
    """Fix every ``.pyi`` under ``folder`` in place; return the files changed. Each must then parse."""
    changed = []
    for path in sorted(Path(folder).rglob("*.pyi")):
        text = path.read_text()
        fixed = stub_text_fixed(text)
        ast.parse(fixed, filename=str(path))
        if fixed != text:
            path.write_text(fixed)
            changed.append(path)
    return changed


if __name__ == "__main__":
    for changed_path in stubs_fixed(Path(sys.argv[1] if len(sys.argv) > 1 else ".stubs")):
        print(f"fixed {changed_path}")
