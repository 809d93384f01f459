"""The small trained networks that the theory chapters study, shipped with the package.

Training on a CPU is not bit-reproducible across machines: MKL, oneDNN and ATen pick different
float kernels on different processors, so the same seed gives slightly different weights, and
everything counted from them (regions, turning points) differs too. The theory chapters
therefore *load* their networks from weight files shipped with the package (a few kilobytes
each), so every reader studies the same network. This module holds the architectures, the
weight files and their records; the recipes that trained them live with the training code
(:mod:`spline_utils.studies.shipped_networks`, which also retrains them on request):

* ``su.load_network(name)`` -- the shipped network (``retrain=True``, or the environment
  variable ``SPLINE_BOOK_RETRAIN=1``, trains it afresh instead, with the recipe below);
* :func:`shipped_network` -- the shipped weights alone, never retrained;
* ``python -m spline_utils.networks.pretrained`` -- retrain every network and rewrite the
  shipped files (weights plus a JSON record of the recipe, the accuracy reached and the versions
  used).

==================  ===================================================================
name                network and recipe
==================  ===================================================================
``toy_mlp``         ``2 -> 6 -> 6 -> 1`` ReLU MLP (the paper's Fig. 1a), trained on 2,000
                    X-shaped points: SGD lr 0.05, momentum 0.9, batch 64, 200 epochs, seed 0
``fcnet``           ``2 -> 20 -> 2`` FCNet in the authors' setting: 80 % of the X-shaped
                    points, plain SGD lr 0.01, batch 256, 400 epochs, seed 0
``digits_convnet``  two ``conv-BN-ReLU-maxpool`` stages (8, 16 channels) on scikit-learn's
                    digits (75 % split): SGD lr 0.05, momentum 0.9, batch 128, 30 epochs, seed 0
==================  ===================================================================
"""

from __future__ import annotations

import json
import os
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from .models import digits_convnet, make_mlp

__all__ = [
    "NETWORKS",
    "RETRAIN_VARIABLE",
    "ShippedNetwork",
    "describe",
    "record",
    "retrain_requested",
    "shipped_network",
    "weights_path",
]

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
RETRAIN_VARIABLE = "SPLINE_BOOK_RETRAIN"


@dataclass(frozen=True)
class ShippedNetwork:
    """One shipped network: its architecture and how it was made.

    build: () -> untrained model (architecture only).
    recipe: one line describing the training, shown by the chapters.
    scored_on: what the recorded accuracy measures ("training accuracy", "test accuracy").

    The recipes themselves are :data:`spline_utils.studies.shipped_networks.RECIPES`.
    """

    build: Callable[[], nn.Module]
    recipe: str
    scored_on: str


#: the shipped networks by name (the table of the module doc)
NETWORKS: dict[str, ShippedNetwork] = {
    "toy_mlp": ShippedNetwork(
        lambda: make_mlp([2, 6, 6, 1]),
        "2-6-6-1 ReLU MLP; 2,000 X-shaped points; SGD lr 0.05, momentum 0.9, batch 64, 200 epochs, seed 0",
        "training accuracy",
    ),
    "fcnet": ShippedNetwork(
        lambda: make_mlp([2, 20, 2]),
        "2-20-2 ReLU FCNet; 1,600 X-shaped points; SGD lr 0.01, batch 256, 400 epochs, seed 0",
        "test accuracy",
    ),
    "digits_convnet": ShippedNetwork(
        lambda: digits_convnet((8, 16)),
        "conv(8)-BN-ReLU-pool, conv(16)-BN-ReLU-pool, linear; scikit-learn digits; "
        "SGD lr 0.05, momentum 0.9, batch 128, 30 epochs, seed 0",
        "test accuracy",
    ),
}


def check_name(name: str) -> ShippedNetwork:
    """The :class:`ShippedNetwork` called ``name``; ``ValueError`` listing the names otherwise."""
    if name not in NETWORKS:
        raise ValueError(f"name must be one of {sorted(NETWORKS)}, got {name!r}")
    return NETWORKS[name]


def weights_path(name: str) -> Path:
    """The shipped weight file of network ``name`` (a ``state_dict`` saved by ``torch.save``)."""
    check_name(name)
    return WEIGHTS_DIR / f"{name}.pt"


def record(name: str) -> dict:
    """The JSON record shipped with network ``name``: recipe, accuracy, versions, file size."""
    check_name(name)
    path = WEIGHTS_DIR / f"{name}.json"
    if not path.exists():
        raise FileNotFoundError(
            f"no record for network {name!r} at {path}; run python -m spline_utils.networks.pretrained"
        )
    return json.loads(path.read_text())


def describe(name: str, width: int = 88) -> str:
    """How network ``name`` was made and how good it is, wrapped to ``width`` characters.

    Args:
        name: one of ``"toy_mlp"``, ``"fcnet"``, ``"digits_convnet"``.
        width: the longest line, in characters.

    Returns:
        The recipe and the accuracy recorded when the shipped weights were written (the JSON
        record next to them).

    Raises:
        ValueError: an unknown ``name``.
        FileNotFoundError: the record is missing (a broken installation).

    Example:
        >>> print(su.pretrained.describe("toy_mlp"))
        toy_mlp: 2-6-6-1 ReLU MLP; 2,000 X-shaped points; SGD lr 0.05, momentum 0.9, batch 64,
          200 epochs, seed 0; training accuracy 0.994
    """
    spec, rec = check_name(name), record(name)
    text = f"{name}: {spec.recipe}; {spec.scored_on} {rec['accuracy']:.3f}"
    return textwrap.fill(text, width=width, subsequent_indent="  ")


def retrain_requested() -> bool:
    """``True`` when ``SPLINE_BOOK_RETRAIN`` is set to 1 / true / yes."""
    value = os.environ.get(RETRAIN_VARIABLE, "").strip().lower()
    if value in ("", "0", "false", "no"):
        return False
    if value in ("1", "true", "yes"):
        return True
    raise ValueError(
        f"{RETRAIN_VARIABLE}={os.environ[RETRAIN_VARIABLE]!r}: expected 1 / true / yes or 0 / false / no"
    )


def shipped_network(name: str) -> nn.Module:
    """The shipped trained network ``name`` from its weight file (float32, eval mode), identical
    on every machine; never retrained (``su.load_network`` retrains on request).

    Raises ``ValueError`` for an unknown ``name`` and ``FileNotFoundError`` when the weight file
    is missing (a broken installation)."""
    spec = check_name(name)
    path = weights_path(name)
    if not path.exists():
        raise FileNotFoundError(
            f"the shipped weights of {name!r} are missing ({path}); reinstall the package, or "
            f"set {RETRAIN_VARIABLE}=1 to train the network instead"
        )
    model = spec.build()
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model.eval()


if __name__ == "__main__":  # python -m spline_utils.networks.pretrained [name ...]
    # retraining is the training code's job: this script only keeps its documented command
    from spline_utils.studies.shipped_networks import main

    main()
