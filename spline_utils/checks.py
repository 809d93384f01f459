"""Argument checks shared by the public functions of the package (its ground floor).

Every check raises ``TypeError`` (wrong kind of value) or ``ValueError`` (right kind, wrong
value) with a message of the form ``"<argument> must be ..., got ..."``, and returns the value
in a normalised form (a Python ``int`` / ``float``, a tuple, a list of unit indices). Tensor
checks are one vectorised reduction per tensor, never a Python loop over entries.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping

import numpy as np
import torch
from torch import nn


def _show(value) -> str:
    """A short description of a value for an error message."""
    if isinstance(value, torch.Tensor):
        return f"a {value.dtype} tensor of shape {tuple(value.shape)}"
    if isinstance(value, np.ndarray):
        return f"a {value.dtype} array of shape {value.shape}"
    text = repr(value)
    return text if len(text) <= 80 else f"{type(value).__name__} {text[:70]}..."


def is_int(value) -> bool:
    """An integer that is not a bool: Python int, NumPy integer, or a 0-dim integer tensor."""
    if isinstance(value, (bool, np.bool_)):
        return False
    if isinstance(value, torch.Tensor):
        return (
            value.dim() == 0
            and not value.dtype.is_floating_point
            and not value.dtype.is_complex
            and value.dtype != torch.bool
        )
    return isinstance(value, (numbers.Integral, np.integer))


def check_int(name: str, value, minimum: int | None = None, maximum: int | None = None) -> int:
    """``value`` as a Python int in ``[minimum, maximum]``; bools and floats (even 2.0) refused."""
    if not is_int(value):
        raise TypeError(f"{name} must be an integer, got {_show(value)}")
    value = int(value)
    if minimum is not None and value < minimum:
        bound = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
        raise ValueError(f"{name} must be an integer {bound}, got {value}")
    if maximum is not None and value > maximum:
        bound = f"<= {maximum}" if minimum is None else f"in [{minimum}, {maximum}]"
        raise ValueError(f"{name} must be an integer {bound}, got {value}")
    return value


def check_real(
    name: str,
    value,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """``value`` as a finite Python float inside the interval given by ``low`` / ``high``
    (closed ends unless ``low_open`` / ``high_open``); bools, strings, NaN and inf refused."""
    real_tensor = (
        isinstance(value, torch.Tensor)
        and value.dim() == 0
        and value.dtype != torch.bool
        and not value.dtype.is_complex
    )
    if isinstance(value, (bool, np.bool_)) or not (isinstance(value, numbers.Real) or real_tensor):
        raise TypeError(f"{name} must be a real number, got {_show(value)}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value}")
    if (low is not None and (value < low or (low_open and value == low))) or (
        high is not None and (value > high or (high_open and value == high))
    ):
        if high is None:
            rule = f"{'>' if low_open else '>='} {low:g}"
        elif low is None:
            rule = f"{'<' if high_open else '<='} {high:g}"
        else:
            rule = f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        raise ValueError(f"{name} must be {rule}, got {value:g}")
    return value


def check_fraction(name: str, value, low_open: bool = False, high_open: bool = True) -> float:
    """A finite number in [0, 1) (by default; the ends are chosen by ``low_open`` / ``high_open``)."""
    return check_real(name, value, 0.0, 1.0, low_open=low_open, high_open=high_open)


def check_choice(name: str, value, allowed) -> str:
    """One of the strings in ``allowed``."""
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{name} must be one of {tuple(allowed)}, got {value!r}")
    return value


def check_bool(name: str, value) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {_show(value)}")
    return bool(value)


def check_module(name: str, value) -> nn.Module:
    if not isinstance(value, nn.Module):
        raise TypeError(f"{name} must be a torch.nn.Module, got {type(value).__name__}")
    return value


def check_finite(name: str, x) -> None:
    """Raise ``ValueError`` if the tensor / array ``x`` holds NaN or inf (integer and bool
    tensors are always finite). One sum over the tensor; the entrywise test runs only when the
    sum is not finite (it may overflow for huge finite values)."""
    if isinstance(x, np.ndarray):
        if (
            x.dtype.kind in "fc"
            and x.size
            and not np.isfinite(x.sum())
            and not np.isfinite(x).all()
        ):
            raise ValueError(
                f"{name} must be finite, got {int((~np.isfinite(x)).sum())} NaN/inf entries"
            )
        return
    if (x.dtype.is_floating_point or x.dtype.is_complex) and x.numel():
        if not bool(torch.isfinite(x.sum())) and not bool(torch.isfinite(x).all()):
            bad = int((~torch.isfinite(x)).sum())
            raise ValueError(f"{name} must be finite, got {bad} NaN/inf entries")


def check_tensor(
    name: str,
    x,
    min_dim: int | None = None,
    dim: int | None = None,
    non_empty: bool = False,
    finite: bool = True,
    real: bool = True,
) -> torch.Tensor:
    """A ``torch.Tensor`` of real numbers (bool and complex refused) with the given
    dimensionality, checked for NaN / inf."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if real and (x.dtype == torch.bool or x.dtype.is_complex):
        raise TypeError(f"{name} must hold real numbers, got dtype {x.dtype}")
    if dim is not None and x.dim() != dim:
        raise ValueError(f"{name} must have {dim} dimension(s), got shape {tuple(x.shape)}")
    if min_dim is not None and x.dim() < min_dim:
        raise ValueError(
            f"{name} must have at least {min_dim} dimension(s), got shape {tuple(x.shape)}"
        )
    if non_empty and x.numel() == 0:
        raise ValueError(f"{name} must not be empty, got shape {tuple(x.shape)}")
    if finite:
        check_finite(name, x)
    return x


def check_array(
    name: str, x, dim: int | None = None, shape: tuple | None = None, dtype=np.float64
) -> np.ndarray:
    """``x`` (array-like of real numbers) as a finite NumPy array of ``dtype`` with the given
    dimensionality / shape (``None`` entries of ``shape`` match any size)."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an array of real numbers, got {_show(x)}") from None
    if arr.dtype.kind not in "iuf" or arr.dtype == bool:
        raise TypeError(f"{name} must be an array of real numbers, got {_show(x)}")
    arr = arr.astype(dtype, copy=False)
    if dim is not None and arr.ndim != dim:
        raise ValueError(f"{name} must have {dim} dimension(s), got shape {arr.shape}")
    if shape is not None and (
        arr.ndim != len(shape) or any(s is not None and s != a for s, a in zip(shape, arr.shape))
    ):
        want = "(" + ", ".join("N" if s is None else str(s) for s in shape) + ")"
        raise ValueError(f"{name} must have shape {want}, got shape {arr.shape}")
    check_finite(name, arr)
    return arr


def check_unit_indices(name: str, indices, units: int | None = None) -> list[int]:
    """Unit indices as a list of Python ints: a sequence (list, tuple, range, set) of integers,
    or a 1-D integer array / tensor; bools, floats (1.7, even 2.0) and indices outside
    ``[0, units)`` refused."""
    if isinstance(indices, (str, bytes)) or is_int(indices) or isinstance(indices, (bool, float)):
        raise TypeError(f"{name} must be a sequence of unit indices, got {_show(indices)}")
    if isinstance(indices, (torch.Tensor, np.ndarray)):
        arr = indices.detach().cpu().numpy() if isinstance(indices, torch.Tensor) else indices
        if arr.ndim != 1:
            raise ValueError(
                f"{name} must be a 1-D sequence of unit indices, got shape {arr.shape}"
            )
        if arr.dtype.kind not in "iu":
            raise TypeError(f"{name} must hold integer unit indices, got dtype {arr.dtype}")
        values = [int(i) for i in arr.tolist()]
    elif isinstance(indices, Iterable) and not isinstance(indices, Mapping):
        values = list(indices)
        bad = [i for i in values if not is_int(i)]
        if bad:
            raise TypeError(f"{name} must hold integer unit indices, got {_show(bad[0])}")
        values = [int(i) for i in values]
    else:
        raise TypeError(f"{name} must be a sequence of unit indices, got {_show(indices)}")
    if units is not None:
        outside = sorted({i for i in values if not 0 <= i < units})
        if outside:
            raise ValueError(f"{name} must be unit indices in [0, {units}), got {outside}")
    return values


def check_mapping(name: str, value) -> Mapping:
    if not isinstance(value, Mapping):
        raise TypeError(f"{name} must be a mapping (dict), got {type(value).__name__}")
    return value


def check_scores(
    name: str, scores, length: int | None = None, non_negative: bool = False
) -> np.ndarray:
    """One layer's scores: a non-empty 1-D array of finite real numbers (float64)."""
    arr = check_array(name, scores, dim=1)
    if not len(arr):
        raise ValueError(f"{name} must hold one score per unit, got an empty array")
    if length is not None and len(arr) != length:
        raise ValueError(f"{name} must hold one score per unit ({length}), got {len(arr)}")
    if non_negative and (arr < 0).any():
        raise ValueError(f"{name} must be non-negative scores, got minimum {arr.min():g}")
    return arr


def check_domain(name: str, domain) -> tuple[float, float, float, float]:
    """A 2-D box ``(u_min, u_max, v_min, v_max)`` of finite numbers with ``u_min < u_max`` and
    ``v_min < v_max`` (``ValueError`` for anything else, including a non-sequence)."""
    if isinstance(domain, (str, bytes)) or not isinstance(
        domain, (Iterable, np.ndarray, torch.Tensor)
    ):
        raise ValueError(f"{name} must be (u_min, u_max, v_min, v_max), got {_show(domain)}")
    values = list(domain.tolist() if isinstance(domain, (np.ndarray, torch.Tensor)) else domain)
    if len(values) != 4:
        raise ValueError(
            f"{name} must be a 2-D box (u_min, u_max, v_min, v_max), got {len(values)} numbers"
        )

    def real(v) -> bool:  # a real number, or a 0-dim real tensor; not a bool
        if isinstance(v, torch.Tensor):
            return v.dim() == 0 and v.dtype != torch.bool and not v.dtype.is_complex
        return isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_))

    bad = [v for v in values if not real(v)]
    if bad:
        raise ValueError(f"{name} must hold 4 real numbers, got {_show(bad[0])}")
    values = tuple(float(v) for v in values)
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f"{name} must hold finite numbers, got {values} (not finite)")
    if not (values[0] < values[1] and values[2] < values[3]):
        raise ValueError(
            f"{name} must be a non-empty box with u_min < u_max and v_min < v_max, got {values}"
        )
    return values


def check_model_finite(model: nn.Module, name: str = "model") -> None:
    """Raise ``ValueError`` naming the first parameter or buffer of ``model`` with NaN / inf."""
    for what, items in (("parameter", model.named_parameters()), ("buffer", model.named_buffers())):
        for pname, tensor in items:
            if (
                tensor.dtype.is_floating_point
                and tensor.numel()
                and not bool(torch.isfinite(tensor.detach().sum()))
                and not bool(torch.isfinite(tensor.detach()).all())
            ):
                raise ValueError(
                    f"{name} {what} {pname!r} must be finite, but it holds NaN or inf: "
                    "the network it defines is not a (finite) affine spline"
                )


def check_sequence(name: str, values, check_each, non_empty: bool = True) -> list:
    """A list of checked entries: ``check_each(entry_name, entry)`` on each entry of a sequence
    (not a string, not a single number)."""
    if isinstance(values, (str, bytes, Mapping)) or not isinstance(values, Iterable):
        raise TypeError(f"{name} must be a sequence, got {_show(values)}")
    values = list(values)
    if non_empty and not values:
        raise ValueError(f"{name} must not be empty")
    return [check_each(f"{name}[{i}]", v) for i, v in enumerate(values)]
