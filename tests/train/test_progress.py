"""The progress bar a saved notebook keeps: a static report shows how far each fit() went, not the empty bar."""
import nbclient
import nbformat
import pytest

CELL = """import torch
from fmlab.data import SignalDataset
from fmlab.models import Encoder, EncoderConfig
from fmlab.pretrain import MAE
from fmlab.train import fit
data = SignalDataset(torch.randn(32, 1, 64), torch.zeros(32, dtype=torch.long), ["a"], 64.0)
fit(MAE(Encoder(EncoderConfig(channels=1, length=64, patch_size=8, dim=16, depth=1, heads=2))), data,
    steps={steps}, batch_size=8, device="cpu", live=False)"""


def saved_bars(source: str) -> list[str]:
    """Run ``source`` in a kernel as papermill would; the text form of its widget outputs, as the file keeps them."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    nbclient.NotebookClient(nb, kernel_name="python3", timeout=120).execute()
    return [o["data"]["text/plain"] for o in nb.cells[0].outputs
            if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]


@pytest.mark.notebook
def test_a_saved_notebook_shows_the_finished_bar_of_fit():
    bars = saved_bars(CELL.format(steps=6))
    assert len(bars) == 1, bars
    assert "100%" in bars[0] and "6/6" in bars[0] and "loss=" in bars[0], bars[0]
