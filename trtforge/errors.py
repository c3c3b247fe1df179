"""The one error type users see. Bugs keep their traceback; this one is printed as a single line."""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class TrtforgeError(Exception):
    """A problem with the user's input or environment that the user can fix.

    Build the message from what was expected, what was found and how to fix it::

        raise TrtforgeError.of("dla_core must be a non-negative integer", found=-1, fix="use 0 or 1 on Orin")
    """

    def __init__(self, message: object = "") -> None:
        # one line whatever it quotes: control characters from user input (a newline in a --set key, a NUL in a
        # file name) are shown escaped, as Python writes them
        super().__init__(_CONTROL.sub(lambda m: repr(m.group())[1:-1], str(message)))

    @classmethod
    def of(cls, expected: str, *, found: object = None, fix: str | None = None) -> TrtforgeError:
        parts = [expected]
        if found is not None:
            parts.append(f"found {found!r}" if not isinstance(found, str) else f"found {found}")
        if fix:
            parts.append(f"fix: {fix}")
        return cls("; ".join(parts))
