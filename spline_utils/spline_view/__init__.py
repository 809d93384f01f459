"""The max-affine spline view of a network (Chapter 1).

* :mod:`.structure`         -- a network's layers and pruning edges, found once
  (:class:`~.structure.NetworkStructure`), with the support check;
* :mod:`.model_walk`        -- which models are compositions of max-affine spline operators;
  layers by name;
* :mod:`.supported_modules` -- the module types the spline view covers, checked one by one;
* :mod:`.affine_operations` -- which operations between modules in ``forward`` are affine (traced);
* :mod:`.maso`              -- layers written explicitly as MASOs (slopes ``A``, offsets ``B``);
* :mod:`.folding`           -- eval-mode BatchNorm folded into the affine layer before it;
* :mod:`.codes`             -- activation (region) codes: the vector-quantisation view, code sets;
* :mod:`.code_recording`    -- the forward hooks that record each code layer's code;
* :mod:`.bit_packing`       -- codes packed into bytes (``numpy.packbits`` order), on any device;
* :mod:`.affine_maps`       -- per-region affine maps ``(A_omega, b_omega)``, two independent ways;
* :mod:`.hyperplanes`       -- each unit's spline as a hyperplane, distances between splines and
  to the data.
"""

from .affine_maps import mlp_region_affine_map, region_affine_map, region_consistency_error
from .bit_packing import pack_bits, unpack_bits
from .code_recording import LayerCode
from .codes import ActivationCodes, PackedCodes, activation_codes, code_distance, packed_codes
from .folding import fold_batchnorm
from .hyperplanes import (
    bn_spline_distance,
    data_spline_distance,
    normalised_hyperplanes,
    spline_distances,
    unit_hyperplanes,
)
from .maso import dense_layer_maso, maso, maxpool_maso
from .model_walk import (
    check_supported,
    code_modules,
    evaluation_mode,
    following_batchnorm,
    layer_by_name,
    prunable_layers,
)
from .structure import NetworkStructure, PrunableLayer

__all__ = [
    "codes",
    "model_walk",
    "structure",
    "activation_codes",
    "ActivationCodes",
    "bn_spline_distance",
    "check_supported",
    "code_distance",
    "code_modules",
    "data_spline_distance",
    "dense_layer_maso",
    "evaluation_mode",
    "fold_batchnorm",
    "following_batchnorm",
    "layer_by_name",
    "LayerCode",
    "maso",
    "maxpool_maso",
    "mlp_region_affine_map",
    "NetworkStructure",
    "normalised_hyperplanes",
    "pack_bits",
    "packed_codes",
    "PackedCodes",
    "prunable_layers",
    "PrunableLayer",
    "region_affine_map",
    "region_consistency_error",
    "spline_distances",
    "unit_hyperplanes",
    "unpack_bits",
]
