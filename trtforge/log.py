"""Stage logging: one start line with the resolved inputs, one finish line with duration and artifact."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")

logger = logging.getLogger("trtforge")


class _CurrentStderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is when a record is emitted (not the stream of the first call: a
    redirected or captured stderr, e.g. in tests calling ``trtforge.cli.main`` repeatedly, is closed later)."""

    @property  # type: ignore[override]
    def stream(self) -> object:
        return sys.stderr

    @stream.setter
    def stream(self, _value: object) -> None:
        pass


def configure(verbosity: int = 0) -> None:
    level = logging.DEBUG if verbosity > 0 else logging.INFO
    if not logger.handlers:
        handler = _CurrentStderr()
        handler.setFormatter(logging.Formatter("[trtforge] %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False


@contextmanager
def stage(name: str, **inputs: object) -> Iterator[dict[str, object]]:
    """Log ``name`` starting with its inputs; the caller puts ``artifact`` (and more) into the yielded dict, and
    ``skipped=True`` when its artifacts were fresh: the finish line then says ``skipped`` instead of ``done``."""
    described = ", ".join(f"{k}={v}" for k, v in inputs.items())
    logger.info("%s: start (%s)", name, described)
    result: dict[str, object] = {}
    start = time.perf_counter()
    yield result
    took = time.perf_counter() - start
    skipped = bool(result.pop("skipped", False))
    extra = ", ".join(f"{k}={v}" for k, v in result.items())
    verb = "skipped, up to date (input hashes match)," if skipped else "done"
    logger.info("%s: %s in %.1f s%s", name, verb, took, f" ({extra})" if extra else "")


def progress(items: Iterable[T], *, desc: str, total: int | None = None) -> Iterable[T]:
    """A progress bar on stderr for long loops (calibration, benchmarks, builds)."""
    from tqdm import tqdm

    return tqdm(items, desc=f"[trtforge] {desc}", total=total, file=sys.stderr, leave=False,
                disable=None, dynamic_ncols=True)
