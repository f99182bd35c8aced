"""Stop a long loop cleanly on Ctrl-C (SIGINT) or SIGTERM (issue 24).

:class:`StopRequest` turns the signals into a flag that the loop checks at a point
where its state is consistent (after a training step, after a frame), saves what it
has, and ends: ``fit`` checkpointed nothing on Ctrl-C (up to 49 steps redone) and
``predict`` exited 143 on SIGTERM without saving its state. A second signal while
stopping acts at once (the default action). Outside the main thread (where Python
cannot install handlers) nothing changes.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType, TracebackType
from typing import Any


class StopRequest:
    """Context manager; ``requested`` is the signal number received (0: none)."""

    def __init__(self, signals: tuple[int, ...] = (signal.SIGINT, signal.SIGTERM)) -> None:
        self.signals = signals
        self.requested = 0
        self._old: dict[int, Any] = {}

    def _handler(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:  # a second signal: do what it would have done
            self._restore()
            signal.raise_signal(signum)
            return
        self.requested = signum

    def __enter__(self) -> StopRequest:
        if threading.current_thread() is threading.main_thread():
            for s in self.signals:
                self._old[s] = signal.signal(s, self._handler)
        return self

    def _restore(self) -> None:
        for s, old in self._old.items():
            signal.signal(s, old)
        self._old = {}

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._restore()

    def stop(self) -> None:
        """Raise what the signal means: KeyboardInterrupt for SIGINT, SystemExit(143) for
        SIGTERM (the exit status a killed process has)."""
        if self.requested == signal.SIGINT:
            raise KeyboardInterrupt
        raise SystemExit(128 + self.requested)


__all__ = ["StopRequest"]
