"""The modules the spline view covers, and the per-module check of a model.

A module of a supported network is one of

* a **code-defining nonlinearity** (``CODE_MODULES``): ``nn.ReLU``, ``nn.LeakyReLU`` with
  ``negative_slope`` in [0, 1], ``nn.MaxPool2d`` without ``ceil_mode`` / ``return_indices``;
* an **affine module** (``AFFINE_MODULES``); a BatchNorm must keep running statistics, with
  ``running_var >= 0``;
* a **container** (``CONTAINER_MODULES``, or any module with children; the operations of a
  custom ``forward`` are checked by :mod:`~spline_utils.spline_view.affine_operations`).

Smooth nonlinearities (``NOT_PIECEWISE_AFFINE``) and unknown leaf modules are refused with a
``ValueError`` naming the module. The whole check, modules and ``forward``, is
:func:`~spline_utils.spline_view.model_walk.check_supported`
(:meth:`~spline_utils.spline_view.structure.NetworkStructure.check_supported`).
"""

from __future__ import annotations

from torch import nn

__all__ = [
    "AFFINE_MODULES",
    "CODE_MODULES",
    "CONTAINER_MODULES",
    "NOT_PIECEWISE_AFFINE",
    "check_module_supported",
]

# nonlinearities whose every call records one layer of the region code
CODE_MODULES: tuple[type[nn.Module], ...] = (nn.ReLU, nn.LeakyReLU, nn.MaxPool2d)
# affine modules, folded into their neighbours (BatchNorm and Dropout in eval mode)
AFFINE_MODULES: tuple[type[nn.Module], ...] = (
    nn.Linear,
    nn.Conv2d,
    nn.BatchNorm1d,
    nn.BatchNorm2d,
    nn.AvgPool2d,
    nn.AdaptiveAvgPool2d,
    nn.Flatten,
    nn.Dropout,
    nn.Identity,
)
# containers: only their children are checked (and a custom ``forward`` traced)
CONTAINER_MODULES: tuple[type[nn.Module], ...] = (nn.Sequential, nn.ModuleList, nn.ModuleDict)
# smooth nonlinearities, refused: the network they build is not piecewise affine
NOT_PIECEWISE_AFFINE: tuple[type[nn.Module], ...] = (
    nn.Tanh,
    nn.Sigmoid,
    nn.GELU,
    nn.SiLU,
    nn.ELU,
    nn.CELU,
    nn.SELU,
    nn.Softplus,
    nn.Mish,
    nn.Hardswish,
    nn.Hardsigmoid,
    nn.Softmax,
    nn.LogSoftmax,
    nn.Softsign,
    nn.Tanhshrink,
    nn.LogSigmoid,
)


def check_module_supported(name: str, module: nn.Module, leaf: bool | None = None) -> None:
    """Raise ``ValueError`` naming module ``name`` unless the spline view covers it: a code
    nonlinearity, an affine module or a container (the module doc). ``leaf``: whether it has
    no children (``None``: look)."""
    label = name or type(module).__name__
    if isinstance(module, NOT_PIECEWISE_AFFINE):
        raise ValueError(
            f"module '{label}' ({type(module).__name__}) is not piecewise affine: the spline "
            "view needs ReLU, LeakyReLU or MaxPool2d nonlinearities"
        )
    if isinstance(module, nn.MaxPool2d):
        if module.ceil_mode:
            raise ValueError(
                f"module '{label}' (MaxPool2d) uses ceil_mode=True, which is not supported"
            )
        if module.return_indices:
            raise ValueError(
                f"module '{label}' (MaxPool2d) uses return_indices=True, which is not supported"
            )
    if isinstance(module, nn.LeakyReLU) and not 0.0 <= module.negative_slope <= 1.0:
        raise ValueError(
            f"module '{label}' (LeakyReLU) has negative_slope={module.negative_slope}; the max-affine "
            "view needs negative_slope in [0, 1] (max(u, eta u) is convex only for 0 <= eta <= 1: a "
            "negative slope or a slope above 1 makes it non-convex)"
        )
    if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
        if (
            not module.track_running_stats
            or module.running_mean is None
            or module.running_var is None
        ):
            raise ValueError(
                f"module '{label}' ({type(module).__name__}) keeps no running statistics "
                "(track_running_stats=False): it normalises every batch by that batch's own "
                "statistics even in eval mode, so its output depends on the other inputs of the batch "
                "and the network has no per-input affine map; use track_running_stats=True"
            )
        if bool((module.running_var < 0).any()):
            raise ValueError(
                f"module '{label}' ({type(module).__name__}) has a negative running_var: "
                "running_var must be >= 0"
            )
    if isinstance(module, CODE_MODULES + AFFINE_MODULES + CONTAINER_MODULES):
        return
    if leaf is None:
        leaf = next(module.children(), None) is None
    if leaf:  # an unknown leaf
        raise ValueError(
            f"module '{label}' ({type(module).__name__}) is not supported; supported layers: "
            + ", ".join(t.__name__ for t in CODE_MODULES + AFFINE_MODULES)
        )
