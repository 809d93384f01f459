"""spline_utils: the max-affine spline view of deep networks, for the spline-pruning book.

Modules, each named for what it does:

* :mod:`~spline_utils.model_walk`   -- which models are max-affine spline networks;
* :mod:`~spline_utils.codes`        -- activation (region) codes, bit packing, region ids;
* :mod:`~spline_utils.affine_maps`  -- per-region affine maps ``(A_omega, b_omega)``;
* :mod:`~spline_utils.slices`       -- 2-D planes through anchor points of input space;
* :mod:`~spline_utils.exact_partition` -- exact partitions of 2-D slices (convex polygons);
* :mod:`~spline_utils.grid_partition` -- partitions sampled on a grid (quick previews);
* :mod:`~spline_utils.plotting`     -- Fig. 1a-style figures;
* :mod:`~spline_utils.maso`         -- layers written explicitly as MASOs;
* :mod:`~spline_utils.folding`      -- eval-mode BatchNorm folded into the layer before it;
* :mod:`~spline_utils.masks`        -- pruning masks ``Q_W``, ``q_b`` applied to model copies;
* :mod:`~spline_utils.spline_params` -- unit hyperplanes, spline distances, merging and its bound;
* :mod:`~spline_utils.unit_pruning` -- node pruning by spline redundancy / magnitude / at random;
* :mod:`~spline_utils.turning_points` -- where splines and decision boundaries bend, and why;
* :mod:`~spline_utils.fcnet_study`  -- the FCNet pruning study of the paper's Fig. 2;
* :mod:`~spline_utils.criteria`     -- channel pruning criteria as scores; layerwise / global selection;
* :mod:`~spline_utils.physical`     -- physical removal of pruned units (MLP, ConvNet, VGG, PreResNet);
* :mod:`~spline_utils.costs`        -- parameters, FLOPs and measured throughput;
* :mod:`~spline_utils.digits_study` -- channel pruning of the digits ConvNet by every criterion;
* :mod:`~spline_utils.early_bird`   -- spline and mask-distance early-bird detectors;
* :mod:`~spline_utils.cifar`        -- CIFAR-10/100 and digits at 32x32 as uint8 tensors, on-device augmentation;
* :mod:`~spline_utils.resumable_training` -- Chapter 6's training loop (checkpoints, exact resume, AMP);
* :mod:`~spline_utils.distributed`  -- torchrun data parallelism;
* :mod:`~spline_utils.provenance`   -- atomic results files and checkpoints, device / versions / commit;
* :mod:`~spline_utils.experiments`  -- Chapter 6's protocols and command line;
* :mod:`~spline_utils.results_files` -- results and timing files read back as tables;
* :mod:`~spline_utils.models`, :mod:`~spline_utils.data`, :mod:`~spline_utils.training`;
* :mod:`~spline_utils.pretrained` -- the theory chapters' trained networks, shipped as weights;
* :mod:`~spline_utils.chapter`      -- a chapter's first steps (threads, seeds) and glued numbers;
* :mod:`~spline_utils.run_mode`, :mod:`~spline_utils.seeding`.
"""

from .affine_maps import mlp_region_affine_map, region_affine_map, region_consistency_error
from .codes import (
    ActivationCodes,
    LayerCode,
    PackedCodes,
    activation_codes,
    code_distance,
    pack_bits,
    packed_codes,
    unpack_bits,
)
from .data import digits_tensors, x_shaped_data
from .folding import fold_batchnorm
from . import chapter, costs, criteria, digits_study, early_bird, fcnet_study, physical, pretrained
from . import explorer
from .maso import dense_layer_maso, maso, maxpool_maso
from .exact_partition import ExactPartition, exact_partition, sampled_local_complexity
from .grid_partition import GridPartition, grid_partition
from .masks import (
    PruningMask,
    apply_mask,
    enforce_mask_,
    following_batchnorm,
    full_mask,
    magnitude_weight_mask,
    prunable_layers,
    unit_mask,
    weight_mask,
)
from .model_walk import check_supported, code_modules, evaluation_mode
from .models import VGG16_CFG, PreResNet, ResidualBlock, digits_convnet, he_init_, make_mlp, preresnet, vgg
from .pretrained import load_network, train_network
from .plotting import plot_decision, plot_exact, plot_layer_by_layer, plot_partition, plot_slice
from .run_mode import data_dir, default_device, describe_run, is_full_mode, run_mode
from .seeding import seed_everything
from .slices import PlaneSlice
from .spline_params import (
    bn_spline_distance,
    data_spline_distance,
    merge_bound,
    merge_units,
    normalised_hyperplanes,
    spline_distances,
    unit_hyperplanes,
)
from .turning_points import (
    bends,
    decision_turning_points,
    spline_segments,
    spline_turning_points,
    supplying_splines,
    unit_preactivations,
)
from .unit_pruning import UnitPruning, input_radius, prune_units, redundancy_bounds, remove_pruned_units
from .training import accuracy, train_classifier

__version__ = "0.1.0"
