"""Interrupts that wait for the end of a training step.

While fit() trains, Ctrl-C (SIGINT, also a notebook's interrupt button) and SIGTERM (torchrun, a cluster's
scheduler) are held: the handler only notes the signal, and fit() acts on it at the next step boundary, where
the weights, the optimiser and the History agree, so the checkpoint it saves there resumes bit-identically.

    with Held() as held:
        for step in ...:
            ...one step and its bookkeeping...
            held.check()          # the signal's own handler runs here (Ctrl-C: KeyboardInterrupt)

A second signal of the same kind while one is held acts at once (the way out of a step that hangs); fit() then
keeps its previous checkpoint. Only signals Python handles are held: a SIGTERM left at its default still ends
the process at once (its last checkpoint is whole, as every write is atomic). Outside the main thread no signal
arrives, so nothing is held.
"""
from __future__ import annotations

import signal
import threading

from . import distributed

HELD = (signal.SIGINT, signal.SIGTERM)


class Held:
    """Holds SIGINT and SIGTERM inside its ``with`` block until ``check()``; restores the handlers on exit and
    delivers a signal still held then (one that came after the last check)."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.previous: dict[int, object] = {}

    def __enter__(self) -> "Held":
        if threading.current_thread() is not threading.main_thread():
            return self
        try:
            for signum in HELD:
                handler = signal.getsignal(signum)
                if callable(handler):  # SIG_DFL and SIG_IGN are left as they are
                    self.previous[signum] = handler
                    signal.signal(signum, self._hold)
        except BaseException:  # a signal between the two installs: leave no handler of ours behind
            self._restore()
            raise
        return self

    def _hold(self, signum: int, frame) -> None:
        if self.signum == signum:  # asked twice: now
            self.previous[signum](signum, frame)
        self.signum = signum

    def check(self) -> None:
        """At a step boundary: run the held signal's handler (Ctrl-C's raises KeyboardInterrupt). Under torchrun
        every process stops when any one holds a signal, so they all stop after the same step."""
        if not distributed.any_process(self.signum is not None):
            return
        signum, self.signum = self.signum, None
        if signum is not None:
            self.previous[signum](signum, None)
        if distributed.world_size() > 1:
            raise KeyboardInterrupt

    def _restore(self) -> None:
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)
        self.previous = {}

    def __exit__(self, kind, error, traceback) -> None:
        self._restore()
        if self.signum is not None and kind is None:
            signal.raise_signal(self.signum)
