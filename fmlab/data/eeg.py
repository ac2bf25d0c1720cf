"""A synthetic EEG-like corpus: 19 scalp channels, 4 cognitive states, subjects, artifacts.

Every sample is built the same way (see datasets/eeg.md for the equations and numbers):

    brain   = aperiodic 1/f background, spatially smooth        [N, C, T]
            + band rhythms (delta ... gamma), each a narrow-band noise source with a bursty
              envelope, projected through a scalp topography      (state sets their amplitudes)
    x       = subject gains * (I + subject mixing) @ brain + artifacts

The state is in the *spectrum* (which rhythms are strong, and where), never in the waveform at
fixed times: every source has random phases. Subjects and artifacts are nuisances an encoder
may latch onto. Units are microvolt-like (uV): a channel's std over 4 s is typically 5-20 uV,
strong alpha bursts and artifacts reach 100-250 uV. Not normalised: amplitude is part of the story.
"""
from __future__ import annotations

import math

import torch

from .dataset import SignalDataset
from .spectral import BANDS  # noqa: F401 (the bands the states differ in; defined with band_power)

CHANNELS = ("Fp1", "Fp2", "F7", "F3", "Fz", "F4", "F8", "T3", "C3", "Cz", "C4", "T4",
            "T5", "P3", "Pz", "P4", "T6", "O1", "O2")
# 2-D scalp positions (x right, y towards the nose, Cz at the origin, outer ring at radius 0.8):
# the usual azimuthal projection of the 10-20 montage, good enough for topomaps.
CHANNEL_POSITIONS: dict[str, tuple[float, float]] = {
    "Fp1": (-0.25, 0.76), "Fp2": (0.25, 0.76),
    "F7": (-0.65, 0.47), "F3": (-0.32, 0.43), "Fz": (0.0, 0.4), "F4": (0.32, 0.43), "F8": (0.65, 0.47),
    "T3": (-0.8, 0.0), "C3": (-0.4, 0.0), "Cz": (0.0, 0.0), "C4": (0.4, 0.0), "T4": (0.8, 0.0),
    "T5": (-0.65, -0.47), "P3": (-0.32, -0.43), "Pz": (0.0, -0.4), "P4": (0.32, -0.43), "T6": (0.65, -0.47),
    "O1": (-0.25, -0.76), "O2": (0.25, -0.76),
}
# "eeg-offsets": recordings with electrode offsets about as large as the corpus's own std (~12 uV)
ELECTRODE_OFFSET_UV = 12.0
CHANNEL_XY = torch.tensor([CHANNEL_POSITIONS[c] for c in CHANNELS])  # [19, 2], CHANNELS order
STATES = ("eyes_closed", "eyes_open", "task", "drowsy")
# Share of ``artifact_rate`` each kind gets: P(kind in a sample) = artifact_rate * share.
ARTIFACTS: dict[str, float] = {"blink": 0.4, "muscle": 0.3, "line_noise": 0.15, "pop": 0.15}

# Rhythm sources: (kind, centre channel, topography width, peak Hz, bandwidth Hz). Alpha and mu
# peaks are offsets from the sample's alpha peak (the subject's IAF, slowed when drowsy).
_SOURCES = (
    ("delta", "Fz", 0.60, 2.0, 1.0),
    ("theta", "Fz", 0.30, 6.0, 1.0),                                       # frontal-midline theta
    ("alpha", "O1", 0.40, 0.0, 1.0), ("alpha", "O2", 0.40, 0.0, 1.0),      # occipital alpha
    ("mu", "C3", 0.30, 1.0, 1.0), ("mu", "C4", 0.30, 1.0, 1.0),            # sensorimotor mu
    ("beta", "C3", 0.35, 20.0, 4.0), ("beta", "C4", 0.35, 20.0, 4.0), ("beta", "Fz", 0.45, 18.0, 4.0),
    ("gamma", "Cz", 0.80, 38.0, 5.0),
)
_KINDS = ("delta", "theta", "alpha", "mu", "beta", "gamma")
_PEAK_SPREAD = (0.0, 0.5, 0.0, 0.0, 1.5, 2.0)  # Hz sd of a subject's own peak, per kind
# Rhythm amplitude (uV rms at the source centre, typical subject) for each state, in _KINDS order.
_STATE_AMP = {
    "eyes_closed": (3.0, 2.5, 16.0, 4.0, 2.5, 0.8),
    "eyes_open":   (3.0, 2.5, 4.0, 4.0, 3.5, 1.0),
    "task":        (3.0, 8.0, 3.0, 1.8, 6.0, 2.2),
    "drowsy":      (8.0, 6.0, 6.0, 3.0, 2.0, 0.7),
}
_DROWSY_ALPHA_SHIFT = -1.5  # Hz: drowsiness slows the alpha peak
_BACKGROUND_UV, _FLOOR_UV = 6.0, 0.5
_SAMPLE_JITTER, _SUBJECT_JITTER, _BURST = 0.2, 0.2, 1.0  # log-normal spreads


def _unit(weights: torch.Tensor, length: int) -> torch.Tensor:
    """Scale spectral weights [..., F] so that ``_noise`` gives expected variance 1."""
    return weights / weights.sum(-1, keepdim=True).clamp_min(1e-12) * (length / 2)


def _noise(weights: torch.Tensor, shape: tuple[int, ...], g: torch.Generator) -> torch.Tensor:
    """Real Gaussian noise [*shape] whose power in rfft bin k is weights[..., k] (expected
    variance 2 / T * sum of weights). ``weights`` [..., F'] broadcasts to shape[:-1]; bins past
    F' are zero, so a low-pass noise only draws the few random numbers it needs.
    Random phases: the spectrum is fixed, the waveform is not."""
    spec = torch.randn((*shape[:-1], weights.shape[-1]), generator=g, device=weights.device, dtype=torch.complex64)
    return torch.fft.irfft(spec.mul_(weights.sqrt()), n=shape[-1], norm="ortho")


def _topography(centre_xy: torch.Tensor, width: float) -> torch.Tensor:
    """[C] Gaussian fall-off with scalp distance from ``centre_xy`` [2]."""
    d2 = ((CHANNEL_XY.to(centre_xy.device) - centre_xy) ** 2).sum(-1)
    return torch.exp(-0.5 * d2 / width**2)


def _check(n, seed, subjects, length, fs, artifact_rate) -> None:
    def need(ok: bool, name: str, expected: str, got, fix: str) -> None:
        if not ok:
            raise ValueError(f"load_eeg({name}=...): expected {expected}, got {got!r}; {fix}")
    is_int = lambda v: isinstance(v, int) and not isinstance(v, bool)  # noqa: E731
    need(is_int(n) and n >= 1, "n", "an int >= 1 (number of samples)", n, "e.g. n=2000")
    need(is_int(seed), "seed", "an int", seed, "e.g. seed=0")
    need(is_int(subjects) and subjects >= 1, "subjects", "an int >= 1", subjects,
         "e.g. subjects=20 (split(by='subject') needs at least 2)")
    need(is_int(length) and length >= 64, "length", "an int >= 64 (time steps)", length, "e.g. length=512")
    need(isinstance(fs, (int, float)) and fs > 100, "fs", "a rate above 100 Hz", fs,
         "the 50 Hz line noise and the 30-45 Hz gamma band must lie below Nyquist; e.g. fs=128.0")
    need(isinstance(fs, (int, float)) and length / fs >= 1.0, "length", f"at least 1 s of signal "
         f"(length >= fs = {fs})", length, "the delta band needs a second or more; raise length")
    need(isinstance(artifact_rate, (int, float)) and 0 <= artifact_rate <= 1, "artifact_rate",
         "a number in [0, 1]", artifact_rate, "0 gives clean data, 0.3 is the default")


def _device(device) -> torch.device:
    try:
        dev = torch.device(device if device is not None else "cpu")
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"load_eeg(device=...): expected None, 'cpu', 'cuda' or a torch.device, got {device!r} "
                         f"({err}); leave it None for the CPU") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"load_eeg(device={device!r}): CUDA is not available here; use device=None (CPU) "
                         f"or fmlab.profiles.device()")
    return dev


def _background(slope: torch.Tensor, freqs: torch.Tensor, length: int, xy: torch.Tensor,
                g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Aperiodic background: C independent 1/f sources at the electrodes, for samples of 1/f exponent ``slope``
    [n]; and their smoothing over the scalp (volume conduction), so neighbouring channels correlate.
    -> (sources [n, C, T], smoothing [C, C] with rows of norm _BACKGROUND_UV)."""
    # The sources also carry a white floor (amplifier noise, ~0.5 uV) so high frequencies never go silent.
    knee = (1.0 + freqs**2) ** (-slope[:, None] / 2) * (freqs > 0)   # [n, F]
    floor = (_FLOOR_UV / _BACKGROUND_UV) ** 2
    sources = _noise(_unit(knee, length)[:, None] + floor, (len(slope), len(xy), length), g)  # [n, C, T]
    smooth = torch.exp(-0.5 * torch.cdist(xy, xy) ** 2 / 0.35**2)
    return sources, _BACKGROUND_UV * smooth / smooth.norm(dim=1, keepdim=True)


def _rhythms(y: torch.Tensor, alpha_peak: torch.Tensor, kind_gain: torch.Tensor, peak_shift: torch.Tensor,
             freqs: torch.Tensor, length: int, xy: torch.Tensor,
             g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Rhythms: the R sources of _SOURCES, each narrow-band noise x slow bursty envelope x an amplitude set by
    state, subject and sample. y [n] states, alpha_peak [n] Hz, and each sample's subject's kind_gain [n, K] and
    peak_shift [n, K] Hz -> (rhythms [n, R, T], their scalp topographies [C, R])."""
    dev, n, T, R = freqs.device, len(y), length, len(_SOURCES)
    kind = torch.tensor([_KINDS.index(s[0]) for s in _SOURCES], device=dev)              # [R]
    peak = torch.tensor([s[3] for s in _SOURCES], device=dev)                            # [R]
    bw = torch.tensor([s[4] for s in _SOURCES], device=dev)                              # [R]
    follows_alpha = (kind == _KINDS.index("alpha")) | (kind == _KINDS.index("mu"))
    centre = peak + peak_shift[:, kind] + follows_alpha * alpha_peak[:, None]            # [n, R] Hz
    wave = _noise(_unit(torch.exp(-0.5 * ((freqs - centre[..., None]) / bw[:, None]) ** 2), T), (n, R, T), g)
    low = freqs[freqs <= 2.0]                                           # the envelope lives below 2 Hz
    slow = _noise(_unit(torch.exp(-0.5 * (low / 0.5) ** 2) * (low > 0), T), (n, R, T), g)  # ~1 s bursts
    envelope = slow.mul_(_BURST).sigmoid_().mul_(2)          # waxes and wanes in (0, 2), mean 1
    state_amp = torch.tensor([_STATE_AMP[s] for s in STATES], device=dev)               # [4, K]
    jitter = torch.exp(_SAMPLE_JITTER * torch.randn((n, R), generator=g, device=dev))   # [n, R]
    a = state_amp[y][:, kind] * kind_gain[:, kind] * jitter
    rhythms = wave.mul_(envelope).mul_(a[..., None])                                    # [n, R, T]
    topo = torch.stack([_topography(xy[CHANNELS.index(s[1])], s[2]) for s in _SOURCES], 1)  # [C, R]
    return rhythms, topo


def load_eeg(n: int = 2000, seed: int = 0, subjects: int = 20, length: int = 512, fs: float = 128.0,
             artifact_rate: float = 0.3, device: str | torch.device | None = None,
             electrode_offset: float = 0.0) -> SignalDataset:
    """The synthetic EEG corpus: x [n, 19, length] float32 (uV), y [n] int64 into STATES.

    meta: "subject" [n] int64, "alpha_peak" [n] float32 (Hz, the alpha rhythm's centre in this
    sample), and one bool flag [n] per artifact kind: "blink", "muscle", "line_noise", "pop".
    electrode_offset: the std (uV) of a constant offset on every channel of every recording, its own for each
    (meta "offset" [n, 19]): the DC an unfiltered amplifier keeps, a fingerprint of the recording that says
    nothing about the state ("eeg-offsets": ELECTRODE_OFFSET_UV). 0 leaves the corpus as it is.
    Subjects and states are balanced (every subject has each state equally often when n is a
    multiple of 4 * subjects; within one sample otherwise), in shuffled order.
    The same seed gives the same tensors (bit-identical on CPU); ``device`` generates there.
    """
    _check(n, seed, subjects, length, fs, artifact_rate)
    if not (isinstance(electrode_offset, (int, float)) and 0 <= electrode_offset < math.inf):
        raise ValueError(f"load_eeg(electrode_offset=...): expected a std in uV >= 0, got {electrode_offset!r}; "
                         f"0 gives no offsets, {ELECTRODE_OFFSET_UV} is about the corpus's own std")
    dev = _device(device)
    g = torch.Generator(device=dev).manual_seed(seed)
    rand = lambda *shape: torch.rand(shape, generator=g, device=dev)    # noqa: E731
    randn = lambda *shape: torch.randn(shape, generator=g, device=dev)  # noqa: E731
    C, T, S, K = len(CHANNELS), length, subjects, len(_KINDS)
    freqs = torch.fft.rfftfreq(T, 1 / fs, device=dev)       # [F]
    t = torch.arange(T, device=dev) / fs                    # [T] seconds
    xy = CHANNEL_XY.to(dev)

    # Design: sample o goes to subject o % S and state (o % S + o // S) % 4, so every block of S
    # samples holds every subject and the states rotate: balanced for any n, exact when 4S | n.
    order = torch.randperm(n, generator=g, device=dev)
    subject = order % S
    y = (order % S + order // S) % len(STATES)

    # Subject signature: alpha peak, rhythm strengths, 1/f slope, gains and a little mixing.
    iaf = 8.5 + 3.5 * rand(S)                                               # [S] Hz
    kind_gain = torch.exp(_SUBJECT_JITTER * randn(S, K))                    # [S, K]
    slope = 1.2 + 0.8 * rand(S)                                             # [S] 1/f exponent
    amp = torch.exp(0.3 * randn(S, 1)) * torch.exp(0.15 * randn(S, C))      # [S, C] overall x channel
    mixing = torch.eye(C, device=dev) + 0.08 * randn(S, C, C)               # [S, C, C]
    peak_shift = randn(S, K) * torch.tensor(_PEAK_SPREAD, device=dev)       # [S, K] Hz

    background, smooth = _background(slope[subject], freqs, T, xy, g)                 # [n, C, T], [C, C]
    alpha_peak = iaf[subject] + _DROWSY_ALPHA_SHIFT * (y == STATES.index("drowsy"))     # [n]
    rhythms, topo = _rhythms(y, alpha_peak, kind_gain[subject], peak_shift[subject], freqs, T, xy, g)  # [n, R, T]

    # What the electrodes see: all sources through one per-subject lead field
    # (channel gains x a little mixing x [background smoothing | rhythm topographies]).
    lead = (amp[..., None] * mixing) @ torch.cat([smooth, topo], 1)                   # [S, C, C + R]
    x = torch.baddbmm(torch.bmm(lead[subject, :, :C], background), lead[subject, :, C:], rhythms)

    # Artifacts come last: everything above is drawn first, so artifact_rate=0 gives this very corpus,
    # clean, and a lower rate flags a subset of the samples a higher one flags.
    flags = _add_artifacts(x, artifact_rate, t, freqs, xy, fs, g)
    meta = {"subject": subject.long(), "alpha_peak": alpha_peak.float(), **flags}
    if electrode_offset:  # drawn last, so the corpus under the offsets is the one without them
        meta["offset"] = electrode_offset * randn(n, C)
        x += meta["offset"][..., None]
    return SignalDataset(x.float(), y, list(STATES), float(fs), meta, name="eeg", channels=list(CHANNELS))


def _add_artifacts(x: torch.Tensor, artifact_rate: float, t: torch.Tensor, freqs: torch.Tensor, xy: torch.Tensor,
                   fs: float, g: torch.Generator) -> dict[str, torch.Tensor]:
    """Add artifacts at the electrodes to x [n, C, T], in place, each kind independently of state, subject and
    the other kinds; -> one bool flag [n] per kind of ARTIFACTS, True where that kind was added."""
    draws = torch.rand((len(ARTIFACTS), len(x)), generator=g, device=x.device)
    flags = {}
    for (name, share), u in zip(ARTIFACTS.items(), draws):
        flags[name] = hit = u < artifact_rate * share
        if hit.any():
            idx = hit.nonzero().flatten()
            x[idx] += _artifact(name, len(idx), t, freqs, xy, fs, g)
    return flags


def _artifact(kind: str, m: int, t: torch.Tensor, freqs: torch.Tensor, xy: torch.Tensor, fs: float,
              g: torch.Generator) -> torch.Tensor:
    """[m, C, T] additive artifact of ``kind`` for m samples."""
    dev, T, C = t.device, len(t), len(xy)
    rand = lambda *shape: torch.rand(shape, generator=g, device=dev)    # noqa: E731
    dur = T / fs
    if kind == "blink":
        # One or two ~0.3 s positive bumps, strongest over the eyes, fading back over the scalp.
        at = 0.3 + (dur - 0.6) * rand(m, 2, 1)
        width = 0.08 + 0.05 * rand(m, 2, 1)
        size = (40 + 50 * rand(m, 2, 1)) * torch.cat([torch.ones(m, 1, 1, device=dev),
                                                     (rand(m, 1, 1) < 0.5).float()], 1)
        shape = (size * torch.exp(-0.5 * ((t - at) / width) ** 2)).sum(1)            # [m, T]
        topo = _topography(torch.tensor([0.0, 0.9], device=dev), 0.3)
        return (topo / topo.max())[None, :, None] * shape[:, None, :]
    if kind == "muscle":
        # Broadband >20 Hz noise in a 0.3-1 s burst, over temporal (lateral) channels.
        hf = _noise(_unit((freqs > 20).float(), T), (m, C, T), g)
        at, width = dur * rand(m, 1, 1), 0.3 + 0.7 * rand(m, 1, 1)
        burst = torch.exp(-0.5 * ((t - at) / width) ** 2)
        topo = torch.exp(-0.5 * ((xy[:, 0].abs() - 0.8) / 0.2) ** 2)
        return (10 + 15 * rand(m, 1, 1)) * topo[None, :, None] * burst * hf
    if kind == "line_noise":
        # 50 Hz mains pick-up, random phase, a different strength on every electrode.
        phase = 2 * math.pi * rand(m, 1, 1)
        gain = (2 + 4 * rand(m, 1, 1)) * (0.5 + rand(m, C, 1))
        return gain * torch.sin(2 * math.pi * 50.0 * t + phase)
    if kind == "pop":
        # Electrode pop: a sudden step on one channel that decays exponentially (tau 0.1-0.4 s).
        at = dur * (0.1 + 0.7 * rand(m, 1))
        tau = 0.1 + 0.3 * rand(m, 1)
        sign = torch.where(rand(m, 1) < 0.5, -1.0, 1.0)
        step = sign * (40 + 60 * rand(m, 1)) * torch.exp(-(t - at).clamp_min(0) / tau) * (t >= at)
        channel = torch.randint(C, (m,), generator=g, device=dev)
        return torch.nn.functional.one_hot(channel, C).float()[:, :, None] * step[:, None, :]
    raise ValueError(f"unknown artifact kind {kind!r}; known: {list(ARTIFACTS)}")
