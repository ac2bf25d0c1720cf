"""The live panels: sliders, clicks and buttons that redraw or train at once, in JupyterLab and on the Voila page
that ``fmlab explore`` serves (notebook 07). Each panel is a cell's value; viewers without a kernel (the HTML
report) get a static copy of its current drawing. The static figures they draw with are in fmlab.viz.

    ReconstructionExplorer(mae, held_out)                        # 01: one MAE's reconstruction under a mask
    MaskingExplorer(mae, held_out, spectrum=spec, channel="O1")  # 07: the MAE beside the masked-spectrum model
    AdaptationExplorer(encoder, pool, test, steps=50)            # 07: what a strategy trains and stores; fit on a click
    LatentExplorer(emb, ds, features=F)                          # 05, 07: click a point, see its signal and neighbours
"""
from .adaptation import AdaptationExplorer
from .latent import LatentExplorer
from .masking import MaskingExplorer
from .reconstruction import ReconstructionExplorer

__all__ = ["AdaptationExplorer", "LatentExplorer", "MaskingExplorer", "ReconstructionExplorer"]
