"""The recipes of the networks shipped with the package, and the network a chapter loads.

The weights live with the architectures (:mod:`spline_utils.networks.pretrained`); how each
network was trained lives here, with the training code it calls: the toy MLP by
:func:`~spline_utils.experiments.training.train_classifier` on the X-shaped points, the FCNet by
:func:`~spline_utils.studies.fcnet_study.train_fcnet` and the digits ConvNet by
:func:`~spline_utils.studies.digits_study.train_digits_convnet` (the settings are tabulated in
:mod:`spline_utils.networks.pretrained`).

* :func:`load_network` -- what a chapter calls: the shipped weights, or the network trained
  afresh when ``retrain=True`` or ``SPLINE_BOOK_RETRAIN=1``;
* :func:`train_network` -- run a network's recipe;
* :func:`write_shipped` -- retrain and rewrite the shipped files
  (``python -m spline_utils.networks.pretrained``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ..experiments.data import digits_tensors, x_shaped_data
from ..experiments.training import accuracy, train_classifier
from ..networks.pretrained import (
    WEIGHTS_DIR,
    check_name,
    retrain_requested,
    shipped_network,
)
from ..records import device_name, package_versions, write_json
from ..seeding import seed_everything
from .digits_study import train_digits_convnet
from .fcnet_study import train_fcnet, x_data_split

__all__ = ["RECIPES", "Recipe", "load_network", "train_network", "write_shipped"]


@dataclass(frozen=True)
class Recipe:
    """How a shipped network was made.

    train: () -> trained model (it seeds itself).
    evaluate: (model) -> accuracy on the network's test (or training) data, a float in [0, 1].
    """

    train: Callable[[], nn.Module]
    evaluate: Callable[[nn.Module], float]


def _dtype(model: nn.Module) -> torch.dtype:
    return next(model.parameters()).dtype


def _toy_train() -> nn.Module:
    x, y = x_shaped_data(n=2000, seed=0)
    seed_everything(0)
    model = check_name("toy_mlp").build()
    train_classifier(model, x, y, epochs=200, lr=0.05, batch_size=64, seed=0, progress=False)
    return model


def _toy_evaluate(model: nn.Module) -> float:
    x, y = x_shaped_data(n=2000, seed=0)
    return accuracy(model, x.to(_dtype(model)), y)


def _fcnet_train() -> nn.Module:
    x_tr, y_tr, _, _ = x_data_split(seed=0)
    return train_fcnet(20, x_tr, y_tr, seed=0)


def _fcnet_evaluate(model: nn.Module) -> float:
    _, _, x_te, y_te = x_data_split(seed=0)
    return accuracy(model, x_te.to(_dtype(model)), y_te)


def _digits_train() -> nn.Module:
    return train_digits_convnet(seed=0, channels=(8, 16), epochs=30)


def _digits_evaluate(model: nn.Module) -> float:
    _, _, x_te, y_te = digits_tensors()
    return accuracy(model, x_te.to(_dtype(model)), y_te)


#: the recipe of every shipped network, by its name in
#: :data:`spline_utils.networks.pretrained.NETWORKS`
RECIPES: dict[str, Recipe] = {
    "toy_mlp": Recipe(_toy_train, _toy_evaluate),
    "fcnet": Recipe(_fcnet_train, _fcnet_evaluate),
    "digits_convnet": Recipe(_digits_train, _digits_evaluate),
}


def train_network(name: str) -> nn.Module:
    """Train network ``name`` afresh with its recipe (seconds to a minute on a CPU); eval mode.

    The result reaches the quality of the shipped network but, on another processor, not its
    exact bits (see :mod:`spline_utils.networks.pretrained`)."""
    check_name(name)
    return RECIPES[name].train().eval()


def load_network(name: str, retrain: bool | None = None) -> nn.Module:
    """The shipped trained network ``name`` (float32, eval mode), identical on every machine.

    Args:
        name: one of ``"toy_mlp"``, ``"fcnet"``, ``"digits_convnet"`` (see the table of
            :mod:`spline_utils.networks.pretrained`).
        retrain: ``True`` trains it afresh (:func:`train_network`) instead of loading the
            shipped weights; ``None`` (default) reads ``SPLINE_BOOK_RETRAIN``.

    Returns:
        The model, in eval mode.

    Raises:
        ValueError: an unknown ``name``.
        FileNotFoundError: the weight file is missing (a broken installation).

    Example:
        >>> net = su.load_network("toy_mlp")
        >>> [m.out_features for m in net if isinstance(m, torch.nn.Linear)]
        [6, 6, 1]
        >>> net.training, next(net.parameters()).dtype
        (False, torch.float32)
    """
    check_name(name)
    if retrain is None:
        retrain = retrain_requested()
    if retrain:
        return train_network(name)
    return shipped_network(name)


def write_shipped(names=None, folder: Path | None = None) -> dict[str, dict]:
    """Retrain the networks ``names`` (default: all) and write their weights and records to
    ``folder`` (default: the package's weight folder). Returns the records."""
    folder = WEIGHTS_DIR if folder is None else Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    records = {}
    for name in names or sorted(RECIPES):
        spec = check_name(name)
        model = train_network(name)
        path = folder / f"{name}.pt"
        torch.save(model.state_dict(), path)
        records[name] = {
            "network": name,
            "recipe": spec.recipe,
            "scored_on": spec.scored_on,
            "accuracy": round(RECIPES[name].evaluate(model), 4),
            "bytes": path.stat().st_size,
            "trained_on": device_name("cpu"),
            "versions": package_versions(),
        }
        write_json(folder / f"{name}.json", records[name])
    return records


def main(argv: list[str] | None = None) -> None:
    """``python -m spline_utils.networks.pretrained [name ...]``: retrain and rewrite the
    shipped files, printing each network's accuracy and file size."""
    names = sys.argv[1:] if argv is None else argv
    for name, rec in write_shipped(names or None).items():
        print(f"{name}: {rec['scored_on']} {rec['accuracy']:.4f}, {rec['bytes']} bytes")
