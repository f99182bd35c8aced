"""The project's own error types.

Every user-facing failure is a :class:`SemaposeError`; the CLI turns it into one
clear line and exit code 2 (``--debug`` shows the traceback). Messages name the
file, the place inside it and what was expected.

A message is always one short printable line, whatever the input: values are
shown by :func:`shown_value` (bounded work and length, so a YAML alias bomb or a
5000-digit integer cannot blow up the message) and control characters (a newline
or an ANSI escape in a file name) are escaped by :func:`printable`.
"""

from __future__ import annotations

import math
import reprlib
from pathlib import Path

#: Longest ``got`` value shown in a message, in characters.
MAX_SHOWN = 80


def printable(text: str) -> str:
    """``text`` with every non-printable character escaped (``\\n``, ``\\x1b``, ...)."""
    if text.isprintable():
        return text
    return "".join(
        c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text
    )


def shown_path(path: str | Path) -> str:
    """A path as messages show it: control characters escaped, nothing else changed."""
    return printable(str(path))


class _BoundedRepr(reprlib.Repr):
    """``repr`` that visits a bounded number of items and never converts a huge int."""

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel = 3
        self.maxtuple = self.maxlist = self.maxarray = self.maxset = self.maxfrozenset = 8
        self.maxdeque = self.maxdict = 6
        self.maxstring = self.maxother = MAX_SHOWN + 2
        self.maxlong = 40

    def repr_int(self, x: int, level: int) -> str:
        bits = abs(x).bit_length()
        if bits > 256:  # str() of a huge int is slow and raises beyond 4300 digits
            digits = int(bits * math.log10(2)) + 1
            return f"<{'-' if x < 0 else ''}integer of about {digits} digits>"
        return super().repr_int(x, level)


_REPR = _BoundedRepr()


def shown_value(value: object, limit: int = MAX_SHOWN) -> str:
    """A short ``repr`` of ``value`` for a message (at most ``limit`` characters)."""
    try:
        shown = _REPR.repr(value)
    except Exception:  # a hostile __repr__ must not replace the real error
        shown = f"<{type(value).__name__}>"
    if len(shown) > limit:
        shown = shown[: limit - 3] + "..."
    return printable(shown)


class SemaposeError(Exception):
    """Base class of all errors semapose reports to users (one printable line)."""

    def __str__(self) -> str:
        return printable(super().__str__())


class InputError(SemaposeError):
    """Bad user input: a file, a field or a value that is not what was expected.

    ``InputError(path, where, expected, got=None)`` renders as
    ``path: where: expected <expected>[, got <got>]``.
    """

    def __init__(
        self,
        path: str | Path | None,
        where: str,
        expected: str,
        got: object | None = None,
    ) -> None:
        self.path = str(path) if path is not None else None
        self.where = where
        self.expected = expected
        self.got = got
        parts = []
        if self.path:
            parts.append(self.path)
        if where:
            parts.append(where)
        msg = f"expected {expected}"
        if got is not None:
            msg += f", got {shown_value(got)}"
        parts.append(msg)
        super().__init__(": ".join(parts))


class ConfigError(InputError):
    """A configuration key, type or value that is not valid."""


class CheckpointError(SemaposeError):
    """A checkpoint that cannot be loaded (missing/unexpected keys, unknown layout)."""


class NotBuiltError(SemaposeError):
    """A command or feature that is not implemented yet."""
