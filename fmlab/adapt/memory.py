"""How much memory a run took: the rise of this process's resident size while it ran (PeakRSS), measured after
handing the heap's free memory back to the OS (release_free_memory), so the rise is the run's and not the reuse of
an earlier one's. compare() measures every strategy with it.

    with PeakRSS() as mem:
        fit(model, data)
    mem.increase_mb        # MB above the resident size at entry (a lower bound on what the block needed)
"""
from __future__ import annotations

import ctypes
import gc
import threading


def release_free_memory() -> None:
    """Collect garbage and hand the C heap's free memory back to the OS (glibc's malloc_trim; elsewhere
    a no-op), so that the next block's allocations show in the resident size instead of reusing it."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


class PeakRSS:
    """Peak rise of this process's resident memory (MB) over its value at entry, while the with-block
    runs, sampled by a thread every ``interval`` seconds. Memory an allocator kept from earlier work
    can be reused without a rise, so this is a lower bound on what the block needed."""

    def __init__(self, interval: float = 0.005):
        self.interval, self.increase_mb = interval, 0.0

    def __enter__(self) -> "PeakRSS":
        import psutil
        release_free_memory()
        self._process = psutil.Process()
        self._baseline = self._peak = self._process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def _watch(self) -> None:
        while not self._stop.wait(self.interval):
            self._peak = max(self._peak, self._process.memory_info().rss)

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._peak = max(self._peak, self._process.memory_info().rss)
        self.increase_mb = (self._peak - self._baseline) / 2**20
