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
* :mod:`~spline_utils.studies`     -- the chapters' own studies (FCNet, digits) and the recipes of
  the shipped networks;
* :mod:`~spline_utils.plotting`    -- figures, the interactive explorer and the figures the reader
  can move (:mod:`~spline_utils.plotting.interactive`);
* :mod:`~spline_utils.chapter`, :mod:`~spline_utils.mode`, :mod:`~spline_utils.seeding` --
  a chapter's first steps, the quick / full switch, the one seeding helper;
* :mod:`~spline_utils.statistics` -- paired differences, t-based intervals and Holm's correction,
  for every chapter;
* :mod:`~spline_utils.records`, :mod:`~spline_utils.checks` -- the ground floor: results files
  and checkpoints, argument checks.

The names at the top of the package are the public names of the sub-packages (their
``__all__``): ``su.activation_codes`` is :func:`spline_utils.spline_view.codes.activation_codes`,
``su.criteria`` the module :mod:`spline_utils.pruning.criteria`. ``import spline_utils`` loads
nothing heavy: every name is imported on first use (so matplotlib and pandas load only when a
figure or a table is asked for). The tables below say where each name lives, so that the lookup
imports only its module; ``tests/test_package_layout.py`` checks them against the sub-packages'
``__all__`` and prints the tables to paste when a sub-package's ``__all__`` changes.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

#: the sub-packages and modules whose ``__all__`` make the top level, in the book's order
SOURCES = (
    "spline_view",
    "partition",
    "pruning",
    "early_bird",
    "networks",
    "experiments",
    "studies",
    "plotting",
    "mode",
    "seeding",
)
#: the modules directly under the package, reachable as attributes (``su.chapter``)
SUBMODULES = (
    "checks",
    "chapter",
    "early_bird",
    "experiments",
    "mode",
    "networks",
    "partition",
    "plotting",
    "pruning",
    "records",
    "seeding",
    "spline_view",
    "statistics",
    "studies",
)

#: module (relative to the package) -> the public names it defines (generated: see the doc)
_NAMES: dict[str, tuple[str, ...]] = {
    "early_bird.analysis": (
        "consecutive_distances",
        "detection_epochs",
        "normalised_matrix",
        "training_record",
    ),
    "early_bird.mask_detector": ("bn_channel_mask", "mask_distance", "MaskEBDetector"),
    "early_bird.payoff": (
        "firing_comparisons",
        "firing_summary",
        "payoff_table",
        "rule_comparisons",
        "ticket_comparisons",
    ),
    "early_bird.replay": (
        "earliest_possible_epoch",
        "GammaRecorder",
        "replay_mask_detector",
        "replay_spline_detector",
    ),
    "early_bird.spline_detector": (
        "canvas",
        "code_set_distance",
        "CodeRecorder",
        "distance_matrix",
        "load_code_sets",
        "probe_codes",
        "ProbeCodes",
        "SplineEBDetector",
    ),
    "early_bird.trajectory": ("code_trajectory", "unit_masks"),
    "experiments.config": ("ARCHS", "ExperimentConfig", "preset", "projected_sweep_hours"),
    "experiments.data": ("digits_tensors", "x_shaped_data"),
    "experiments.protocols": ("build_model", "prune", "run_experiment"),
    "experiments.training": ("accuracy", "train_classifier"),
    "mode": (
        "data_dir",
        "default_device",
        "describe_run",
        "is_full_mode",
        "results_out_dir",
        "run_mode",
    ),
    "networks.models": (
        "conv_bn_relu",
        "digits_convnet",
        "he_init_",
        "make_mlp",
        "PreResNet",
        "preresnet",
        "ResidualBlock",
        "vgg",
        "VGG16_CFG",
    ),
    "networks.pretrained": ("describe", "NETWORKS", "shipped_network"),
    "partition.boundary_trace": (
        "BendCheck",
        "check_bends_on_splines",
        "crossed_splines",
        "null_crossing_rate",
        "trace_decision_boundary",
        "TracedBoundary",
    ),
    "partition.exact.engine": ("exact_partition",),
    "partition.exact.labels": ("label_layer", "label_unit", "spline_label", "split_labels"),
    "partition.exact.result": ("ExactPartition", "PartitionCheckError", "sampled_local_complexity"),
    "partition.grid": ("grid_partition", "GridPartition"),
    "partition.slices": ("PlaneSlice",),
    "partition.turning_points": (
        "bends",
        "decision_turning_points",
        "spline_segments",
        "spline_turning_points",
        "splines_through",
        "supplying_splines",
        "unit_preactivations",
    ),
    "plotting.exact_figures": ("plot_exact", "region_values"),
    "plotting.figures": ("plot_layer_by_layer", "plot_slice"),
    "plotting.grid_figures": (
        "draw_decision_boundary",
        "draw_layer_splines",
        "plot_decision",
        "plot_partition",
    ),
    "plotting.results_figures": ("plot_code_distances", "plot_pruning_results"),
    "plotting.style": (
        "CLASS_COLORS",
        "class_legend",
        "DECISION_COLOR",
        "EARLIER_COLOR",
        "FIG3_LAYER_COLORS",
        "NEW_COLOR",
        "OKABE_ITO",
        "region_colormap",
    ),
    "pruning.costs": ("count_flops", "count_parameters", "throughput", "training_flops"),
    "pruning.criteria": ("slimming_units", "unit_scores"),
    "pruning.criterion": ("Criterion", "default_layers"),
    "pruning.masks": (
        "apply_mask",
        "enforce_mask_",
        "full_mask",
        "magnitude_weight_mask",
        "PruningMask",
        "unit_mask",
        "weight_mask",
    ),
    "pruning.merging": (
        "delete_units",
        "input_radius",
        "merge_bound",
        "merge_units",
        "prune_units",
        "redundancy_bounds",
        "remove_pruned_units",
        "spline_merge_pruning",
        "SPLINE_RULES",
        "UnitPruning",
    ),
    "pruning.methods": (
        "CRITERIA",
        "DETECTORS",
        "EB_RULES",
        "get_criterion",
        "get_method",
        "MERGE_RULES",
        "METHODS",
        "methods_of",
        "node_criteria",
        "PruningMethod",
        "register_criterion",
    ),
    "pruning.physical": ("remove_units",),
    "pruning.selection": ("round_widths", "select_units"),
    "seeding": ("seed_everything",),
    "spline_view.affine_maps": (
        "mlp_region_affine_map",
        "region_affine_map",
        "region_consistency_error",
    ),
    "spline_view.bit_packing": ("pack_bits", "unpack_bits"),
    "spline_view.code_recording": ("LayerCode",),
    "spline_view.codes": (
        "activation_codes",
        "ActivationCodes",
        "code_distance",
        "packed_codes",
        "PackedCodes",
    ),
    "spline_view.folding": ("fold_batchnorm",),
    "spline_view.hyperplanes": (
        "bn_spline_distance",
        "data_spline_distance",
        "normalised_hyperplanes",
        "spline_distances",
        "unit_hyperplanes",
    ),
    "spline_view.maso": ("dense_layer_maso", "maso", "maxpool_maso"),
    "spline_view.model_walk": (
        "check_supported",
        "code_modules",
        "evaluation_mode",
        "following_batchnorm",
        "layer_by_name",
        "prunable_layers",
    ),
    "spline_view.structure": ("NetworkStructure", "PrunableLayer"),
    "studies.digits_study": ("DIGITS_METHODS", "digits_pruning_study", "spline_reach_ablation"),
    "studies.fcnet_study": ("fcnet_pruning_study", "x_data_split"),
    "studies.shipped_networks": ("load_network", "train_network"),
}
#: public module names of the sub-packages -> the module (generated: see the doc)
_MODULES: dict[str, str] = {
    "codes": "spline_view.codes",
    "costs": "pruning.costs",
    "criteria": "pruning.criteria",
    "digits_study": "studies.digits_study",
    "distributed": "experiments.distributed",
    "explorer": "plotting.explorer",
    "fcnet_study": "studies.fcnet_study",
    "interactive": "plotting.interactive",
    "masks": "pruning.masks",
    "methods": "pruning.methods",
    "model_walk": "spline_view.model_walk",
    "models": "networks.models",
    "physical": "pruning.physical",
    "pretrained": "networks.pretrained",
    "provenance": "experiments.provenance",
    "results_files": "experiments.results_files",
    "resumable_training": "experiments.resumable_training",
    "structure": "spline_view.structure",
}

#: public name -> the module that defines it
NAMES: dict[str, str] = {name: module for module, names in _NAMES.items() for name in names}
MODULES: dict[str, str] = {**{name: name for name in SUBMODULES}, **_MODULES}

__all__ = sorted(set(NAMES) | set(MODULES) | {"__version__"})


def __getattr__(name: str):
    if name in MODULES:
        value = importlib.import_module(f".{MODULES[name]}", __name__)
    elif name in NAMES:
        value = getattr(importlib.import_module(f".{NAMES[name]}", __name__), name)
    else:
        raise AttributeError(f"module 'spline_utils' has no attribute {name!r}")
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return __all__
