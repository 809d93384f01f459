"""Data that needs no download: scikit-learn's bundled digits and synthetic 2-D sets.

CIFAR-10/100 (full mode) are added by the chapters that need them.
"""

from __future__ import annotations

import numpy as np
import torch

from .._validate import check_fraction, check_int, check_real


def digits_tensors(test_size: float = 0.25, seed: int = 0):
    """The 1,797 real 8x8 handwritten digits bundled with scikit-learn, as tensors.

    Returns ``(x_train, y_train, x_test, y_test)``: images float32 of shape (N, 1, 8, 8) scaled
    to [0, 1], labels int64 of shape (N,). The split is stratified and seeded.
    """
    test_size = check_fraction("test_size", test_size, low_open=True, high_open=True)
    seed = check_int("seed", seed, 0)
    from sklearn.datasets import load_digits  # imported here: scikit-learn takes seconds to import
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, None]
    y = digits.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(
        x, y, test_size=test_size, random_state=seed, stratify=y
    )
    return (
        torch.from_numpy(x_tr),
        torch.from_numpy(y_tr),
        torch.from_numpy(x_te),
        torch.from_numpy(y_te),
    )


def x_shaped_data(n: int = 2000, seed: int = 0, half_width: float = 5.0):
    """The X-shaped 2-D classification set of the authors' FCNet code.

    ``n`` points uniform on ``[-half_width, half_width]^2``; label 1 in the top and bottom wedges
    (``|y| > |x|``), else 0. Returns ``(x, y)``: float32 (n, 2) and int64 (n,).
    """
    n = check_int("n", n, 1)
    seed = check_int("seed", seed, 0)
    half_width = check_real("half_width", half_width, 0.0, low_open=True)
    rng = np.random.default_rng(seed)
    x = rng.uniform(-half_width, half_width, size=(n, 2)).astype(np.float32)
    y = (np.abs(x[:, 1]) > np.abs(x[:, 0])).astype(np.int64)
    return torch.from_numpy(x), torch.from_numpy(y)
