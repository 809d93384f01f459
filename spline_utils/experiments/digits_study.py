"""Channel pruning of the digits ConvNet by every criterion, with physical removal and fine-tuning
(Chapter 5). Runs at full size on a CPU in well under a minute."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from .._validate import check_choice, check_fraction, check_int, check_sequence
from ..networks.models import digits_convnet
from ..pruning.costs import count_flops, count_parameters
from ..pruning.criteria import CRITERIA, select_units, unit_scores
from ..pruning.physical import remove_units
from ..seeding import seed_everything
from .data import digits_tensors
from .progress import progress_bar
from .training import accuracy, train_classifier


def train_digits_convnet(seed: int = 0, channels=(8, 16), epochs: int = 30, data=None):
    """The digits ConvNet trained as in Chapter 1 (SGD, lr 0.05, momentum 0.9, batch 128)."""
    if data is not None and (not isinstance(data, (tuple, list)) or len(data) != 4):
        raise ValueError("data must be (x_train, y_train, x_test, y_test) as from digits_tensors()")
    x_tr, y_tr, _, _ = digits_tensors() if data is None else data
    seed_everything(seed)
    net = digits_convnet(channels)
    train_classifier(net, x_tr, y_tr, epochs=epochs, lr=0.05, seed=seed, progress=False)
    return net


def digits_pruning_study(
    criteria: Sequence[str] = ("random", "magnitude", "slimming", "spline"),
    ratios: Sequence[float] = (0.3, 0.5, 0.7),
    seeds: Sequence[int] = range(3),
    scope: str = "layerwise",
    channels=(8, 16),
    epochs: int = 30,
    finetune_epochs: int = 5,
    progress: bool = True,
) -> pd.DataFrame:
    """One row per (seed, criterion, ratio): test accuracy of the dense net, of the physically
    pruned net before and after ``finetune_epochs`` of fine-tuning (lr 0.02), and its
    parameters and FLOPs relative to the dense net.

    criteria: channel criteria of the registry :data:`~spline_utils.pruning.criteria.CRITERIA`
    (any but ``mask``); ``spline`` is the spline policy of Chapter 5."""
    criteria = check_sequence(
        "criteria",
        criteria,
        lambda n, c: check_choice(n, c, tuple(k for k, v in CRITERIA.items() if not v.needs_mask)),
    )
    ratios = check_sequence("ratios", ratios, check_fraction)
    seeds = check_sequence("seeds", seeds, lambda n, v: check_int(n, v, 0))
    check_choice("scope", scope, ("layerwise", "global"))
    epochs, finetune_epochs = (
        check_int("epochs", epochs, 1),
        check_int("finetune_epochs", finetune_epochs, 1),
    )
    data = digits_tensors()
    x_tr, y_tr, x_te, y_te = data
    shape = tuple(x_tr.shape[1:])
    rows = []
    for seed in progress_bar(list(seeds), desc="digits study", disable=not progress):
        dense = train_digits_convnet(seed, channels, epochs, data)
        dense_acc = accuracy(dense, x_te, y_te)
        dense_params, dense_flops = count_parameters(dense), count_flops(dense, shape)
        for criterion in criteria:
            scores = unit_scores(dense, criterion, seed=seed)
            for ratio in ratios:
                small = remove_units(dense, select_units(scores, ratio, scope), x_tr[:2])
                pruned_acc = accuracy(small, x_te, y_te)
                train_classifier(
                    small, x_tr, y_tr, epochs=finetune_epochs, lr=0.02, seed=seed, progress=False
                )
                rows.append(
                    {
                        "seed": seed,
                        "criterion": criterion,
                        "ratio": ratio,
                        "acc_dense": dense_acc,
                        "acc_pruned": pruned_acc,
                        "acc_finetuned": accuracy(small, x_te, y_te),
                        "params": count_parameters(small) / dense_params,
                        "flops": count_flops(small, shape) / dense_flops,
                    }
                )
    return pd.DataFrame(rows)
