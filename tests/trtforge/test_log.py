"""The stage logger writes to the stderr of the moment, so repeated in-process CLI calls never log to a closed
stream (a captured stderr of an earlier call)."""

from __future__ import annotations

import io
import sys

import pytest

from trtforge.log import configure, logger


def test_log_follows_the_current_stderr(monkeypatch: pytest.MonkeyPatch) -> None:
    configure()
    first, second = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stderr", first)
    logger.info("first call")
    first.close()
    monkeypatch.setattr(sys, "stderr", second)
    logger.info("second call")
    assert second.getvalue() == "[trtforge] second call\n"
