"""What fit() shows while it trains: one line saying what runs where, a progress bar with the latest loss and
metrics, and in a notebook the loss curve redrawn in place (cleared at the end: the History's plot is the record)."""
from __future__ import annotations

import time

import torch

from .profiles import say


def announce(model: torch.nn.Module, dev: torch.device, bf16: bool, world: int, start: int, steps: int,
             batch_size: int) -> None:
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    say(f"fmlab.fit: {type(model).__name__} on {dev}{' (bf16 autocast)' if bf16 else ''}"
        f"{f' x {world} processes (DDP)' if world > 1 else ''}, steps {start}->{steps}, batch {batch_size}"
        f"{' per process' if world > 1 else ''}, {trainable:,} trainable parameters")


def in_notebook() -> bool:
    try:
        from IPython import get_ipython
        return get_ipython() is not None and "IPKernelApp" in get_ipython().config
    except ImportError:
        return False


def progress_bar(total: int, desc: str, initial: int = 0, disable: bool = False):
    """tqdm.auto's bar. In a notebook its output is rewritten when it closes, so that a saved notebook (a static
    report, where no widget runs) shows the finished bar, "100%| 300/300", and not the empty one it began as."""
    from tqdm.auto import tqdm
    from tqdm.notebook import tqdm_notebook
    if disable or not (issubclass(tqdm, tqdm_notebook) and in_notebook()):
        return tqdm(total=total, initial=initial, desc=desc, leave=True, disable=disable)
    from IPython.display import display

    class SavedBar(tqdm):
        def close(self):
            super().close()
            if getattr(self, "handle", None) is not None:
                self.handle.update(self.container)  # the widget again, with its text form as it is now
                self.handle = None

    bar = SavedBar(total=total, initial=initial, desc=desc, leave=True, display=False)
    bar.handle = display(bar.container, display_id=True)
    return bar


class Display:
    """The progress bar (when ``enabled``) and the live plot (``live``; default: in a notebook) of one fit()."""

    def __init__(self, enabled: bool, live: bool | None, total: int, initial: int):
        self.bar = None
        if enabled:
            self.bar = progress_bar(total=total, initial=initial, desc="fit")
        self.plot = LivePlot() if (live if live is not None else enabled and in_notebook()) else None

    def update(self, hist) -> None:
        """After each step: advance the bar, show the latest loss and metrics, maybe redraw the curve."""
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(loss=f"{hist.loss[-1]:.4f}", **{k: f"{v[-1][1]:.3f}" for k, v in hist.metrics.items()})
        if self.plot is not None:
            self.plot.update(hist)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        if self.plot is not None:
            self.plot.clear()


class LivePlot:
    """Redraws the loss curve in place in a notebook output while fit() runs."""

    def __init__(self, every_seconds: float = 3.0):
        from IPython.display import display
        self.handle, self.every, self.last = display(display_id=True), every_seconds, time.perf_counter()

    def update(self, hist) -> None:
        """Redraw at most every few seconds (a redraw costs as much as several small training steps)."""
        if time.perf_counter() - self.last < self.every:
            return
        self.last = time.perf_counter()
        import matplotlib.pyplot as plt
        fig = hist.plot()
        self.handle.update(fig)
        plt.close(fig)

    def clear(self) -> None:
        """Empty the live output once training ends: the History's own plot is the record."""
        from IPython.display import HTML
        self.handle.update(HTML(""))
