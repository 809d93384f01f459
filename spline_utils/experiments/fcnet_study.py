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

from .._validate import check_choice, check_fraction, check_int, check_sequence
from ..networks.models import make_mlp
from ..pruning.merging import node_criteria, prune_units, remove_pruned_units
from ..seeding import seed_everything
from .data import x_shaped_data
from .progress import progress_bar
from .training import accuracy, train_classifier

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
    :func:`prune_and_finetune`; models: ``{(width, seed, criterion, ratio): fine-tuned net}``.
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
        dense = train_fcnet(width, data[0], data[1], epochs=train_epochs, seed=seed)
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
