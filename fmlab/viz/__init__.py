"""Pictures of data, tokens, masks and training runs; every helper returns a matplotlib Figure.

    fig = fmlab.viz.plot_signals(ds, index=0)      # shown as a notebook cell's value
    fig.savefig("signals.png")
"""
from .plots import plot_examples, plot_history, plot_masked_signal, plot_masks, plot_signals, plot_tokens
from .spectra import plot_artifacts, plot_spectra, plot_topomaps

__all__ = ["plot_artifacts", "plot_examples", "plot_history", "plot_masked_signal", "plot_masks", "plot_signals",
           "plot_spectra", "plot_tokens", "plot_topomaps"]
