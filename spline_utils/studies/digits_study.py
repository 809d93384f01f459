"""Channel pruning of the digits ConvNet by every method, with physical removal and fine-tuning
(Chapter 5). Runs at full size on a CPU in about a minute.

The methods are those of Chapter 6's protocol (:func:`~spline_utils.experiments.protocols.prune`):
``random``, ``magnitude`` (filter L1), ``slimming`` (one global threshold on raw ``|gamma|``, as
network slimming prunes), ``spline-layerwise`` and ``spline-global`` (the spline policy). Every
method prunes the same dense network of a seed -- trained with network slimming's L1 penalty on
the BatchNorm scales unless ``bn_l1=0`` -- and gets the same fine-tuning.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from ..checks import check_fraction, check_int, check_real, check_sequence
from ..experiments.data import digits_tensors
from ..experiments.progress import progress_bar
from ..experiments.protocols import prune
from ..experiments.training import accuracy, train_classifier
from ..networks.models import digits_convnet
from ..pruning.costs import count_flops, count_parameters
from ..pruning.criteria import SplinePolicy, select_units, unit_scores
from ..pruning.methods import METHODS, criterion_of, methods_of
from ..pruning.physical import remove_units
from ..seeding import seed_everything

__all__ = [
    "DIGITS_METHODS",
    "digits_pruning_study",
    "spline_reach_ablation",
    "train_digits_convnet",
]

#: the methods this study runs by default (Chapter 5's), the protocol's methods that need no
#: training data batch (the Torch-Pruning criteria need one), in the registry's order
DIGITS_METHODS = tuple(
    m.name
    for m in methods_of(chapter=5)
    if m.scope is not None and not criterion_of(m.name).needs_data
)


def train_digits_convnet(
    seed: int = 0, channels=(8, 16), epochs: int = 30, data=None, bn_l1: float = 0.0
):
    """The digits ConvNet trained as in Chapter 1 (SGD, lr 0.05, momentum 0.9, batch 128);
    ``bn_l1``: network slimming's L1 penalty on the BatchNorm scales (0 = off)."""
    if data is not None and (not isinstance(data, (tuple, list)) or len(data) != 4):
        raise ValueError("data must be (x_train, y_train, x_test, y_test) as from digits_tensors()")
    x_tr, y_tr, _, _ = digits_tensors() if data is None else data
    seed_everything(seed)
    net = digits_convnet(channels)
    train_classifier(
        net, x_tr, y_tr, epochs=epochs, lr=0.05, seed=seed, progress=False, bn_l1=bn_l1
    )
    return net


def _finetuned(small, data, finetune_epochs: int, seed: int) -> float:
    x_tr, y_tr, x_te, y_te = data
    train_classifier(small, x_tr, y_tr, epochs=finetune_epochs, lr=0.02, seed=seed, progress=False)
    return accuracy(small, x_te, y_te)


def digits_pruning_study(
    methods: Sequence[str] = DIGITS_METHODS,
    ratios: Sequence[float] = (0.3, 0.5, 0.7),
    seeds: Sequence[int] = range(3),
    bn_l1: float = 1e-4,
    channels=(8, 16),
    epochs: int = 30,
    finetune_epochs: int = 5,
    progress: bool = True,
) -> pd.DataFrame:
    """One row per (seed, method, ratio): test accuracy of the dense net, of the physically
    pruned net before and after ``finetune_epochs`` of fine-tuning (lr 0.02), and its
    parameters and inference FLOPs relative to the dense net (module doc for the methods)."""
    methods = check_sequence("methods", methods, lambda n, m: _check_method(n, m))
    ratios = check_sequence("ratios", ratios, check_fraction)
    seeds = check_sequence("seeds", seeds, lambda n, v: check_int(n, v, 0))
    bn_l1 = check_real("bn_l1", bn_l1, 0.0)
    epochs, finetune_epochs = (
        check_int("epochs", epochs, 1),
        check_int("finetune_epochs", finetune_epochs, 1),
    )
    data = digits_tensors()
    x_tr, _, x_te, y_te = data
    shape = tuple(x_tr.shape[1:])
    rows = []
    for seed in progress_bar(list(seeds), desc="digits study", disable=not progress):
        dense = train_digits_convnet(seed, channels, epochs, data, bn_l1)
        dense_acc = accuracy(dense, x_te, y_te)
        dense_params, dense_flops = count_parameters(dense), count_flops(dense, shape)
        for method in methods:
            for ratio in ratios:
                small = prune(dense, method, ratio, x_tr[:2], seed)
                pruned_acc = accuracy(small, x_te, y_te)
                rows.append(
                    {
                        "seed": seed,
                        "method": method,
                        "ratio": ratio,
                        "acc_dense": dense_acc,
                        "acc_pruned": pruned_acc,
                        "acc_finetuned": _finetuned(small, data, finetune_epochs, seed),
                        "params": count_parameters(small) / dense_params,
                        "flops": count_flops(small, shape) / dense_flops,
                    }
                )
    return pd.DataFrame(rows)


def _check_method(name: str, method) -> str:
    allowed = tuple(m for m in METHODS if not criterion_of(m).needs_data)
    if method not in allowed:
        raise ValueError(f"{name} must be one of {allowed}, got {method!r}")
    return method


def spline_reach_ablation(
    nears: Sequence[float] = (0.0, 0.05, 0.1, 0.2, 0.5),
    ratio: float = 0.5,
    seeds: Sequence[int] = range(3),
    bn_l1: float = 1e-4,
    finetune_epochs: int = 5,
) -> pd.DataFrame:
    """The spline policy with its redundancy discount's reach ``near`` varied (0 = no discount;
    the policy's default is 0.1, a tenth of the layer's median nearest-neighbour distance):
    layerwise selection at ``ratio`` on the digits ConvNet, one row per (seed, near), with the
    number of channels the discount swaps against the policy without it (``changed``)."""
    nears = check_sequence("nears", nears, lambda n, v: check_real(n, v, 0.0))
    ratio = check_fraction("ratio", ratio)
    seeds = check_sequence("seeds", seeds, lambda n, v: check_int(n, v, 0))
    data = digits_tensors()
    x_tr, _, x_te, y_te = data
    rows = []
    for seed in seeds:
        dense = train_digits_convnet(seed, data=data, bn_l1=bn_l1)
        without = select_units(unit_scores(dense, SplinePolicy(0.0)), ratio)
        for near in nears:
            pruned = select_units(unit_scores(dense, SplinePolicy(near)), ratio)
            small = remove_units(dense, pruned, x_tr[:2])
            rows.append(
                {
                    "seed": seed,
                    "near": near,
                    # channels selected differently from the policy without the discount
                    "changed": sum(len(set(pruned[n]) ^ set(without[n])) for n in pruned) // 2,
                    "acc_pruned": accuracy(small, x_te, y_te),
                    "acc_finetuned": _finetuned(small, data, finetune_epochs, seed),
                }
            )
    return pd.DataFrame(rows)
