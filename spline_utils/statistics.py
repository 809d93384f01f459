"""The book's statistics, in one place: paired differences over seeds, t-based confidence
intervals, and Holm's correction within a family of tests. Chapters 3, 4 and 6 use it.

Conventions (the book's): two runs that share a seed share their dense network, data split and
batch order, so they are compared *paired by seed*; an interval is the t-based 95 % interval of
the mean paired difference (with n seeds its half-width is ``t(0.975, n - 1)`` standard errors:
4.30 for 3 seeds, 2.78 for 5 -- not 2); a family of tests is corrected with Holm's step-down
method; and a test that fails to reject reads "no difference found", never "the same".
"""

from __future__ import annotations

import numpy as np
from scipy import stats as _stats

from .checks import check_fraction, check_int, check_real

__all__ = [
    "t_interval",
    "paired_difference",
    "holm",
    "compare_paired",
    "compare_family",
    "verdict",
    "VERDICTS",
]

#: the words a comparison may end in (:func:`verdict`)
VERDICTS = ("higher", "lower", "no difference found")


def _values(name: str, values) -> np.ndarray:
    array = np.asarray(values, dtype=float).reshape(-1)
    if array.size == 0:
        raise ValueError(f"{name} must hold at least one number, got none")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} must be finite, got {array.tolist()}")
    return array


def t_interval(values, confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean of ``values`` and its t-based two-sided ``confidence`` interval.

    Args:
        values: n >= 2 finite numbers (e.g. one per seed).
        confidence: in (0, 1).

    Returns:
        ``(mean, low, high)``; the half-width is ``t(1 - (1 - confidence) / 2, n - 1)`` times
        the standard error ``std(ddof=1) / sqrt(n)``.

    Example:
        >>> mean, low, high = t_interval([1.0, 2.0, 3.0])
        >>> mean, round(high - mean, 2)  # 4.30 standard errors of 0.577
        (2.0, 2.48)
    """
    x = _values("values", values)
    confidence = check_fraction("confidence", confidence, low_open=True, high_open=True)
    if x.size < 2:
        raise ValueError(f"values must hold at least 2 numbers for an interval, got {x.size}")
    mean = float(x.mean())
    half = float(_stats.t.ppf(0.5 + confidence / 2, x.size - 1) * x.std(ddof=1) / np.sqrt(x.size))
    return mean, mean - half, mean + half


def paired_difference(a, b, confidence: float = 0.95) -> dict:
    """The paired comparison of ``a`` and ``b`` (entry i of each from the same seed).

    Returns a dict: ``n``, ``mean`` (of a - b), ``low`` / ``high`` (t-based interval of that
    mean), ``p`` (two-sided paired t-test of a zero mean difference). When every difference is
    the same number the spread is 0: the interval is that number and ``p`` is 1 if it is 0,
    else 0.

    Example:
        >>> r = paired_difference([0.90, 0.92, 0.95], [0.88, 0.91, 0.92])
        >>> r["n"], round(r["mean"], 3), round(r["low"], 3), round(r["high"], 3)  # covers 0
        (3, 0.02, -0.005, 0.045)
    """
    a, b = _values("a", a), _values("b", b)
    if a.size != b.size:
        raise ValueError(
            f"a and b must be paired (one value per seed each), got {a.size} and {b.size}"
        )
    d = a - b
    if d.size < 2:
        raise ValueError(f"a paired comparison needs at least 2 pairs, got {d.size}")
    if np.ptp(d) == 0:
        mean = float(d[0])
        return {"n": int(d.size), "mean": mean, "low": mean, "high": mean, "p": float(mean == 0)}
    mean, low, high = t_interval(d, confidence)
    p = float(_stats.ttest_1samp(d, 0.0).pvalue)
    return {"n": int(d.size), "mean": mean, "low": low, "high": high, "p": p}


def holm(pvalues) -> np.ndarray:
    """Holm's step-down adjusted p-values of one family of tests (same order as given): the
    i-th smallest p is multiplied by (m - i + 1), made monotone, and capped at 1. A test of the
    family is significant at level alpha when its adjusted p is below alpha.

    Example:
        >>> holm([0.01, 0.04, 0.03]).round(2).tolist()
        [0.03, 0.06, 0.06]
    """
    p = np.asarray(pvalues, dtype=float).reshape(-1)
    if p.size == 0:
        return p
    if np.isnan(p).any() or (p < 0).any() or (p > 1).any():
        raise ValueError(f"pvalues must be probabilities in [0, 1], got {p.tolist()}")
    order = np.argsort(p, kind="stable")
    m = p.size
    adjusted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = adjusted
    return out


def compare_paired(
    frame,
    value: str,
    column: str,
    a,
    b,
    by=(),
    pair_on: str = "seed",
    confidence: float = 0.95,
    skip_incomplete: bool = False,
    min_pairs: int = 2,
):
    """Paired comparisons of rows ``column == a`` against rows ``column == b`` of a results
    table, one per group of ``by``, as one family of tests (Holm-corrected together).

    Args:
        frame: a pandas DataFrame with one row per run.
        value: the column compared (e.g. ``"test_acc"``).
        column: the column naming the two treatments (e.g. ``"method"``).
        a, b: the two treatments; differences are a - b.
        by: the columns whose combinations are compared separately (e.g. ``("ratio",)``).
        pair_on: the column that pairs rows (one row per treatment and pair in each group).
        confidence: of the intervals.
        skip_incomplete: leave out the groups with fewer than ``min_pairs`` pairs (instead of
            raising).
        min_pairs: the fewest pairs a comparison is made on (at least 2; the book asks 3 of a
            real-data comparison).

    Returns:
        A DataFrame indexed by ``by`` with columns ``n``, ``mean``, ``low``, ``high``, ``p``,
        ``p_holm`` and ``verdict`` (:func:`verdict` at level 1 - confidence, on ``p_holm``).

    Raises:
        ValueError: a column is missing, a group has a treatment twice for one pair, or fewer
            than ``min_pairs`` pairs (unless ``skip_incomplete``).
    """
    import pandas as pd  # pandas takes a second to import: only for tables

    min_pairs = check_int("min_pairs", min_pairs, 2)
    by = [by] if isinstance(by, str) else list(by)
    for name in (value, column, pair_on, *by):
        if name not in frame.columns:
            raise ValueError(f"the table has no column {name!r}: it has {list(frame.columns)}")
    rows = []
    groups = frame.groupby(by, sort=True) if by else [((), frame)]
    for key, group in groups:
        sides = []
        for treatment in (a, b):
            side = group[group[column] == treatment]
            if side[pair_on].duplicated().any():
                raise ValueError(
                    f"{column} = {treatment!r} has two rows for one {pair_on} in group {key}: "
                    "give `by` the columns that tell them apart"
                )
            sides.append(side.set_index(pair_on)[value])
        left, right = sides[0].align(sides[1], join="inner")
        if len(left) < min_pairs:
            if skip_incomplete:
                continue
            raise ValueError(
                f"{a!r} vs {b!r} in group {key} has {len(left)} pairs, fewer than min_pairs = "
                f"{min_pairs}: pass skip_incomplete=True to leave such groups out"
            )
        result = paired_difference(left.to_numpy(), right.to_numpy(), confidence)
        key = key if isinstance(key, tuple) else (key,)
        rows.append({**dict(zip(by, key)), **result})
    table = pd.DataFrame(rows, columns=[*by, "n", "mean", "low", "high", "p"])
    table["p_holm"] = holm(table["p"].to_numpy())
    alpha = 1.0 - confidence
    table["verdict"] = [verdict(r.low, r.high, r.p_holm, alpha) for r in table.itertuples()]
    return table.set_index(by) if by else table


def compare_family(
    frame,
    value: str,
    column: str,
    contrasts,
    by=(),
    pair_on: str = "seed",
    confidence: float = 0.95,
    skip_incomplete: bool = False,
    min_pairs: int = 2,
):
    """Several paired contrasts of one results table as *one* family of tests: each contrast
    ``(a, b)`` compared as in :func:`compare_paired` in every group of ``by``, and Holm's
    correction applied over all of their tests together.

    Returns:
        A DataFrame indexed by ``("contrast", *by)`` -- the contrast named ``"a vs b"`` -- with
        the columns of :func:`compare_paired` (``p_holm`` and ``verdict`` over the family);
        ``skip_incomplete`` and ``min_pairs`` as there.

    Example:
        >>> import pandas as pd
        >>> rows = [{"seed": s, "m": m, "acc": 0.9 + 0.01 * s + (0.05 if m == "x" else 0)}
        ...         for s in range(4) for m in ("x", "y", "z")]
        >>> t = compare_family(pd.DataFrame(rows), "acc", "m", [("x", "y"), ("y", "z")])
        >>> t["verdict"].tolist()
        ['higher', 'no difference found']
    """
    import pandas as pd  # pandas takes a second to import: only for tables

    by = [by] if isinstance(by, str) else list(by)
    tables = []
    for a, b in contrasts:
        table = compare_paired(
            frame, value, column, a, b, by, pair_on, confidence, skip_incomplete, min_pairs
        ).reset_index()
        table.insert(0, "contrast", f"{a} vs {b}")
        tables.append(table)
    if not tables:
        raise ValueError("contrasts must list at least one pair (a, b)")
    family = pd.concat(tables, ignore_index=True)
    family = family.drop(columns=[c for c in ("index",) if c in family.columns])
    family["p_holm"] = holm(family["p"].to_numpy())
    alpha = 1.0 - confidence
    family["verdict"] = [verdict(r.low, r.high, r.p_holm, alpha) for r in family.itertuples()]
    return family.set_index(["contrast", *by])


def verdict(low: float, high: float, p: float, alpha: float = 0.05) -> str:
    """``"higher"`` / ``"lower"`` when the (corrected) test rejects a zero difference at level
    ``alpha`` and the interval lies above / below zero; otherwise ``"no difference found"``
    (which is not evidence of equality)."""
    alpha = check_real("alpha", alpha, 0.0, 1.0, low_open=True, high_open=True)
    if p < alpha and low > 0:
        return "higher"
    if p < alpha and high < 0:
        return "lower"
    return "no difference found"
