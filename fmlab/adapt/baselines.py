"""What adaptation has to beat: the same encoder trained from scratch on the labels, and classic methods.

    clf = from_scratch(encoder, num_classes=4)          # a fresh Encoder of the same config, all weights train
    model = bandpower_logreg(train)                     # eeg: log band power -> logistic regression
    model = minirocket(train)                           # UCR-style series: MiniRocket features -> ridge
    model.score(test.x.numpy(), test.y.numpy())         # the classic ones are fitted sklearn pipelines
"""
from __future__ import annotations

from functools import partial

import numpy as np
import torch

from ..data.dataset import SignalDataset
from ..data.spectral import log_band_power
from ..models import Encoder, EncoderConfig
from .finetune import FullFinetune


class FromScratch(FullFinetune):
    """Full fine-tuning of a freshly initialised Encoder with ``encoder``'s config (its weights are
    not used), every weight at the same learning rate: what the labels alone can teach."""
    strategy = "from_scratch"
    default_lr = 1e-3  # every weight at this rate

    def __init__(self, encoder: Encoder | EncoderConfig, num_classes: int, classes: list[str] | None = None):
        if isinstance(encoder, EncoderConfig):
            fresh = Encoder(encoder)
        else:
            fresh = Encoder(encoder.config).to(encoder.cls_token.device)
        super().__init__(fresh, num_classes, classes, encoder_lr_scale=1.0)
        self.arguments = {}


def from_scratch(encoder: Encoder | EncoderConfig, num_classes: int, classes: list[str] | None = None) -> FromScratch:
    """A randomly initialised encoder of ``encoder``'s config (or of a config) with a head."""
    return FromScratch(encoder, num_classes, classes)


def band_features(x: np.ndarray, fs: float, chunk: int = 256) -> np.ndarray:
    """[N, C, T] -> [N, C * 5]: log power of every channel in the delta ... gamma bands. In chunks of ``chunk``
    signals: the spectra of all of them at once would take several times the data's memory."""
    x = torch.as_tensor(x, dtype=torch.float32)
    return torch.cat([log_band_power(x[i:i + chunk], fs).flatten(1) for i in range(0, len(x), chunk)]).numpy()


def bandpower_logreg(train: SignalDataset, seed: int = 0, c: float = 1.0):
    """The classic EEG pipeline, fitted on ``train``: log band power per channel x band, standardised,
    then logistic regression. Needs a real sampling rate (train.fs) with bins in every band."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler
    pipe = make_pipeline(FunctionTransformer(partial(band_features, fs=train.fs)), StandardScaler(),
                         LogisticRegression(C=c, max_iter=2000, random_state=seed))
    return pipe.fit(train.x.cpu().numpy(), train.y.cpu().numpy())


def minirocket(train: SignalDataset, seed: int = 0, n_kernels: int = 10_000):
    """MiniRocket (Dempster et al., 2021) through aeon, fitted on ``train``: ~10k random convolution
    features, scaled, then a ridge classifier with cross-validated regularisation (aeon's recipe)."""
    from aeon.transformations.collection.convolution_based import MiniRocket
    from sklearn.linear_model import RidgeClassifierCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    pipe = make_pipeline(MiniRocket(n_kernels=n_kernels, random_state=seed), StandardScaler(with_mean=False),
                         RidgeClassifierCV(alphas=np.logspace(-3, 3, 10)))
    return pipe.fit(train.x.cpu().numpy(), train.y.cpu().numpy())


CLASSIC = {"bandpower_logreg": bandpower_logreg, "minirocket": minirocket}


def classic_for(data: SignalDataset) -> str:
    """The classic baseline that suits ``data``: band power for eeg, MiniRocket for everything else."""
    return "bandpower_logreg" if data.name == "eeg" else "minirocket"


def fitted_parameters(pipe) -> int:
    """Learned weights of a fitted pipeline's final linear model (coefficients and intercepts)."""
    last = pipe[-1]
    return int(np.size(last.coef_) + np.size(last.intercept_))
