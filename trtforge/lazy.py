"""Module attributes imported on first use, so that importing a stage package stays cheap (no numpy, ONNX or
TensorRT until a function that needs them is asked for)."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_getattr(package: str, table: Mapping[str, str], namespace: dict[str, Any]) -> Callable[[str], object]:
    """A module ``__getattr__`` for ``package``: ``name`` comes from ``package.<table[name]>``, cached in
    ``namespace`` (the package's globals) after the first use."""

    def __getattr__(name: str) -> object:
        if name not in table:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{table[name]}"), name)
        namespace[name] = value
        return value

    return __getattr__
