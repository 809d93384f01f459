"""The chapters' studies: small experiments run inside a chapter, and the shipped networks.

* :mod:`.fcnet_study`      -- node pruning of the FCNet on the X-shaped data (Chapters 3 and 5);
* :mod:`.digits_study`     -- channel pruning of the digits ConvNet by every method (Chapter 5);
* :mod:`.shipped_networks` -- the recipes of the trained networks the theory chapters load, and
  :func:`~.shipped_networks.load_network`.

Their statistics (paired differences by seed, t-based intervals, Holm) come from the book's one
statistics module, :mod:`spline_utils.statistics`.
"""

from . import digits_study, fcnet_study
from .digits_study import DIGITS_METHODS, digits_pruning_study, spline_reach_ablation
from .fcnet_study import fcnet_pruning_study, x_data_split
from .shipped_networks import load_network, train_network

__all__ = [
    "DIGITS_METHODS",
    "digits_pruning_study",
    "digits_study",
    "fcnet_pruning_study",
    "fcnet_study",
    "load_network",
    "spline_reach_ablation",
    "train_network",
    "x_data_split",
]
