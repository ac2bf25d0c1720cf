"""The one encoder: a pre-norm transformer over (channel, patch) tokens, for signals of any shape.

x [B, C, T] -> per-sample, per-channel normalisation (statistics kept) -> zero-pad T to whole patches ->
patches [B, C*P, L] -> linear patch embedding + time-position embedding (+ channel embedding) ->
(keep only visible tokens) -> [CLS | prompts | tokens] -> blocks (padding masked out) -> LayerNorm.

One set of weights takes any number of channels and any length up to ``config.length``:
- a token is one channel's patch, and the patch embedding is shared by every channel;
- ``channel_embed=False`` drops the per-channel embedding, so any channel count fits (with it, the
  encoder knows up to ``config.channels`` channels by their index, e.g. an eeg montage);
- ``channel_independent=True`` lets a token attend only to tokens of its own channel: a [B, C, T]
  signal is C univariate series (as MOMENT and Mantis), and CLS is the mean of the C channels' CLS;
- ``causal=True`` lets a token attend only to patches at its own time or earlier (CLS and prompts
  come first and see only each other), so the token of patch p can predict patch p + 1;
- ``lengths`` [B] marks series shorter than the batch (padded at the end): their padding tokens are
  masked out of attention and pooling, and the normalisation statistics use the valid samples only.
The blocks (fmlab.transformer) use explicit q, k, v, out ``nn.Linear`` layers, so LoRA and friends can target them.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields

import torch
import torch.nn as nn
import torch.nn.functional as F

from .data.dataset import check_signal
from .masking import patchify
from .transformer import MLP, Attention, Block  # noqa: F401 (Attention, MLP: still importable from here)

# width, depth, heads: about 0.1 M / 1 M / 10 M / 40 M parameters
PRESETS = {
    "tiny": dict(dim=64, depth=2, heads=4),
    "small": dict(dim=128, depth=5, heads=4),
    "medium": dict(dim=384, depth=6, heads=6),
    "base": dict(dim=512, depth=12, heads=8),
}
NORMS = ("instance", "scale")


def default_patch_size(length: int) -> int:
    """The largest of 64, 32, ..., 1 that divides ``length`` into at least 8 patches."""
    for p in (64, 32, 16, 8, 4, 2, 1):
        if length % p == 0 and length // p >= 8:
            return p
    return 1


@dataclass(frozen=True)
class EncoderConfig:
    channels: int             # channels known by index (with channel_embed); any count without it
    length: int               # the longest series, in samples, the position table covers
    patch_size: int = 16
    dim: int = 64
    depth: int = 2
    heads: int = 4
    mlp_ratio: float = 4.0
    dropout: float = 0.0
    pool: str = "mean"        # embed(): "mean" of patch tokens or the "cls" token
    norm: str = "instance"    # "instance": each sample's channels z-normalised; "scale": divided by input_scale
    input_scale: float = 1.0  # with norm="scale": inputs are divided by this (e.g. the training data's std)
    channel_embed: bool = True
    channel_independent: bool = False
    causal: bool = False      # a token attends to no later patch (next-patch prediction, the GPT side)

    def __post_init__(self):
        for name in ("channels", "length", "patch_size", "dim", "depth", "heads"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"EncoderConfig.{name}: expected a positive integer, got {v!r}")
        if self.dim % self.heads:
            raise ValueError(f"EncoderConfig: dim {self.dim} must be divisible by heads {self.heads}")
        if not self.input_scale > 0:
            raise ValueError(f"EncoderConfig.input_scale: expected > 0, got {self.input_scale}")
        if self.norm not in NORMS:
            raise ValueError(f"EncoderConfig.norm: expected one of {NORMS}, got {self.norm!r}")
        if self.norm == "instance" and self.input_scale != 1.0:
            raise ValueError(f"EncoderConfig: input_scale={self.input_scale} has no effect with norm='instance' "
                             f"(each sample normalises itself); pass norm='scale' to divide by it, or drop it")
        if self.pool not in ("mean", "cls"):
            raise ValueError(f"EncoderConfig.pool: expected 'mean' or 'cls', got {self.pool!r}")

    @property
    def patches(self) -> int:
        """Patches of a full-length series (the rows of the position table)."""
        return math.ceil(self.length / self.patch_size)

    @property
    def num_tokens(self) -> int:
        """Tokens of a [channels, length] signal."""
        return self.channels * self.patches

    @classmethod
    def preset(cls, name: str, channels: int, length: int, patch_size: int | None = None, **overrides):
        """A named size ("tiny" | "small" | "medium" | "base") for data of up to ``channels`` x ``length``."""
        if name not in PRESETS:
            raise ValueError(f"EncoderConfig.preset: unknown size {name!r}; choose one of {', '.join(PRESETS)}")
        return cls(channels=channels, length=length, patch_size=patch_size or default_patch_size(length),
                   **{**PRESETS[name], **overrides})

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict) -> "EncoderConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


def time_valid(lengths: torch.Tensor, t: int) -> torch.Tensor:
    """lengths [B] -> [B, 1, T] bool, True on the valid samples."""
    return (torch.arange(t, device=lengths.device)[None] < lengths[:, None])[:, None, :]


def pool_patches(tokens: torch.Tensor, valid: torch.Tensor | None = None, how: str = "mean") -> torch.Tensor:
    """Patch tokens [..., K, D] -> [..., D] ("mean") or [..., 2D] ("mean+max": the strongest activation beside
    the average, the references' frozen-feature protocol, so a short event the mean washes out still shows);
    ``valid`` [..., K] leaves padding out of both."""
    if how not in ("mean", "mean+max"):
        raise ValueError(f"Encoder pooling: expected 'mean', 'mean+max' or 'cls', got {how!r}")
    w = torch.ones_like(tokens[..., :1]) if valid is None else valid[..., None].to(tokens.dtype)
    mean = (tokens * w).sum(-2) / w.sum(-2)
    return mean if how == "mean" else torch.cat([mean, tokens.masked_fill(w == 0, float("-inf")).amax(-2)], -1)


class Encoder(nn.Module):
    def __init__(self, config: EncoderConfig):
        super().__init__()
        self.config = c = config
        self.patch_embed = nn.Linear(c.patch_size, c.dim)
        self.channel_embed = nn.Parameter(torch.zeros(c.channels, c.dim)) if c.channel_embed else None
        self.pos_embed = nn.Parameter(torch.zeros(c.patches, c.dim))
        self.cls_token = nn.Parameter(torch.zeros(1, 1, c.dim))
        self.blocks = nn.ModuleList(Block(c.dim, c.heads, c.mlp_ratio, c.dropout) for _ in range(c.depth))
        self.norm = nn.LayerNorm(c.dim)
        self.apply(self._init)
        for p in (self.channel_embed, self.pos_embed, self.cls_token):
            if p is not None:
                nn.init.trunc_normal_(p, std=0.02)

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            nn.init.zeros_(m.bias)

    @property
    def dim(self) -> int:
        return self.config.dim

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def num_patches(self, length: int) -> int:
        return math.ceil(length / self.config.patch_size)

    def check_input(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> None:
        check_signal(x)
        c, (b, ch, t) = self.config, x.shape
        if c.channel_embed and ch > c.channels:
            raise ValueError(f"Encoder: expected at most {c.channels} channels (it embeds channels by index), got "
                             f"input {tuple(x.shape)}; build it with channel_embed=False for any channel count, "
                             f"or EncoderConfig.preset(..., channels={ch}, length={t}) for this data")
        if self.num_patches(t) > c.patches:
            raise ValueError(f"Encoder: expected series of at most {c.length} samples ({c.patches} patches of "
                             f"{c.patch_size}), got input {tuple(x.shape)}; crop it, resample it explicitly "
                             f"(fmlab.data.resample(ds, {c.length})), or build an encoder with length={t}")
        if lengths is not None and (lengths.shape != (b,) or lengths.dtype.is_floating_point
                                    or int(lengths.min()) < 1 or int(lengths.max()) > t):
            raise ValueError(f"Encoder: lengths must be [B] = [{b}] integers in 1..{t} (valid samples per series), "
                             f"got {lengths.dtype} {tuple(lengths.shape)}")

    def fold(self, x: torch.Tensor) -> torch.Tensor:
        """[B, C, T] -> [B * C, 1, T] for a channel-independent encoder (its objectives see univariate series)."""
        return x.reshape(-1, 1, x.shape[-1]) if self.config.channel_independent else x

    def normalize(self, x: torch.Tensor, lengths: torch.Tensor | None = None):
        """x [B, C, T] -> (normalised x [B, C, T], mean [B, C, 1], std [B, C, 1]); x = normalised * std + mean
        on valid samples, padding (beyond ``lengths``) is zero. Constant channels get std 1."""
        x = x.float()
        if self.config.norm == "scale":
            mean, std = torch.zeros_like(x[..., :1]), torch.full_like(x[..., :1], self.config.input_scale)
            xn = x / std
        else:
            w = torch.ones_like(x[:, :1]) if lengths is None else time_valid(lengths, x.shape[-1]).float()
            count = w.sum(-1, keepdim=True)
            mean = (x * w).sum(-1, keepdim=True) / count
            std = (((x - mean) ** 2 * w).sum(-1, keepdim=True) / count).sqrt()
            std = torch.where(std > 1e-6, std, torch.ones_like(std))
            xn = (x - mean) / std * w
        return xn, mean, std

    def patches(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """[B, C, T] -> [B, C*P, L] patches of the normalised input, zero-padded to whole patches (P = ceil(T/L));
        what tokens, and MAE targets, are made of."""
        xn, _, _ = self.normalize(x, lengths)
        return patchify(F.pad(xn, (0, (-x.shape[-1]) % self.config.patch_size)), self.config.patch_size)

    def token_valid(self, x: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor | None:
        """[B, C*P] bool, True for tokens holding at least one valid sample; None when all are valid."""
        if lengths is None:
            return None
        first = torch.arange(self.num_patches(x.shape[-1]), device=x.device) * self.config.patch_size
        return (first[None] < lengths[:, None]).repeat(1, x.shape[1])

    def tokenize(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """[B, C, T] -> [B, N, D] patch tokens with time (and channel) embeddings (N = C * P)."""
        ch, p = x.shape[1], self.num_patches(x.shape[-1])
        pos = self.pos_embed[:p].repeat(ch, 1)                       # token c * P + p has position p
        if self.channel_embed is not None:
            pos = pos + self.channel_embed[:ch].repeat_interleave(p, 0)
        return self.patch_embed(self.patches(x, lengths)) + pos

    def forward(self, x: torch.Tensor, keep: torch.Tensor | None = None,
                prompts: torch.Tensor | list[torch.Tensor] | None = None,
                lengths: torch.Tensor | None = None, depth: int | None = None) -> torch.Tensor:
        """x [B, C, T] -> tokens [B, 1 + K, D]: CLS then the K visible tokens (K = N = C * P without ``keep``).

        keep:    [B, K] indices of visible tokens (from fmlab.masking); the rest never enter.
        prompts: [M, D] or [B, M, D] extra tokens placed after CLS (shallow prompt tuning), or a list
                 with one such tensor per block that replaces the prompt slots before each block
                 (deep, as VPT-deep). Prompt outputs are dropped, so the shape stays [B, 1 + K, D].
        lengths: [B] valid samples per series, for a batch of series padded at the end to T.
        depth:   run only the first ``depth`` blocks (then the final norm): an earlier layer's tokens.
        """
        self.check_input(x, lengths)
        b, ch, t = x.shape
        if not (self.config.channel_independent and ch > 1):
            return self._encode(x, keep, prompts, lengths, depth)
        if keep is not None:
            raise ValueError(f"Encoder: a channel-independent encoder masks each channel on its own; fold the "
                             f"input first (encoder.fold(x): [{b}, {ch}, {t}] -> [{b * ch}, 1, {t}]) and make the "
                             f"mask for the folded series")
        per_series = lambda p: p.repeat_interleave(ch, 0) if p.dim() == 3 else p
        if prompts is not None:
            prompts = [per_series(q) for q in prompts] if isinstance(prompts, (list, tuple)) else per_series(prompts)
        folded = None if lengths is None else lengths.repeat_interleave(ch)
        h = self._encode(self.fold(x), None, prompts, folded, depth)
        h = h.view(b, ch, h.shape[1], h.shape[2])                    # [B, C, 1 + P, D]
        return torch.cat([h[:, :, 0].mean(1, keepdim=True), h[:, :, 1:].flatten(1, 2)], dim=1)

    def _encode(self, x, keep, prompts, lengths, depth=None) -> torch.Tensor:
        h, valid = self.tokenize(x, lengths), self.token_valid(x, lengths)
        time = torch.arange(h.shape[1], device=h.device)[None] % self.num_patches(x.shape[-1])  # [1, N] patch index
        if keep is not None:
            time = keep % self.num_patches(x.shape[-1])
            h = torch.gather(h, 1, keep[..., None].expand(-1, -1, h.shape[-1]))
            valid = None if valid is None else torch.gather(valid, 1, keep)
        b = h.shape[0]
        per_block = isinstance(prompts, (list, tuple))
        if per_block and len(prompts) != len(self.blocks):
            raise ValueError(f"Encoder: deep prompts need one tensor per block ({len(self.blocks)}), got {len(prompts)}")
        m = 0 if prompts is None else (prompts[0] if per_block else prompts).shape[-2]
        as_batch = lambda p: p.expand(b, -1, -1) if p.dim() == 3 else p[None].expand(b, -1, -1)
        mask = None
        if valid is not None:  # CLS and prompts are always there; padding tokens are never attended to
            mask = torch.cat([valid.new_ones(b, 1 + m), valid], dim=1)[:, None, None, :]
        if self.config.causal:  # query i may read key j when j's patch is not later than i's (CLS, prompts: -1)
            time = torch.cat([time.new_full((time.shape[0], 1 + m), -1), time], dim=1)
            earlier = (time[:, None, :] <= time[:, :, None])[:, None]   # [B or 1, 1, S, S]
            mask = earlier if mask is None else mask & earlier
        h = torch.cat([self.cls_token.expand(b, -1, -1), h], dim=1)
        if m and not per_block:
            h = torch.cat([h[:, :1], as_batch(prompts), h[:, 1:]], dim=1)
        if depth is not None and not 1 <= depth <= len(self.blocks):
            raise ValueError(f"Encoder: depth must be 1..{len(self.blocks)} (blocks to run), got {depth!r}")
        for i, block in enumerate(self.blocks[:depth]):
            if per_block:  # VPT-deep: fresh learned prompts enter before every block
                h = torch.cat([h[:, :1], as_batch(prompts[i]), h[:, 1 + (m if i else 0):]], dim=1)
            h = block(h, mask)
        h = self.norm(h)
        return torch.cat([h[:, :1], h[:, 1 + m:]], dim=1) if m else h

    def pool(self, tokens: torch.Tensor, valid: torch.Tensor | None = None, how: str | None = None) -> torch.Tensor:
        """[B, 1 + K, D] -> [B, D] by ``how`` (default: the config's pooling; "mean+max" gives [B, 2D]);
        ``valid`` [B, K] leaves padding out."""
        how = how or self.config.pool
        return tokens[:, 0] if how == "cls" else pool_patches(tokens[:, 1:], valid, how)

    def embed(self, x: torch.Tensor, lengths: torch.Tensor | None = None, per_channel: bool = False,
              pool: str | None = None, **kwargs) -> torch.Tensor:
        """Pooled features [B, D] ([B, 2D] with ``pool="mean+max"``), or [B, C, D] with ``per_channel`` (each
        channel's tokens pooled on their own, "mean" unless ``pool`` says "mean+max": what a channel-independent
        encoder hands a classifier of multivariate series). Keyword arguments go to forward."""
        tokens = self(x, lengths=lengths, **kwargs)
        valid = self.token_valid(x, lengths)
        if "keep" in kwargs and kwargs["keep"] is not None:
            if per_channel:
                raise ValueError("Encoder.embed: per_channel pooling needs every token (no keep=)")
            valid = None if valid is None else torch.gather(valid, 1, kwargs["keep"])
        if not per_channel:
            return self.pool(tokens, valid, pool)
        if pool == "cls":
            raise ValueError("Encoder.embed: per_channel pooling reads each channel's patch tokens ('mean' or "
                             "'mean+max'); the CLS token is shared by all channels (use per_channel=False)")
        b, ch = x.shape[:2]
        t = tokens[:, 1:].reshape(b, ch, -1, tokens.shape[-1])       # [B, C, P, D]
        return pool_patches(t, None if valid is None else valid.view(b, ch, -1), pool or "mean")
