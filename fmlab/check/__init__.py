"""Checks for the course-lab exercises: ``fmlab.check.<exercise>(your_function)``.

Each runs your function against fmlab's own version on a few random cases (shapes, edge cases, gradients)
and prints "✓ <exercise>: n cases passed", or raises CheckFailed (an AssertionError) with a sentence that
says what differs and how to fix it, and for the common wrong answers what was done (an inverted mask, an
off-by-one). A function that still raises NotImplementedError gets a NotImplementedError back ("write the
function first"), so a student notebook stops at its first unwritten exercise. Either shows as its message
alone in a notebook, without fmlab's frames (harness.py says how). ``hidden_answer`` runs the lines a student
notebook hides because they would give an answer away (see fmlab.course.labs).

A check is named after the exercise, and an exercise is the lesson's small version of a package function, so the
two can differ in shape: the exercise ``random_token_mask(batch, tokens, ratio)`` masks one row of tokens and
returns ``masked`` [B, N]; ``fmlab.masking.random_token_mask(batch, channels, patches, ratio)`` masks every
channel's patches and returns ``(keep, masked)``. ``masked_mse`` is ``fmlab.pretrain.mae.masked_mse`` exactly.

| notebook | exercise |
|---|---|
| 00_data | log_band_power |
| 01_mae | random_token_mask, masked_mse |
| 02_masked_spectrum | spectrum_target |
| 03_contrastive | nt_xent_loss |
| 04_jepa | ema_step |
| 05_latent_spaces | rankme |
| 06_adaptation | lora_forward, prepend_prompts |
| 09_foundation | mean_max_pool |
| 10_scaling | compute_optimal |
"""
from .adaptation import lora_forward, prepend_prompts
from .harness import CheckFailed
from .features import mean_max_pool, rankme
from .hidden import hidden_answer
from .masked import masked_mse, random_token_mask, spectrum_target
from .objectives import ema_step, nt_xent_loss
from .scaling import compute_optimal
from .spectral import log_band_power

EXERCISES = ("log_band_power", "random_token_mask", "masked_mse", "spectrum_target", "nt_xent_loss", "ema_step",
             "rankme", "lora_forward", "prepend_prompts", "mean_max_pool", "compute_optimal")
__all__ = ["CheckFailed", "EXERCISES", "hidden_answer", *EXERCISES]
