"""Data that needs no download: scikit-learn's bundled digits and synthetic 2-D sets.

CIFAR-10/100 (full mode) are added by the chapters that need them.
"""

from __future__ import annotations

import numpy as np
import torch

from ..checks import check_fraction, check_int, check_real


def digits_tensors(test_size: float = 0.25, seed: int = 0):
    """The 1,797 real 8x8 handwritten digits bundled with scikit-learn, as tensors.

    No download: the images ship with scikit-learn (imported on the first call, which takes a
    few seconds).

    Args:
        test_size: fraction of the images held out for testing, in (0, 1).
        seed: seed of the split.

    Returns:
        ``(x_train, y_train, x_test, y_test)`` with images float32 of shape (N, 1, 8, 8)
        scaled to [0, 1] and labels int64 of shape (N,). The split is stratified and seeded.

    Raises:
        ValueError: ``test_size`` outside (0, 1), or ``seed`` not a non-negative int.

    Example:
        >>> x_train, y_train, x_test, y_test = su.digits_tensors()
        >>> tuple(x_train.shape), tuple(x_test.shape)
        ((1347, 1, 8, 8), (450, 1, 8, 8))
        >>> x_train.dtype, y_train.dtype
        (torch.float32, torch.int64)
        >>> float(x_train.min()), float(x_train.max())
        (0.0, 1.0)
        >>> y_test.unique().tolist()
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    """
    test_size = check_fraction("test_size", test_size, low_open=True, high_open=True)
    seed = check_int("seed", seed, 0)
    from sklearn.datasets import load_digits  # scikit-learn takes seconds to import
    from sklearn.model_selection import train_test_split  # (the same)

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
    (``|y| > |x|``), else 0.

    Args:
        n: number of points (>= 1).
        seed: seed of NumPy's generator (the same points on every machine).
        half_width: half the side of the square, > 0.

    Returns:
        ``(x, y)``, float32 (n, 2) and int64 (n,).

    Raises:
        ValueError: ``n`` < 1, a negative ``seed``, or ``half_width`` <= 0.

    Example:
        >>> x, y = su.x_shaped_data(n=500, seed=0)
        >>> tuple(x.shape), x.dtype, tuple(y.shape), y.dtype
        ((500, 2), torch.float32, (500,), torch.int64)
        >>> int(y.sum()), bool((x.abs() <= 5).all())
        (253, True)
    """
    n = check_int("n", n, 1)
    seed = check_int("seed", seed, 0)
    half_width = check_real("half_width", half_width, 0.0, low_open=True)
    rng = np.random.default_rng(seed)
    x = rng.uniform(-half_width, half_width, size=(n, 2)).astype(np.float32)
    y = (np.abs(x[:, 1]) > np.abs(x[:, 0])).astype(np.int64)
    return torch.from_numpy(x), torch.from_numpy(y)
