"""Commands of this stage (registered into ``trtforge``)."""

from __future__ import annotations

from typing import Any


def register(sub: Any) -> None:
    """This stage adds its commands here."""
