"""Pinned scores and choices of the pruning criteria (issue 14).

The numbers below were recorded from the package *before* the criteria became registry objects
(``criteria.unit_scores`` with an if/elif chain, ``merging.prune_units`` with its own three
criteria). They pin the refactoring: every criterion must score, and node pruning must choose,
exactly as before. The models are built from NumPy's PCG64 stream, so the pins do not depend on
torch's random number generator.
"""

import numpy as np
import pytest
import torch

import spline_utils as su
from spline_utils import criteria, physical
from spline_utils.pruning import merging

from .conftest import random_bn_


def bn_mlp() -> torch.nn.Module:
    """3 -> 6 -> 5 -> 2 MLP with BatchNorm (float64, eval); unit 4 of layer "0" nearly
    duplicates unit 1's spline, so the spline policy's redundancy discount is exercised."""
    rng = np.random.default_rng(2022)
    net = su.make_mlp([3, 6, 5, 2], batch_norm=True).double().eval()
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.from_numpy(rng.normal(size=tuple(p.shape))))
        for bn in (net[1], net[4]):
            bn.running_mean.copy_(torch.from_numpy(rng.normal(size=bn.num_features) * 0.3))
            bn.running_var.copy_(torch.from_numpy(rng.uniform(0.5, 1.5, size=bn.num_features)))
        net[0].weight[4] = 2.0 * net[0].weight[1] + 1e-3
        net[0].bias[4] = 2.0 * net[0].bias[1]
        net[1].running_mean[4] = 2.0 * net[1].running_mean[1]
        net[1].running_var[4] = 4.0 * net[1].running_var[1]
        net[1].weight[4] = net[1].weight[1].abs() * 0.5
        net[1].bias[4] = net[1].bias[1]
    return net


def fcnet(width: int = 20, seed: int = 3):
    """A float32 ``2 -> width -> 2`` FCNet and 300 points of [-5, 5]^2, from NumPy's stream."""
    rng = np.random.default_rng(seed)
    net = su.make_mlp([2, width, 2])
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.from_numpy(rng.normal(size=tuple(p.shape)).astype(np.float32)))
    x = torch.from_numpy(rng.uniform(-5, 5, size=(300, 2)).astype(np.float32))
    return net, x


# unit_scores(bn_mlp(), criterion, seed=7[, mask=...]) before the refactoring
PINNED_SCORES = {
    "random": {
        "0": [0.625095466604667, 0.8972138009695755, 0.7756856902451935, 0.22520718999059186,
              0.30016628491122543, 0.8735534453962619],
        "3": [0.005265304565574724, 0.8212284183827663, 0.7970694287520462, 0.4679349528437208,
              0.3030324268193135],
    },
    "magnitude": {
        "0": [5.597389730315659, 2.0197445552676103, 3.4348385099824137, 4.450369776509758,
              4.038489110535221, 1.7266838165880332],
        "3": [5.440376508157125, 6.7749866069847755, 4.815481326874514, 7.630952157985146,
              5.41892550221087],
    },
    "slimming": {
        "0": [0.7261367312026653, 0.8852362809563855, 1.6172834363393336, 0.8619807276703836,
              0.44261814047819276, 0.5666450076535691],
        "3": [0.07123317236950245, 0.21380300529341595, 0.645385851585234, 0.6145132024544544,
              1.2525556628955579],
    },
    "spline": {
        "0": [0.05760616513237091, 0.04621296199480091, 2.972186224331855, 4.164417164675436,
              8.797124308864049e-05, 1.1448380772431774],
        "3": [2.1618394993459042e-08, 0.057386192056719805, 0.11755546710017042,
              0.1810804615932887, 0.5294409998610755],
    },
    "mask": {"0": [1.0, 1.0, 0.0, 1.0, 1.0, 0.0], "3": [1.0, 0.0, 1.0, 1.0, 1.0]},
}  # fmt: skip


@pytest.mark.parametrize("criterion", list(PINNED_SCORES))
def test_unit_scores_are_pinned(criterion):
    net = bn_mlp()
    mask = su.unit_mask(net, {"0": [2, 5], "3": [1]}) if criterion == "mask" else None
    scores = criteria.unit_scores(net, criterion, seed=7, mask=mask)
    assert list(scores) == ["0", "3"]
    for name, expected in PINNED_SCORES[criterion].items():
        assert scores[name].dtype == np.float64 and scores[name].shape == (len(expected),)
        np.testing.assert_allclose(scores[name], expected, rtol=1e-12, atol=1e-15)
    if criterion in ("random", "mask"):  # no arithmetic: bit for bit
        assert {n: s.tolist() for n, s in scores.items()} == PINNED_SCORES[criterion]


# prune_units(fcnet(), "0", ratio, criterion, seed=4 / x=x).pruned before the refactoring, when
# "magnitude-l2" was called "magnitude" and "spline-merge" was called "spline"
PINNED_MAGNITUDE = [5, 2, 8, 12, 17, 1, 6, 11, 15, 9, 14, 16, 7, 10, 19, 13]  # L2 norms
PINNED_SPLINE = {  # ratio: (pruned in order, merged_into), the greedy delete-or-merge rule
    0.25: ([5, 14, 2, 1, 11], [0, 4, 15, 0, 0]),
    0.5: ([5, 14, 2, 1, 11, 12, 6, 9, 10, 17], [0, 4, 15, 0, 0, 4, 19, 13, 4, -1]),
    0.8: (
        [5, 14, 2, 1, 11, 12, 6, 9, 10, 17, 7, 8, 15, 3, 16, 13],
        [0, 4, 15, 0, 0, 4, 19, 13, 4, -1, 15, 13, 3, 18, 13, 0],
    ),
}
PINNED_SPLINE_OUTPUT_SUM = {
    0.25: -3549.232901737094,
    0.5: -3441.289375960827,
    0.8: -3359.919491291046,
}


@pytest.mark.parametrize("ratio", [0.25, 0.5, 0.8])
def test_node_pruning_by_magnitude_and_random_is_pinned(ratio):
    net, _ = fcnet()
    n = int(round(ratio * 20))
    for prune in (su.prune_units, su.delete_units):  # the old "magnitude" is "magnitude-l2"
        assert prune(net, "0", ratio, "magnitude-l2", seed=4).pruned == PINNED_MAGNITUDE[:n]
    generator = torch.Generator().manual_seed(4)  # the rule before the refactoring
    expected = torch.randperm(20, generator=generator)[:n].tolist()
    for prune in (su.prune_units, su.delete_units):
        assert prune(net, "0", ratio, "random", seed=4).pruned == expected


@pytest.mark.parametrize("ratio", [0.25, 0.5, 0.8])
def test_node_pruning_by_spline_merging_is_pinned(ratio):
    net, x = fcnet()
    result = su.prune_units(net, "0", ratio, "spline-merge", x=x)
    assert (result.pruned, result.merged_into) == PINNED_SPLINE[ratio]
    small = su.remove_pruned_units(result.model, "0")
    assert small[0].out_features == 20 - len(result.pruned)
    total = small(x).double().sum().item()
    assert total == pytest.approx(PINNED_SPLINE_OUTPUT_SUM[ratio], rel=1e-5)


def test_node_pruning_by_spline_merging_with_batchnorm_is_pinned():
    net = bn_mlp()
    x = torch.from_numpy(np.random.default_rng(5).normal(size=(200, 3)))
    pins = {
        0.34: ([4, 5], [-1, -1], 1574.8387387238456),
        0.67: ([4, 5, 1, 3], [-1, -1, 2, 2], 347.3186851275335),
    }
    for ratio, (pruned, merged_into, total) in pins.items():
        result = su.prune_units(net, "0", ratio, "spline-merge", x=x)
        assert (result.pruned, result.merged_into) == (pruned, merged_into)
        small = su.remove_pruned_units(result.model, "0")
        assert small(x).sum().item() == pytest.approx(total, rel=1e-10)


def test_spline_merge_pruning_is_the_prune_units_rule():
    net, x = fcnet()
    direct = su.spline_merge_pruning(net, "0", 0.5, x)
    assert (direct.pruned, direct.merged_into) == PINNED_SPLINE[0.5]


# ----------------------------------------------------------------------------- the registry
def test_registry_names_and_descriptions():
    assert list(criteria.CRITERIA) == [
        "random",
        "magnitude",
        "magnitude-l2",
        "slimming",
        "spline",
        "mask",
        "tp-group-l1",
        "tp-taylor",
    ]
    for name, criterion in criteria.CRITERIA.items():
        assert isinstance(criterion, criteria.Criterion) and criterion.name == name
        assert criterion.paper_name and type(criterion).__doc__
        assert criteria.get_criterion(name) is criterion
    assert "Li et al., 2017" in criteria.CRITERIA["magnitude"].paper_name
    assert "Liu et al., 2017" in criteria.CRITERIA["slimming"].paper_name
    assert "Chapter 5" in criteria.CRITERIA["spline"].paper_name
    with pytest.raises(ValueError, match=r"criterion must be one of \('random', 'magnitude'"):
        criteria.get_criterion("taylor")


def test_every_criterion_scores_float64_per_unit():
    net = bn_mlp()
    batch = (torch.randn(16, 3, dtype=torch.float64), torch.randint(0, 2, (16,)))
    for name, criterion in criteria.CRITERIA.items():
        mask = su.full_mask(net) if criterion.needs_mask else None
        data = batch if criterion.needs_data else None
        scores = criterion.scores(net, ["0"], seed=1, mask=mask, data=data)
        assert list(scores) == ["0"] and scores["0"].dtype == np.float64
        assert scores["0"].shape == (6,) and np.isfinite(scores["0"]).all()
        np.testing.assert_array_equal(
            scores["0"], criteria.unit_scores(net, name, ["0"], 1, mask, data)["0"]
        )


def test_magnitude_norms_of_rows_and_filters():
    net = su.digits_convnet()
    for ord, name in ((1, "magnitude"), (2, "magnitude-l2")):
        scores = criteria.unit_scores(net, name, layers=["0"])["0"]
        expected = torch.linalg.vector_norm(net[0].weight.detach().double().flatten(1), ord, dim=1)
        np.testing.assert_allclose(scores, expected.numpy(), rtol=1e-12)
    with pytest.raises(ValueError, match="ord must be 1 or 2"):
        criteria.Magnitude(3)


def test_random_criterion_streams():
    net = bn_mlp()
    numpy_scores = criteria.Random().scores(net, ["0", "3"], seed=3)
    rng = np.random.default_rng(3)
    assert numpy_scores["0"].tolist() == rng.random(6).tolist()
    assert numpy_scores["3"].tolist() == rng.random(5).tolist()  # one stream over the layers
    torch_scores = criteria.Random(generator="torch").scores(net, ["0"], seed=3)["0"]
    perm = torch.randperm(6, generator=torch.Generator().manual_seed(3)).tolist()
    assert np.argsort(torch_scores, kind="stable").tolist() == perm
    with pytest.raises(ValueError, match="generator must be one of"):
        criteria.Random(generator="python")


def test_register_a_criterion():
    class BiasMagnitude(criteria.Criterion):
        """|b_k|: a toy criterion."""

        name = "bias"
        paper_name = "none (a test)"

        def layer_scores(self, layer, state):
            return layer.module.bias.detach().abs().double().numpy()

    net = bn_mlp()
    bias = criteria.register_criterion(BiasMagnitude())
    try:
        scores = criteria.unit_scores(net, "bias")
        np.testing.assert_array_equal(scores["0"], net[0].bias.detach().abs().numpy())
        assert "bias" in merging.node_criteria()
        with pytest.raises(ValueError, match="registered already"):
            criteria.register_criterion(BiasMagnitude())
        assert criteria.register_criterion(BiasMagnitude(), replace=True) is not bias
    finally:
        criteria.CRITERIA.pop("bias")
    reserved = BiasMagnitude()
    reserved.name = "spline-merge"
    with pytest.raises(ValueError, match="other than"):
        criteria.register_criterion(reserved)
    with pytest.raises(TypeError, match="must be a Criterion instance"):
        criteria.register_criterion("bias")
    with pytest.raises(TypeError, match="abstract"):
        criteria.Criterion()


# ----------------------------------------------------------------------------- node pruning
def test_node_pruning_names():
    assert merging.node_criteria(batch_norm=False) == (
        "spline-merge",
        "spline-delete",
        "spline-merge-picks",
        "random",
        "magnitude",
        "magnitude-l2",
    )
    assert "mask" not in merging.node_criteria()
    net, x = fcnet()
    with pytest.raises(ValueError, match="'spline-merge' or 'spline-delete'"):
        su.prune_units(net, "0", 0.5, "spline", x=x)  # the spline policy needs BatchNorm
    with pytest.raises(ValueError, match="criterion must be one of"):
        su.prune_units(net, "0", 0.5, "mask")
    with pytest.raises(ValueError, match="node pruning needs a Linear layer"):
        su.delete_units(su.digits_convnet(), "0", 0.5, "magnitude")


def test_spline_deletion_follows_the_deletion_bound_and_never_merges():
    net, x = fcnet()
    result = su.prune_units(net, "0", 0.5, "spline-delete", x=x)
    assert result.merged_into == [-1] * 10
    delete, _ = su.redundancy_bounds(net, "0", su.input_radius(net, "0", x))
    assert result.pruned == np.argsort(delete, kind="stable")[:10].tolist()
    assert (result.model[2].weight == net[2].weight).all()  # deletion leaves the next layer
    merged = su.prune_units(net, "0", 0.5, "spline-merge", x=x)
    assert (merged.model[2].weight != net[2].weight).any()  # merging rewrites it


def test_delete_units_by_any_registry_criterion():
    net = bn_mlp()
    for name in ("magnitude", "slimming", "spline"):
        scores = criteria.unit_scores(net, name, layers=["0"])["0"]
        result = su.delete_units(net, "0", 0.5, name)
        assert result.pruned == np.argsort(scores, kind="stable")[:3].tolist()
        assert sorted(result.pruned) == criteria.select_units({"0": scores}, 0.5)["0"]
        assert result.merged_into == [-1] * 3
        assert su.masks.full_mask(result.model)  # a masked copy: shapes kept
        assert (result.model[0].weight[result.pruned] == 0).all()


def test_remove_pruned_units_is_remove_units():
    net, x = fcnet()
    masked = su.prune_units(net, "0", 0.5, "magnitude-l2").model
    small = su.remove_pruned_units(masked, "0")
    direct = su.physical.remove_units(masked, {"0": sorted(PINNED_MAGNITUDE[:10])}, x[:2])
    for (k, a), (_, b) in zip(small.state_dict().items(), direct.state_dict().items()):
        assert torch.equal(a, b), k


def test_torch_pruning_criteria_score_every_channel_and_prune_like_the_others():
    """Torch-Pruning's group L1 and Taylor importances, used through the registry: one finite
    score per channel of every default layer; selection and removal as for any criterion."""
    from spline_utils import costs, criteria, physical

    torch.manual_seed(0)
    net = su.vgg([8, "M", 16, "M", 16], num_classes=10, in_channels=1).eval()
    x, y = torch.randn(32, 1, 32, 32), torch.randint(0, 10, (32,))
    for name in ("tp-group-l1", "tp-taylor"):
        scores = criteria.unit_scores(net, name, data=(x, y))
        assert list(scores) == criteria.default_layers(net)
        assert [len(s) for s in scores.values()] == [8, 16, 16]
        assert all(np.isfinite(s).all() and (s >= 0).all() for s in scores.values())
        small = physical.remove_units(net, criteria.select_units(scores, 0.5), x[:2])
        assert costs.count_parameters(small) < costs.count_parameters(net)
        with pytest.raises(ValueError, match="needs data"):
            criteria.unit_scores(net, name)
    # the group L1 score of a channel grows with its filter, BN and next-layer weights
    louder = net.__class__(*[m for m in net])  # same modules
    with torch.no_grad():
        louder[0].weight[3] *= 10
    boosted = criteria.unit_scores(louder, "tp-group-l1", data=(x, y))["0"]
    assert int(np.argmax(boosted)) == 3


# ----------------------------------------------------------------------------- one registry
def test_every_list_of_names_comes_from_the_registry():
    from spline_utils.experiments import results_files
    from spline_utils.plotting.interactive import FCNET_CRITERIA
    from spline_utils.pruning import methods

    assert list(criteria.CRITERIA) == [
        n for n, m in methods.REGISTRY.items() if m.kind == "criterion"
    ]
    assert methods.METHODS == (
        "slimming",
        "spline-layerwise",
        "spline-global",
        "magnitude",
        "tp-group-l1",
        "tp-taylor",
        "random",
    )
    assert methods.EB_RULES == ("slimming", "spline-global", "random")
    assert methods.DETECTORS == ("spline", "mask")
    assert merging.SPLINE_RULES == criteria.RESERVED_NAMES == methods.MERGE_RULES
    assert results_files.METHODS is methods.METHODS
    assert results_files.EB_RULES is methods.EB_RULES
    assert su.digits_study.DIGITS_METHODS == (
        "random",
        "magnitude",
        "slimming",
        "spline-layerwise",
        "spline-global",
    )
    # the FCNet figure's rules are Chapter 3's node-pruning rules
    chapter3 = {m.name for m in methods.methods_of(chapter=3)}
    assert set(FCNET_CRITERIA) <= chapter3 & set(merging.node_criteria(batch_norm=False))
    for method in methods.REGISTRY.values():
        assert method.kind in methods.KINDS and method.chapters and method.literature
        assert (method.kind == "criterion") == (method.criterion is not None)
        assert method.scope in (None, *methods.SCOPES)
    assert "spline-global" in methods.method_table() and methods.__doc__.endswith(
        methods.method_table()
    )


def test_names_of_methods_cannot_collide():
    from spline_utils.pruning import methods

    class Named(criteria.Criterion):
        """A toy."""

        paper_name = "none (a test)"

        def layer_scores(self, layer, state):
            return layer.module.weight.detach().abs().sum(1).double().numpy()

    for taken in ("eb-spline", "eb-mask", "spline-layerwise", "spline-merge"):
        named = Named()
        named.name = taken
        with pytest.raises(ValueError, match="other than"):
            criteria.register_criterion(named)
        assert methods.REGISTRY[taken].kind != "criterion"
    assert methods.get_method("eb-spline").recorded_as == "spline"  # results files' name
    assert methods.get_criterion("spline") is criteria.CRITERIA["spline"]  # the criterion
    with pytest.raises(ValueError, match="criterion must be one of"):
        criteria.get_criterion("eb-spline")
    with pytest.raises(TypeError, match="old signature"):

        class Old(criteria.Criterion):  # noqa: F841  (refused when the class is defined)
            def layer_scores(self, model, name, layer, *, rng, mask):
                return None


def test_criteria_keep_no_state_between_calls():
    """prepare() hands each call its state: the registered objects are the same before and
    after scoring (the Torch-Pruning criterion's graph is not kept)."""
    torch.manual_seed(0)
    net = su.vgg([8, "M", 16], num_classes=10, in_channels=1).eval()
    data = (torch.randn(8, 1, 32, 32), torch.randint(0, 10, (8,)))
    for name, criterion in criteria.CRITERIA.items():
        before = dict(vars(criterion))
        mask = su.full_mask(net) if criterion.needs_mask else None
        criteria.unit_scores(net, name, mask=mask, data=data if criterion.needs_data else None)
        assert vars(criterion) == before, name


def test_a_mask_is_removed_as_it_is():
    """A mask drawn earlier is applied directly: no scores, no ratio, no re-selection."""
    torch.manual_seed(0)
    net = random_bn_(su.vgg([8, "M", 16, "M", 16], num_classes=10, in_channels=1))
    ticket = su.unit_mask(net, {"0": [1, 6], "4": [0, 3, 9, 12, 15]})  # uneven: no one ratio
    assert ticket.pruned() == {"0": [1, 6], "4": [0, 3, 9, 12, 15], "8": [], "13": []}
    x = torch.randn(4, 1, 32, 32)
    small = physical.remove_units(net, ticket, x[:2])
    assert physical.pruned_widths(small) == {"0": 6, "4": 11, "8": 16, "13": 10}
    torch.testing.assert_close(small(x), su.apply_mask(net, ticket)(x), rtol=0, atol=1e-5)


def test_structure_edges_of_a_residual_network():
    pre = su.preresnet(11, bottleneck=True)
    structure = su.NetworkStructure(pre)
    assert structure.edges == pre.pruning_edges()
    layer = structure.prunable["blocks.0.conv2"]
    assert (layer.batchnorm_name, layer.consumer().name) == ("blocks.0.bn3", "blocks.0.conv3")
    with pytest.raises(ValueError, match="writes to the residual stream"):
        structure.consumer("blocks.0.conv3")

    class Wrong(torch.nn.Sequential):
        def pruning_edges(self):
            return {"0": ("1", "2")}  # "1" is a ReLU, not the BatchNorm after "0"

    with pytest.raises(ValueError, match="names the BatchNorm '1'"):
        su.NetworkStructure(Wrong(torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1)))
