"""MaskedSpectrum: MAE's masking, but each hidden patch's target is its spectrum.

    target = log(|rfft(patch)| + eps)            # [B, N, L//2 + 1]; with phase also cos, sin of its angle
Predicting the spectrum rather than the waveform asks the encoder for the frequency content of what it
cannot see (which rhythm, how strong), not for the exact phase of every wiggle.
"""
from __future__ import annotations

import torch

from ..models import Encoder
from .mae import MAE


def patch_spectrum(patches: torch.Tensor, phase: bool = False, eps: float = 1e-3) -> torch.Tensor:
    """[B, N, L] -> log-magnitude of the rFFT [B, N, L//2+1] (then cos and sin of the phase if asked)."""
    f = torch.fft.rfft(patches.float(), dim=-1)
    parts = [torch.log(f.abs() + eps)]
    if phase:
        angle = torch.angle(f)
        parts += [torch.cos(angle), torch.sin(angle)]
    return torch.cat(parts, dim=-1)


class MaskedSpectrum(MAE):
    """Masked spectrum prediction (as LaBraM's tokenizer targets, without the codebook).

    phase: also predict the phase (as cos, sin) of each frequency bin, not only its log-magnitude.
    """

    def __init__(self, encoder: Encoder, mask_ratio: float = 0.75, mask_kind: str = "random",
                 phase: bool = False, **decoder_args):
        self.phase = phase  # read by target_dim while MAE builds the decoder
        super().__init__(encoder, mask_ratio, mask_kind, **decoder_args)

    @property
    def target_dim(self) -> int:
        bins = self.encoder.config.patch_size // 2 + 1
        return bins * (3 if self.phase else 1)

    def targets(self, patches: torch.Tensor) -> torch.Tensor:
        return patch_spectrum(patches, self.phase)

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor, **mask_args) -> dict:
        """For plots: {"target", "pred" [B, N, bins] log-magnitudes, "masked" [B, N], "error" [B, N]}."""
        keep, masked = self.mask(x, **mask_args)
        out = self(x, keep=keep, masked=masked)
        bins, b = self.encoder.config.patch_size // 2 + 1, len(x)
        pred, target = out["pred"].float()[..., :bins], out["target"][..., :bins]
        pred, target, masked = pred.reshape(b, -1, bins), target.reshape(b, -1, bins), masked.reshape(b, -1)
        return {"input": x, "target": target, "pred": pred, "masked": masked,
                "error": ((pred - target) ** 2).mean(-1)}
