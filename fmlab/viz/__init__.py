"""Pictures of data, tokens, masks, training runs and latent spaces. The plot_* helpers return a matplotlib
Figure; interactive_scatter a plotly Figure; latent_explorer an ipywidgets panel (with a static copy for reports).

    fig = fmlab.viz.plot_signals(ds, index=0)      # shown as a notebook cell's value
    fig.savefig("signals.png")
    xy = fmlab.viz.umap_embedding(features)        # [N, D] -> [N, 2], cached
"""
from .embed import interactive_scatter, latent_explorer, plot_embedding, plot_latent_grid, plotly_offline, umap_embedding
from .plots import plot_examples, plot_history, plot_masked_signal, plot_masks, plot_signals, plot_tokens
from .spectra import plot_artifacts, plot_spectra, plot_topomaps

__all__ = ["plot_artifacts", "plot_examples", "plot_history", "plot_masked_signal", "plot_masks", "plot_signals",
           "plot_spectra", "plot_tokens", "plot_topomaps"]
__all__ += ["interactive_scatter", "latent_explorer", "plot_embedding", "plot_latent_grid", "plotly_offline",
            "umap_embedding"]
