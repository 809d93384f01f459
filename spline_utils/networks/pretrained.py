"""The small trained networks that the theory chapters study, shipped with the package.

Training on a CPU is not bit-reproducible across machines: MKL, oneDNN and ATen pick different
float kernels on different processors, so the same seed gives slightly different weights, and
everything counted from them (regions, turning points) differs too. The theory chapters
therefore *load* their networks from weight files shipped with the package (a few kilobytes
each), so every reader studies the same network. Each network keeps the recipe that made it:

* ``load_network(name)`` -- the shipped network (``retrain=True``, or the environment variable
  ``SPLINE_BOOK_RETRAIN=1``, trains it afresh instead, with the recipe below);
* ``train_network(name)`` -- run the recipe (what ``retrain`` does);
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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
RETRAIN_VARIABLE = "SPLINE_BOOK_RETRAIN"


@dataclass(frozen=True)
class ShippedNetwork:
    """One shipped network: how to build it, how to train it, and on which data it is scored.

    build: () -> untrained model (architecture only).
    train: () -> trained model (the recipe; it seeds itself).
    evaluate: (model) -> accuracy on the network's test (or training) data, a float in [0, 1].
    recipe: one line describing the training, shown by the chapters.
    scored_on: what ``evaluate`` measures ("training accuracy", "test accuracy").
    """

    build: Callable[[], nn.Module]
    train: Callable[[], nn.Module]
    evaluate: Callable[[nn.Module], float]
    recipe: str
    scored_on: str


def _toy_data():
    from ..experiments.data import x_shaped_data

    return x_shaped_data(n=2000, seed=0)


def _toy_build() -> nn.Module:
    from .models import make_mlp

    return make_mlp([2, 6, 6, 1])


def _toy_train() -> nn.Module:
    from ..experiments.training import train_classifier
    from ..seeding import seed_everything

    x, y = _toy_data()
    seed_everything(0)
    model = _toy_build()
    train_classifier(model, x, y, epochs=200, lr=0.05, batch_size=64, seed=0, progress=False)
    return model


def _toy_evaluate(model: nn.Module) -> float:
    from ..experiments.training import accuracy

    x, y = _toy_data()
    return accuracy(model, x.to(_dtype(model)), y)


def _fcnet_data():
    from ..experiments.fcnet_study import x_data_split

    return x_data_split(seed=0)


def _fcnet_build() -> nn.Module:
    from .models import make_mlp

    return make_mlp([2, 20, 2])


def _fcnet_train() -> nn.Module:
    from ..experiments.fcnet_study import train_fcnet

    x_tr, y_tr, _, _ = _fcnet_data()
    return train_fcnet(20, x_tr, y_tr, seed=0)


def _fcnet_evaluate(model: nn.Module) -> float:
    from ..experiments.training import accuracy

    _, _, x_te, y_te = _fcnet_data()
    return accuracy(model, x_te.to(_dtype(model)), y_te)


def _digits_build() -> nn.Module:
    from .models import digits_convnet

    return digits_convnet((8, 16))


def _digits_train() -> nn.Module:
    from ..experiments.digits_study import train_digits_convnet

    return train_digits_convnet(seed=0, channels=(8, 16), epochs=30)


def _digits_evaluate(model: nn.Module) -> float:
    from ..experiments.data import digits_tensors
    from ..experiments.training import accuracy

    _, _, x_te, y_te = digits_tensors()
    return accuracy(model, x_te.to(_dtype(model)), y_te)


def _dtype(model: nn.Module) -> torch.dtype:
    return next(model.parameters()).dtype


NETWORKS: dict[str, ShippedNetwork] = {
    "toy_mlp": ShippedNetwork(
        _toy_build,
        _toy_train,
        _toy_evaluate,
        "2-6-6-1 ReLU MLP; 2,000 X-shaped points; SGD lr 0.05, momentum 0.9, batch 64, 200 epochs, seed 0",
        "training accuracy",
    ),
    "fcnet": ShippedNetwork(
        _fcnet_build,
        _fcnet_train,
        _fcnet_evaluate,
        "2-20-2 ReLU FCNet; 1,600 X-shaped points; SGD lr 0.01, batch 256, 400 epochs, seed 0",
        "test accuracy",
    ),
    "digits_convnet": ShippedNetwork(
        _digits_build,
        _digits_train,
        _digits_evaluate,
        "conv(8)-BN-ReLU-pool, conv(16)-BN-ReLU-pool, linear; scikit-learn digits; "
        "SGD lr 0.05, momentum 0.9, batch 128, 30 epochs, seed 0",
        "test accuracy",
    ),
}


def _check_name(name: str) -> ShippedNetwork:
    if name not in NETWORKS:
        raise ValueError(f"name must be one of {sorted(NETWORKS)}, got {name!r}")
    return NETWORKS[name]


def weights_path(name: str) -> Path:
    """The shipped weight file of network ``name`` (a ``state_dict`` saved by ``torch.save``)."""
    _check_name(name)
    return WEIGHTS_DIR / f"{name}.pt"


def record(name: str) -> dict:
    """The JSON record shipped with network ``name``: recipe, accuracy, versions, file size."""
    _check_name(name)
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
    import textwrap

    spec, rec = _check_name(name), record(name)
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


def train_network(name: str) -> nn.Module:
    """Train network ``name`` afresh with its recipe (seconds to a minute on a CPU); eval mode.

    The result reaches the quality of the shipped network but, on another processor, not its
    exact bits (see the module docstring)."""
    return _check_name(name).train().eval()


def load_network(name: str, retrain: bool | None = None) -> nn.Module:
    """The shipped trained network ``name`` (float32, eval mode), identical on every machine.

    Args:
        name: one of ``"toy_mlp"``, ``"fcnet"``, ``"digits_convnet"`` (see the module table).
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
    spec = _check_name(name)
    if retrain is None:
        retrain = retrain_requested()
    if retrain:
        return train_network(name)
    path = weights_path(name)
    if not path.exists():
        raise FileNotFoundError(
            f"the shipped weights of {name!r} are missing ({path}); reinstall the package, or "
            f"set {RETRAIN_VARIABLE}=1 to train the network instead"
        )
    model = spec.build()
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model.eval()


def write_shipped(names=None, folder: Path | None = None) -> dict[str, dict]:
    """Retrain the networks ``names`` (default: all) and write their weights and records to
    ``folder`` (default: the package's weight folder). Returns the records."""
    from ..experiments.provenance import device_name, package_versions, write_json

    folder = WEIGHTS_DIR if folder is None else Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    records = {}
    for name in names or sorted(NETWORKS):
        spec = _check_name(name)
        model = train_network(name)
        path = folder / f"{name}.pt"
        torch.save(model.state_dict(), path)
        records[name] = {
            "network": name,
            "recipe": spec.recipe,
            "scored_on": spec.scored_on,
            "accuracy": round(spec.evaluate(model), 4),
            "bytes": path.stat().st_size,
            "trained_on": device_name("cpu"),
            "versions": package_versions(),
        }
        write_json(folder / f"{name}.json", records[name])
    return records


if __name__ == "__main__":  # python -m spline_utils.networks.pretrained [name ...]
    import sys

    for name, rec in write_shipped(sys.argv[1:] or None).items():
        print(f"{name}: {rec['scored_on']} {rec['accuracy']:.4f}, {rec['bytes']} bytes")
