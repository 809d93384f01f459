"""One seeding helper for the whole book."""

from __future__ import annotations

import os
import random

import numpy as np
import torch

__all__ = ["seed_everything"]


def seed_everything(seed: int = 0, deterministic: bool = True) -> int:
    """Seed Python's ``random``, NumPy and torch (CPU and every CUDA device).

    With ``deterministic=True`` cuDNN picks deterministic kernels and stops benchmarking
    (cheap for the small models of the book). ``PYTHONHASHSEED`` is set for child processes.

    Args:
        seed: a non-negative int (NumPy's legacy generator gets ``seed % 2**32``).
        deterministic: ask cuDNN for deterministic kernels.

    Returns:
        ``seed``, as an int, so a chapter can print it.

    Raises:
        ValueError: ``seed`` is not a non-negative integer.
        TypeError: ``deterministic`` is not a bool.

    Example:
        >>> su.seed_everything(0)
        0
        >>> first = torch.rand(2)
        >>> _ = su.seed_everything(0)
        >>> torch.equal(first, torch.rand(2))
        True
    """
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    seed = int(seed)
    if not isinstance(deterministic, (bool, np.bool_)):
        raise TypeError(f"deterministic must be True or False, got {deterministic!r}")
    random.seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 (the legacy global generator is what is seeded)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)
    if deterministic:
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
    return seed
