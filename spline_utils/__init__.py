"""spline_utils: the max-affine spline view of deep networks, for the spline-pruning book.

The package's folders follow the book:

* :mod:`~spline_utils.spline_view` -- a ReLU network as a composition of max-affine spline
  operators: supported models, MASO layers, BatchNorm folding, region codes, per-region affine
  maps, each unit's spline as a hyperplane (Chapter 1);
* :mod:`~spline_utils.partition`   -- partitions of 2-D slices of input space, sampled on a grid or
  exact, and the turning points of splines and decision boundaries (Chapters 1-3);
* :mod:`~spline_utils.pruning`     -- masks, pruning criteria, node pruning by merging, physical
  removal, costs (Chapters 2, 3, 5);
* :mod:`~spline_utils.early_bird`  -- spline and mask-distance early-bird detectors (Chapter 4);
* :mod:`~spline_utils.networks`    -- architectures, and the trained networks shipped with the
  package;
* :mod:`~spline_utils.experiments` -- data, training loops, resumable experiments, results files,
  the command line (Chapters 3-6);
* :mod:`~spline_utils.plotting`    -- figures, the interactive explorer and the figures the reader
  can move (:mod:`~spline_utils.plotting.interactive`);
* :mod:`~spline_utils.chapter`, :mod:`~spline_utils.mode`, :mod:`~spline_utils.seeding` --
  a chapter's first steps, the quick / full switch, the one seeding helper.

``import spline_utils`` loads nothing heavy: every name below is imported on first use (so
matplotlib and pandas load only when a figure or a table is asked for).
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

#: public name -> module (relative to the package) that defines it
_NAMES: dict[str, str] = {}
for _module, _names in {
    "spline_view.affine_maps": "mlp_region_affine_map region_affine_map region_consistency_error",
    "spline_view.bit_packing": "pack_bits unpack_bits",
    "spline_view.code_recording": "LayerCode",
    "spline_view.codes": "ActivationCodes PackedCodes activation_codes code_distance packed_codes",
    "spline_view.folding": "fold_batchnorm",
    "spline_view.hyperplanes": "bn_spline_distance data_spline_distance normalised_hyperplanes "
    "spline_distances unit_hyperplanes",
    "spline_view.maso": "dense_layer_maso maso maxpool_maso",
    "spline_view.model_walk": "check_supported code_modules evaluation_mode following_batchnorm "
    "prunable_layers",
    "partition.exact": "ExactPartition exact_partition sampled_local_complexity",
    "partition.grid": "GridPartition grid_partition",
    "partition.slices": "PlaneSlice",
    "partition.boundary_trace": "BendCheck TracedBoundary check_bends_on_splines crossed_splines "
    "trace_decision_boundary",
    "partition.turning_points": "bends decision_turning_points spline_segments spline_turning_points "
    "splines_through split_labels supplying_splines unit_preactivations",
    "pruning.masks": "PruningMask apply_mask enforce_mask_ full_mask magnitude_weight_mask unit_mask "
    "weight_mask",
    "pruning.merging": "UnitPruning delete_units input_radius merge_bound merge_units prune_units "
    "redundancy_bounds remove_pruned_units spline_merge_pruning",
    "networks.models": "VGG16_CFG PreResNet ResidualBlock digits_convnet he_init_ make_mlp preresnet vgg",
    "networks.pretrained": "load_network train_network",
    "experiments.data": "digits_tensors x_shaped_data",
    "experiments.training": "accuracy train_classifier",
    "plotting.exact_figures": "plot_exact",
    "plotting.figures": "plot_layer_by_layer plot_slice",
    "plotting.grid_figures": "plot_decision plot_partition",
    "mode": "data_dir default_device describe_run is_full_mode results_out_dir run_mode",
    "seeding": "seed_everything",
}.items():
    _NAMES.update(dict.fromkeys(_names.split(), _module))

#: modules reachable as attributes, under the names the chapters use (``su.criteria.unit_scores``)
_MODULES: dict[str, str] = {
    "spline_view": "spline_view",
    "partition": "partition",
    "pruning": "pruning",
    "early_bird": "early_bird",
    "networks": "networks",
    "experiments": "experiments",
    "plotting": "plotting",
    "chapter": "chapter",
    "mode": "mode",
    "seeding": "seeding",
    "statistics": "statistics",
    "model_walk": "spline_view.model_walk",
    "codes": "spline_view.codes",
    "masks": "pruning.masks",
    "criteria": "pruning.criteria",
    "physical": "pruning.physical",
    "costs": "pruning.costs",
    "models": "networks.models",
    "pretrained": "networks.pretrained",
    "explorer": "plotting.explorer",
    "interactive": "plotting.interactive",
    "results_files": "experiments.results_files",
    "provenance": "experiments.provenance",
    "fcnet_study": "experiments.fcnet_study",
    "digits_study": "experiments.digits_study",
}

__all__ = sorted(set(_NAMES) | set(_MODULES) | {"__version__"})


def __getattr__(name: str):
    if name in _MODULES:
        value = importlib.import_module(f".{_MODULES[name]}", __name__)
    elif name in _NAMES:
        value = getattr(importlib.import_module(f".{_NAMES[name]}", __name__), name)
    else:
        raise AttributeError(f"module 'spline_utils' has no attribute {name!r}")
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return __all__
