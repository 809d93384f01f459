"""The FCNet pruning study of the paper's Fig. 2, on the X-shaped 2-D data.

Setting of the authors' FCNet code (see the book's reference notes): 2,000 points uniform on
[-5, 5]^2, a random 80/20 split, ``Linear(2, H) -> ReLU -> Linear(H, 2)``, cross-entropy, plain SGD
with learning rate 0.01 and batch 256 for 400 epochs. Here the trained net's hidden units are
pruned by a node-pruning rule (:func:`~spline_utils.pruning.merging.prune_units`): by default
``spline-merge`` (Chapter 3's greedy delete-or-merge by the spline redundancy bounds),
``magnitude-l2`` (the smallest L2 norms of incoming rows, as in the authors' FCNet code) and
``random``; ``spline-delete`` (the spline rule without merging) and ``magnitude`` (L1 norms) are
available too. The pruned units are physically removed and the smaller net is fine-tuned.

Before issue 14 the table called ``spline-merge`` "spline" and ``magnitude-l2`` "magnitude"; the
rules, and so the results, are unchanged.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import pandas as pd
import torch

from ..checks import check_choice, check_fraction, check_int, check_sequence
from ..experiments.data import x_shaped_data
from ..experiments.progress import progress_bar
from ..experiments.training import accuracy, train_classifier
from ..networks.models import make_mlp
from ..pruning.merging import node_criteria, prune_units, remove_pruned_units
from ..seeding import seed_everything

__all__ = [
    "FCNET_SGD",
    "REINITIALISATIONS",
    "epoch_seconds",
    "fcnet_pruning_study",
    "from_scratch",
    "initial_fcnet",
    "prune_and_finetune",
    "reinitialised",
    "train_fcnet",
    "x_data_split",
]

#: the authors' FCNet training setting
FCNET_SGD = {"lr": 0.01, "batch_size": 256, "momentum": 0.0}


def x_data_split(n: int = 2000, seed: int = 0, train_fraction: float = 0.8):
    """The X-shaped data split at random: ``(x_train, y_train, x_test, y_test)``."""
    train_fraction = check_fraction("train_fraction", train_fraction, low_open=True, high_open=True)
    n = check_int("n", n, 2)
    x, y = x_shaped_data(n=n, seed=seed)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    cut = int(round(train_fraction * n))
    if not 1 <= cut <= n - 1:
        raise ValueError(
            f"train_fraction={train_fraction} of n={n} points leaves an empty train or test set"
        )
    return x[order[:cut]], y[order[:cut]], x[order[cut:]], y[order[cut:]]


def initial_fcnet(width: int, seed: int = 0) -> torch.nn.Module:
    """The untrained ``2 -> width -> 2`` FCNet that :func:`train_fcnet` starts from (the same
    seeded initialisation)."""
    seed_everything(check_int("seed", seed, 0))
    return make_mlp([2, check_int("width", width, 1), 2])


def train_fcnet(width: int, x, y, epochs: int = 400, seed: int = 0) -> torch.nn.Module:
    """A ``2 -> width -> 2`` ReLU FCNet trained in the authors' setting (seeded init and order)."""
    width = check_int("width", width, 1)
    seed_everything(seed)
    net = make_mlp([2, width, 2])
    train_classifier(net, x, y, epochs=epochs, seed=seed, progress=False, **FCNET_SGD)
    return net


def prune_and_finetune(
    net, ratio: float, criterion: str, data, epochs: int = 100, seed: int = 0
) -> dict:
    """Prune the hidden layer of a trained FCNet, remove the pruned units, fine-tune.

    criterion: a name of :func:`~spline_utils.pruning.merging.node_criteria`.
    data: ``(x_train, y_train, x_test, y_test)``. Returns a dict with the kept ``width``, test
    accuracy right after pruning (``acc_pruned``) and after fine-tuning (``acc_finetuned``), and
    the fine-tuning wall time per epoch in seconds (``s_per_epoch``).
    """
    if not isinstance(data, (tuple, list)) or len(data) != 4:
        raise ValueError("data must be (x_train, y_train, x_test, y_test), as from x_data_split")
    epochs = check_int("epochs", epochs, 1)
    x_tr, y_tr, x_te, y_te = data
    result = prune_units(net, "0", ratio, criterion=criterion, x=x_tr, seed=seed)
    small = remove_pruned_units(result.model, "0")
    acc_pruned = accuracy(small, x_te, y_te)
    start = time.perf_counter()
    train_classifier(small, x_tr, y_tr, epochs=epochs, seed=seed, progress=False, **FCNET_SGD)
    seconds = (time.perf_counter() - start) / epochs
    return {
        "width": small[0].out_features,
        "acc_pruned": acc_pruned,
        "acc_finetuned": accuracy(small, x_te, y_te),
        "s_per_epoch": seconds,
        "model": small,
    }


def fcnet_pruning_study(
    widths: Sequence[int] = (20, 100),
    ratios: Sequence[float] = (0.0, 0.2, 0.4, 0.6, 0.8, 0.9, 0.95),
    criteria: Sequence[str] = ("spline-merge", "magnitude-l2", "random"),
    seeds: Sequence[int] = range(5),
    train_epochs: int = 400,
    finetune_epochs: int = 100,
    progress: bool = True,
):
    """Run the study; returns ``(table, models)``.

    table: one row per (width, seed, criterion, ratio) with the dense accuracy and the outputs of
    :func:`prune_and_finetune`; models: ``{(width, seed, criterion, ratio): fine-tuned net}``,
    plus the trained dense net and its initialisation under ``(width, seed, "dense", 0.0)`` and
    ``(width, seed, "initial", 0.0)`` (for :func:`reinitialised`).
    criteria: names of :func:`~spline_utils.pruning.merging.node_criteria` that need no
    BatchNorm (the FCNet has none): ``spline-merge``, ``spline-delete``, ``random``,
    ``magnitude``, ``magnitude-l2``.
    The data split is seeded by the seed as well, so seeds vary data, initialisation and order.
    """
    widths = check_sequence("widths", widths, lambda n, v: check_int(n, v, 1))
    ratios = check_sequence("ratios", ratios, check_fraction)
    names = node_criteria(batch_norm=False)
    criteria = check_sequence("criteria", criteria, lambda n, c: check_choice(n, c, names))
    seeds = check_sequence("seeds", seeds, lambda n, v: check_int(n, v, 0))
    train_epochs = check_int("train_epochs", train_epochs, 1)
    finetune_epochs = check_int("finetune_epochs", finetune_epochs, 1)
    rows, models = [], {}
    jobs = [(w, s) for w in widths for s in seeds]
    for width, seed in progress_bar(jobs, desc="FCNet study", disable=not progress):
        data = x_data_split(seed=seed)
        models[(width, seed, "initial", 0.0)] = initial_fcnet(width, seed)
        dense = train_fcnet(width, data[0], data[1], epochs=train_epochs, seed=seed)
        models[(width, seed, "dense", 0.0)] = dense
        dense_acc = accuracy(dense, data[2], data[3])
        for criterion in criteria:
            for ratio in ratios:
                out = prune_and_finetune(
                    dense, ratio, criterion, data, epochs=finetune_epochs, seed=seed
                )
                models[(width, seed, criterion, ratio)] = out.pop("model")
                rows.append(
                    {
                        "H": width,
                        "seed": seed,
                        "criterion": criterion,
                        "ratio": ratio,
                        "acc_dense": dense_acc,
                        **out,
                    }
                )
    return pd.DataFrame(rows), models


def from_scratch(width: int, seeds: Sequence[int] = range(5), epochs: int = 500) -> pd.DataFrame:
    """The other side of the "yin and yang": a ``2 -> width -> 2`` net trained from random
    initialisation for ``epochs`` (default: the 400 + 100 epochs the pruned nets get).
    One row per seed with its test accuracy."""
    width = check_int("width", width, 1)
    seeds = check_sequence("seeds", seeds, lambda n, v: check_int(n, v, 0))
    epochs = check_int("epochs", epochs, 1)
    rows = []
    for seed in seeds:
        x_tr, y_tr, x_te, y_te = x_data_split(seed=seed)
        net = train_fcnet(width, x_tr, y_tr, epochs=epochs, seed=seed)
        rows.append({"width": width, "seed": seed, "acc": accuracy(net, x_te, y_te)})
    return pd.DataFrame(rows)


#: the re-initialisations of the authors' FCNet lottery code (``FCNet/Lottery_Utilities.py``):
#: "rewind" = the survivors' own initial weights (the lottery ticket), "xavier" = N(0, 1/fan_in)
#: weights and zero biases, "gaussian" = N(0, 0.1^2) weights and biases
REINITIALISATIONS = ("rewind", "xavier", "gaussian")


def reinitialised(
    dense: torch.nn.Module,
    initial: torch.nn.Module,
    ratio: float,
    init: str,
    data,
    epochs: int = 500,
    seed: int = 0,
) -> dict:
    """The lottery-ticket side of the "yin and yang": keep the hidden units of a trained FCNet
    that magnitude pruning (``magnitude-l2``, the authors' lottery code) keeps at ``ratio``,
    re-initialise them by ``init`` (:data:`REINITIALISATIONS`) and train the small network from
    there for ``epochs``. Returns ``{"width", "acc"}`` (test accuracy)."""
    init = check_choice("init", init, REINITIALISATIONS)
    epochs = check_int("epochs", epochs, 1)
    x_tr, y_tr, x_te, y_te = data
    pruned = prune_units(dense, "0", ratio, criterion="magnitude-l2", x=x_tr, seed=seed).pruned
    keep = [k for k in range(dense[0].out_features) if k not in set(pruned)]
    seed_everything(seed)
    small = make_mlp([2, len(keep), 2])
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        if init == "rewind":
            small[0].weight.copy_(initial[0].weight[keep])
            small[0].bias.copy_(initial[0].bias[keep])
            small[2].weight.copy_(initial[2].weight[:, keep])
            small[2].bias.copy_(initial[2].bias)
        else:
            for layer in (small[0], small[2]):
                std = layer.in_features**-0.5 if init == "xavier" else 0.1
                layer.weight.normal_(0.0, std, generator=generator)
                if init == "xavier":
                    layer.bias.zero_()
                else:
                    layer.bias.normal_(0.0, 0.1, generator=generator)
    train_classifier(small, x_tr, y_tr, epochs=epochs, seed=seed, progress=False, **FCNET_SGD)
    return {"width": len(keep), "acc": accuracy(small, x_te, y_te)}


def epoch_seconds(widths: Sequence[int], epochs: int = 20, warmup: int = 3, repeats: int = 3):
    """Measured seconds per training epoch of ``2 -> width -> 2`` FCNets on the X-shaped data
    (1,600 points, the authors' SGD setting), after ``warmup`` epochs, the best of ``repeats``
    runs of ``epochs``: one row per width."""
    widths = check_sequence("widths", widths, lambda n, v: check_int(n, v, 1))
    epochs, warmup = check_int("epochs", epochs, 1), check_int("warmup", warmup, 0)
    repeats = check_int("repeats", repeats, 1)
    x_tr, y_tr, _, _ = x_data_split(seed=0)
    rows = []
    for width in widths:
        net = initial_fcnet(width, 0)
        if warmup:
            train_classifier(net, x_tr, y_tr, epochs=warmup, progress=False, **FCNET_SGD)
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            train_classifier(net, x_tr, y_tr, epochs=epochs, progress=False, **FCNET_SGD)
            best = min(best, (time.perf_counter() - start) / epochs)
        rows.append({"width": width, "ms_per_epoch": 1000 * best})
    return pd.DataFrame(rows)
