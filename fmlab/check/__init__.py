"""Checks for the course-lab exercises: ``fmlab.check.<exercise>(your_function)``.

Each runs your function against fmlab's own version on a few random cases (shapes, edge cases, gradients)
and prints "✓ <exercise>: n cases passed", or raises CheckFailed (an AssertionError) with a sentence that
says what differs and how to fix it. A function that still raises NotImplementedError gets a
NotImplementedError back ("write the function first"), so a student notebook stops at its first
unwritten exercise.

| notebook | exercise |
|---|---|
| 01_mae | random_token_mask, masked_mse |
| 02_masked_spectrum | spectrum_target |
| 03_contrastive | nt_xent_loss |
| 04_jepa | ema_step |
| 06_adaptation | lora_forward, prepend_prompts |
"""
from .adaptation import lora_forward, prepend_prompts
from .core import CheckFailed
from .masked import masked_mse, random_token_mask, spectrum_target
from .objectives import ema_step, nt_xent_loss

EXERCISES = ("random_token_mask", "masked_mse", "spectrum_target", "nt_xent_loss", "ema_step", "lora_forward",
             "prepend_prompts")
__all__ = ["CheckFailed", "EXERCISES", *EXERCISES]
