"""The counts that chapters print in output-checked cells must not rest on rounding.

A checked cell must print the same text on every processor. Counts from floating-point geometry
(regions in a window, pieces of a spline, bends, points on either side of a spline) can flip by
one when a spline grazes the window or a vertex: a reader's CPU, with another BLAS or another
instruction set, then sees 20 where the book says 21. Here each such count is recomputed on the
shipped (or seeded) networks with every weight and bias perturbed by about 1e-12 relative -- far
more than the rounding differences between CPUs (about 1e-16 in float64) -- in several random
directions: a count that changes is on a knife's edge and must not be checked.
"""

import numpy as np
import pytest
import torch

import spline_utils as su

BOX = (-5, 5, -5, 5)
REL = 1e-12


def perturbed(model: torch.nn.Module, seed: int | None) -> torch.nn.Module:
    """A float64 copy of ``model``, every parameter scaled by (1 + 1e-12 N(0, 1)) entrywise."""
    import copy

    net = copy.deepcopy(model).double().eval()
    if seed is not None:
        g = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for p in net.parameters():
                p.mul_(1 + REL * torch.randn(p.shape, generator=g, dtype=torch.float64))
    return net


def toy_counts(net) -> dict:
    """Chapters 1 and 2: the toy network's exact partition and what pruning unit 2 does."""
    pruned = su.apply_mask(net, su.unit_mask(net, {"0": [2]}))
    dense_part, pruned_part = su.exact_partition(net, BOX), su.exact_partition(pruned, BOX)
    _, labels = su.spline_segments(su.exact_partition(net[:2], BOX), [0])
    counts = {
        "regions": dense_part.region_counts(),
        "regions pruned": pruned_part.region_counts(),
        "first-layer regions pruned": su.exact_partition(pruned[:2], BOX).n_regions,
        "pieces of unit 2": int((su.split_labels(labels)[1] == 2).sum()),
    }
    for name, part in (("dense", dense_part), ("pruned", pruned_part)):
        segments, labels = su.spline_segments(part, [1])
        with torch.no_grad():
            off = net[0](torch.as_tensor(segments.mean(1)))[:, 2] < -1e-9
        counts[f"layer-2 pieces off/on, {name}"] = (int(off.sum()), int((~off).sum()))
        points, _ = su.spline_turning_points(part, 1)
        supplier, _ = su.supplying_splines(part, points, before_layer=1)
        counts[f"bends per unit, {name}"] = np.bincount(
            su.split_labels(supplier)[1], minlength=6
        ).tolist()
    corners = torch.tensor(
        [[-5.0, -5.0], [5.0, -5.0], [5.0, 5.0], [-5.0, 5.0]], dtype=torch.float64
    )
    with torch.no_grad():  # Chapter 2 prints unit 0's pre-activation there with two decimals
        counts["h^1_0 at the corners"] = [f"{h:.2f}" for h in net[0](corners)[:, 0].tolist()]
    probe = torch.rand(5000, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    probe = probe * 10 - 5
    dense_codes = su.activation_codes(net, probe)
    pruned_codes = su.activation_codes(pruned, probe)
    on = dense_codes[0].values[:, 2]
    same2 = (dense_codes[1].values == pruned_codes[1].values).all(1)
    counts["probe: on, on with layer-2 codes kept"] = (int(on.sum()), int((on & same2).sum()))
    return counts


def abs_net():
    """Chapter 1: layer 1 max(0, x1), max(0, -x1); layer 2 h = max(0, x1) + max(0, -x1) = |x1|."""
    net = torch.nn.Sequential(
        torch.nn.Linear(2, 2),
        torch.nn.ReLU(),
        torch.nn.Linear(2, 1),
        torch.nn.ReLU(),
        torch.nn.Linear(1, 1),
    ).double()
    parameters = [([[1.0, 0.0], [-1.0, 0.0]], [0.0, 0.0]), ([[1.0, 1.0]], [0.0]), ([[1.0]], [0.0])]
    with torch.no_grad():
        for linear, (weight, bias) in zip(net[::2], parameters):
            linear.weight.copy_(torch.tensor(weight))
            linear.bias.copy_(torch.tensor(bias))
    return net


def abs_counts(net) -> dict:
    """Chapter 1: the code of h = |x1| across x1 = 0, and the splines the engine draws."""
    across = torch.tensor([[-0.1, 1.0], [0.0, 1.0], [0.1, 1.0]], dtype=torch.float64)
    part = su.exact_partition(net, BOX)
    return {
        "code of h": su.activation_codes(net, across)[1].values[:, 0].int().tolist(),
        "regions": part.region_counts(),
        "drawn splines": [part.spline_units(layer).tolist() for layer in (0, 1)],
    }


def local_complexity_counts(net) -> list:
    """Chapter 1: regions and splines of the He-initialised 2-32x4-1 network near the origin."""
    whole = su.exact_partition(net, (-2, 2, -2, 2))
    return [
        (*whole.local_complexity([0.0, 0.0], r), su.sampled_local_complexity(net, [0.0, 0.0], r))
        for r in (0.01, 0.05, 0.1, 0.2)
    ]


def he_mlp(width: int, depth: int):
    net = su.make_mlp([2] + [width] * depth + [1])
    return su.he_init_(net, bias_std=0.5, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize(
    "count, model",
    [
        (toy_counts, lambda: su.load_network("toy_mlp")),
        (local_complexity_counts, lambda: he_mlp(32, 4)),
        (abs_counts, abs_net),
    ],
    ids=["toy network (Ch1, Ch2)", "local complexity (Ch1)", "|x1| network (Ch1)"],
)
def test_checked_counts_survive_a_perturbation_far_above_rounding(count, model):
    base = count(perturbed(model(), None))
    for seed in range(3):
        assert count(perturbed(model(), seed)) == base, (
            f"a count flips under a 1e-12 nudge (seed {seed})"
        )


def test_the_perturbation_catches_a_count_on_a_knife_edge():
    """The check can fail: a probe point that lies exactly on a spline is counted on one side
    or the other depending on a 1e-12 nudge (the exact engine itself drops slivers below a
    documented size, so its region counts need a coarser knife to cut)."""
    net = su.make_mlp([2, 1, 2]).double()
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([[1.0, 0.0]]))
        net[0].bias.copy_(torch.tensor([-0.5]))  # the spline is the line x = 0.5
    points = torch.tensor([[0.5, 0.0], [1.0, 2.0], [-1.0, 0.0]], dtype=torch.float64)

    def active(model):
        return int(su.activation_codes(model, points)[0].values.sum())

    assert len({active(perturbed(net, seed)) for seed in range(8)}) > 1
