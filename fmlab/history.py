"""History: what one fit() run recorded, step by step (fmlab.train writes it, plots and reports read it)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class History:
    """Loss per step, evaluation metrics at their steps, wall time and peak accelerator memory."""
    step: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    metrics: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    seconds: float = 0.0
    peak_memory_mb: float | None = None

    def add(self, name: str, step: int, value: float) -> None:
        self.metrics.setdefault(name, []).append((step, float(value)))

    def record(self, step: int, loss: float, lr: float, logs: dict[str, float]) -> None:
        """One training step: its loss, learning rate and the objective's own logs."""
        self.step.append(step)
        self.loss.append(loss)
        self.lr.append(lr)
        for name, value in logs.items():
            self.add(name, step, value)

    def last(self, name: str = "loss") -> float:
        """The latest value of ``name`` ("loss", or a metric)."""
        if name == "loss":
            return self.loss[-1]
        if name not in self.metrics:
            raise KeyError(f"History has no metric {name!r}; it has {sorted(self.metrics)}")
        return self.metrics[name][-1][1]

    def final_loss(self, window: int = 10) -> float:
        """Mean loss over the last ``window`` steps (less noisy than the last step alone)."""
        tail = self.loss[-window:]
        return sum(tail) / len(tail)

    def plot(self, ax=None):
        from .viz.plots import plot_history
        return plot_history(self, ax=ax)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "History":
        h = cls(**d)
        h.metrics = {k: [tuple(v) for v in vals] for k, vals in h.metrics.items()}
        return h
