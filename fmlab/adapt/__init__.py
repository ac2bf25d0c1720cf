"""Adapting a pretrained encoder to a labelled task."""
from .base import Classifier

__all__ = ["Classifier"]
