"""The project's own error types.

Every user-facing failure is a :class:`SemaposeError`; the CLI turns it into one
clear line and exit code 2 (``--debug`` shows the traceback). Messages name the
file, the place inside it and what was expected.
"""

from __future__ import annotations

from pathlib import Path


class SemaposeError(Exception):
    """Base class of all errors semapose reports to users."""


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
            shown = repr(got)
            if len(shown) > 80:
                shown = shown[:77] + "..."
            msg += f", got {shown}"
        parts.append(msg)
        super().__init__(": ".join(parts))


class ConfigError(InputError):
    """A configuration key, type or value that is not valid."""


class CheckpointError(SemaposeError):
    """A checkpoint that cannot be loaded (missing/unexpected keys, unknown layout)."""


class NotBuiltError(SemaposeError):
    """A command or feature that is not implemented yet."""
