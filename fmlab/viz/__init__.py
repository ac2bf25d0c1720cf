"""Static pictures of data, tokens, masks, training runs, results and latent spaces. The plot_* helpers return a
matplotlib Figure; interactive_scatter a plotly Figure, shown with plotly_offline so it also draws in HTML reports.
The live panels (sliders, clicks, buttons that train) are in fmlab.explore.

    fig = fmlab.viz.plot_signals(ds, index=0)      # shown as a notebook cell's value
    fig.savefig("signals.png")
    xy = fmlab.viz.umap_embedding(features)        # [N, D] -> [N, 2], cached
"""
from .adaptation import plot_accuracy_vs_budget, plot_accuracy_vs_parameters, plot_forgetting
from .benchmarks import plot_label_efficiency, plot_ucr
from .diagnostics import plot_augmentations, plot_collapse, plot_ema_schedule, plot_what_it_encodes
from .embedding import umap_embedding
from .foundation import plot_reconstructions, plot_sources_embedding
from .latent import interactive_scatter, plot_embedding, plot_latent_grid
from .offline import plotly_offline
from .plots import plot_examples, plot_history, plot_masked_signal, plot_masks, plot_signals, plot_tokens
from .reconstruction import (plot_ratio_sweep, plot_reconstruction, plot_reconstruction_spectra,
                             plot_spectrum_reconstruction)
from .scaling import plot_scaling
from .spectra import plot_artifacts, plot_spectra, plot_topomaps

__all__ = ["plot_artifacts", "plot_examples", "plot_history", "plot_masked_signal", "plot_masks", "plot_signals",
           "plot_spectra", "plot_tokens", "plot_topomaps"]
__all__ += ["plot_ratio_sweep", "plot_reconstruction", "plot_reconstruction_spectra", "plot_spectrum_reconstruction"]
__all__ += ["plot_augmentations", "plot_collapse", "plot_ema_schedule", "plot_what_it_encodes"]
__all__ += ["interactive_scatter", "plot_embedding", "plot_latent_grid", "plotly_offline", "umap_embedding"]
__all__ += ["plot_accuracy_vs_budget", "plot_accuracy_vs_parameters", "plot_forgetting", "plot_label_efficiency",
            "plot_reconstructions", "plot_scaling", "plot_sources_embedding", "plot_ucr"]
