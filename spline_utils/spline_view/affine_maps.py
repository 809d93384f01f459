"""Per-region affine maps ``(A_omega, b_omega)`` of a continuous piecewise-affine network.

On the region ``omega`` that contains ``x`` the network is ``f(x) = A_omega x + b_omega``. Two
independent computations are offered, so each can check the other:

* :func:`mlp_region_affine_map` -- the explicit product of masked weight matrices of a ReLU
  MLP, ``A = W^L D^{L-1} W^{L-1} ... D^1 W^1`` with ``D^l = diag(q^l(x))``;
* :func:`region_affine_map` -- the Jacobian of ``f`` at ``x`` (``torch.func.jacrev``), valid for
  every supported model, ``b = f(x) - A x``.

Shapes: for inputs of shape ``(N, *input_shape)`` with ``D = prod(input_shape)`` and outputs of
shape ``(N, *output_shape)`` with ``K = prod(output_shape)``, ``A`` is (N, K, D) and ``b`` is
(N, K).
"""

from __future__ import annotations

import torch
from torch import nn

from ..checks import check_int
from .code_recording import prepare_input, run_model
from .codes import activation_codes
from .model_walk import check_batch_independent, evaluation_mode, structure_of

__all__ = ["mlp_region_affine_map", "region_affine_map", "region_consistency_error"]

_MLP_LAYERS = (
    nn.Linear,
    nn.ReLU,
    nn.LeakyReLU,
    nn.BatchNorm1d,
    nn.Dropout,
    nn.Identity,
    nn.Flatten,
)


def region_affine_map(
    model: nn.Module, x: torch.Tensor, batch_size: int = 256
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(A, b)`` of the region of each input, from the Jacobian (any supported model).

    Computed in eval mode, ``batch_size`` inputs at a time: because inputs do not interact
    in eval mode, the Jacobian of ``sum_n f(x_n)`` with respect to the batch holds every
    per-input Jacobian; ``b = f(x) - A x``.

    Args:
        model: a supported network (see
            :func:`~spline_utils.spline_view.model_walk.check_supported`).
        x: inputs of shape ``(N, *input_shape)``, N >= 1, finite.
        batch_size: inputs per Jacobian evaluation (>= 1).

    Returns:
        The pair ``(A, b)`` in the model's dtype, A (N, K, D) and b (N, K), with
        ``D = prod(input_shape)`` and ``K = prod(output_shape)``; on the region of ``x[n]`` the
        network is ``f(z) = A[n] @ z.flatten() + b[n]``.

    Raises:
        ValueError: the model is not supported or mixes the inputs of a batch, ``x`` is not a
            non-empty finite batch, or ``batch_size`` < 1.

    Example:
        >>> net = su.load_network("toy_mlp")  # 2 -> 6 -> 6 -> 1
        >>> x = torch.tensor([[0.5, -1.0], [2.0, 3.0], [-4.0, 0.0]])
        >>> A, b = su.region_affine_map(net, x)
        >>> tuple(A.shape), tuple(b.shape)
        ((3, 1, 2), (3, 1))
        >>> torch.allclose(net(x), (A @ x[:, :, None])[..., 0] + b, atol=1e-5)
        True
    """
    structure = structure_of(model)
    structure.check_supported()
    x = prepare_input(structure, x)
    batch_size = check_int("batch_size", batch_size, 1)
    check_batch_independent(structure, x)
    a_parts, b_parts = [], []
    with evaluation_mode(structure) as model:
        for start in range(0, x.shape[0], batch_size):
            xb = x[start : start + batch_size].detach()
            out = run_model(model, xb).detach()
            n = xb.shape[0]

            def summed(inp: torch.Tensor, n: int = n) -> torch.Tensor:
                return model(inp).reshape(n, -1).sum(0)

            jac = torch.func.jacrev(summed)(xb)  # (K, n, *input_shape)
            a = jac.reshape(jac.shape[0], n, -1).transpose(0, 1).contiguous()  # (n, K, D)
            b = out.reshape(n, -1) - torch.einsum("nkd,nd->nk", a, xb.reshape(n, -1))
            a_parts.append(a.detach())
            b_parts.append(b.detach())
    return torch.cat(a_parts), torch.cat(b_parts)


def _mlp_layers(model: nn.Module) -> list[nn.Module]:
    if isinstance(model, nn.Sequential):
        layers: list[nn.Module] = []
        for child in model:
            layers.extend(_mlp_layers(child))
        return layers
    if isinstance(model, _MLP_LAYERS):
        return [model]
    raise ValueError(
        f"mlp_region_affine_map needs an nn.Sequential of Linear / ReLU / LeakyReLU / "
        f"BatchNorm1d / Dropout / Identity / Flatten layers; found {type(model).__name__} "
        "(use region_affine_map, the Jacobian form, for other models)"
    )


def mlp_region_affine_map(model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(A, b)`` of each input's region as an explicit product of masked weight matrices.

    For a ReLU MLP ``W^1, b^1, ..., W^L, b^L`` with codes ``q^l(x)``:
    ``A = W^L D^{L-1} ... D^1 W^1`` and
    ``b = b^L + sum_l W^L D^{L-1} ... W^{l+1} D^l b^l`` with ``D^l = diag(q^l)``
    (LeakyReLU: ``D^l = diag(q^l + eta (1 - q^l))``; eval-mode BatchNorm1d is the affine map
    ``z -> s * z + t``, with ``gamma = 1, beta = 0`` when it has none). Independent of
    :func:`region_affine_map` (no autograd), so each checks the other.

    Args:
        model: an ``nn.Sequential`` (possibly nested) of Linear / ReLU / LeakyReLU /
            BatchNorm1d / Dropout / Identity / Flatten layers, evaluated in eval mode.
        x: inputs of shape (N, D) (or ``(N, *shape)``, flattened), N >= 1, finite.

    Returns:
        The pair ``(A, b)``, A (N, K, D) and b (N, K), in the model's dtype.

    Raises:
        ValueError: the model holds another kind of layer (use :func:`region_affine_map`), is
            not supported, or its widths do not match ``x``.

    Example:
        >>> net = su.load_network("toy_mlp")
        >>> x = torch.tensor([[0.5, -1.0], [2.0, 3.0], [-4.0, 0.0]])
        >>> A, b = su.mlp_region_affine_map(net, x)
        >>> tuple(A.shape), tuple(b.shape)
        ((3, 1, 2), (3, 1))
        >>> A_jac, b_jac = su.region_affine_map(net, x)  # the Jacobian agrees
        >>> torch.allclose(A, A_jac, atol=1e-6), torch.allclose(b, b_jac, atol=1e-5)
        (True, True)
    """
    structure = structure_of(model)
    structure.check_supported(trace=False)
    layers = _mlp_layers(structure.model)
    x = prepare_input(structure, x).reshape(x.shape[0], -1)
    n, d = x.shape
    a = torch.eye(d, dtype=x.dtype, device=x.device).expand(n, d, d)
    b = torch.zeros(n, d, dtype=x.dtype, device=x.device)
    z = x
    with torch.no_grad(), evaluation_mode(structure):
        for layer in layers:
            if isinstance(layer, nn.Linear):
                if z.shape[1] != layer.in_features:
                    raise ValueError(
                        f"input of width {z.shape[1]} does not match Linear(in_features={layer.in_features})"
                    )
                a = layer.weight @ a
                b = b @ layer.weight.T + (layer.bias if layer.bias is not None else 0.0)
            elif isinstance(layer, nn.BatchNorm1d):
                scale = 1.0 / torch.sqrt(layer.running_var + layer.eps)
                if layer.weight is not None:  # affine=False: no gamma, no beta
                    scale = layer.weight * scale
                shift = -layer.running_mean * scale
                if layer.bias is not None:
                    shift = layer.bias + shift
                a = scale[None, :, None] * a
                b = b * scale + shift
            elif isinstance(layer, (nn.ReLU, nn.LeakyReLU)):
                slope = 0.0 if isinstance(layer, nn.ReLU) else layer.negative_slope
                q = z > 0  # the layer's code
                diag = torch.where(q, torch.ones_like(z), torch.full_like(z, slope))
                a = diag[:, :, None] * a
                b = b * diag
            z = layer(z)
    return a.detach(), b.detach()


def region_consistency_error(model: nn.Module, x: torch.Tensor) -> float:
    """Largest ``|f(x) - (A_r x + b_r)|`` over the batch, where ``(A_r, b_r)`` is the affine map
    computed at *one representative input* of the region ``r`` that ``x`` falls in.

    This checks the spline view itself: the map found at one point of a region reproduces the
    network everywhere else in that region. Regions are told apart by their activation codes
    (:func:`~spline_utils.spline_view.codes.activation_codes`); the representative of a region
    is its first input in ``x``.

    Args:
        model: a supported network.
        x: inputs of shape ``(N, *input_shape)``, N >= 1, finite.

    Returns:
        The largest absolute difference, a Python float (rounding-level in the model's dtype
        when the spline view holds).

    Raises:
        ValueError: the model is not supported or ``x`` is not a non-empty finite batch.

    Example:
        >>> net = su.load_network("toy_mlp")
        >>> axis = torch.linspace(-5, 5, 50)
        >>> grid = torch.cartesian_prod(axis, axis)  # 2,500 points, every region
        >>> su.region_consistency_error(net, grid) < 1e-4
        True
    """
    structure = structure_of(model)
    codes = activation_codes(structure, x)
    ids = codes.region_ids()
    x = prepare_input(structure, x)
    first = {}
    for i, r in enumerate(ids.tolist()):
        first.setdefault(r, i)
    reps = torch.tensor(list(first.values()), device=x.device)
    a, b = region_affine_map(structure, x[reps])
    slot_of = {r: j for j, r in enumerate(first)}
    slot = torch.as_tensor([slot_of[r] for r in ids.tolist()], device=x.device)
    predicted = torch.einsum("nkd,nd->nk", a[slot], x.reshape(x.shape[0], -1)) + b[slot]
    return float((predicted - codes.outputs.reshape(x.shape[0], -1)).abs().max())
