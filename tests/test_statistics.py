"""The book's one statistics module: t intervals, paired differences, Holm."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from spline_utils.statistics import (
    compare_family,
    compare_paired,
    holm,
    paired_difference,
    t_interval,
    verdict,
)


def test_t_interval_uses_t_not_two_standard_errors():
    x = np.array([0.1, 0.4, 0.3])
    mean, low, high = t_interval(x)
    se = x.std(ddof=1) / np.sqrt(3)
    assert mean == pytest.approx(x.mean())
    assert (high - mean) / se == pytest.approx(4.3027, abs=1e-4)  # t(0.975, 2)
    _, low5, high5 = t_interval(np.arange(5.0))
    assert (high5 - 2.0) / (np.arange(5.0).std(ddof=1) / np.sqrt(5)) == pytest.approx(
        2.7764, abs=1e-4
    )


def test_paired_difference_is_the_paired_t_test():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=6), rng.normal(size=6)
    r = paired_difference(a, b)
    assert r["p"] == pytest.approx(stats.ttest_rel(a, b).pvalue)
    assert r["low"] < r["mean"] < r["high"] and r["n"] == 6
    same = paired_difference([1.0, 2.0], [0.5, 1.5])  # every difference 0.5: no spread
    assert same["p"] == 0.0 and same["low"] == same["high"] == 0.5
    assert paired_difference([1.0, 2.0], [1.0, 2.0])["p"] == 1.0


def test_holm_matches_the_step_down_definition():
    p = np.array([0.01, 0.04, 0.03, 0.005])
    # sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 -> 0.02, 0.03, 0.06, 0.04 -> monotone 0.06
    assert holm(p).tolist() == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5]).tolist() == [0.5] and holm([0.6, 0.6]).tolist() == [1.0, 1.0]
    assert (holm(p) >= p).all()


def test_compare_paired_pairs_by_seed_and_corrects_the_family():
    rows = []
    for seed in range(5):
        for ratio in (0.3, 0.5):
            rows.append({"seed": seed, "ratio": ratio, "method": "x", "acc": 0.9 + 0.01 * seed})
            gap = 0.05 if ratio == 0.5 else 0.001 * (-1) ** seed
            rows.append(
                {"seed": seed, "ratio": ratio, "method": "y", "acc": 0.9 + 0.01 * seed - gap}
            )
    table = compare_paired(
        pd.DataFrame(rows).sample(frac=1, random_state=0), "acc", "method", "x", "y", by="ratio"
    )
    assert table.loc[0.5, "mean"] == pytest.approx(0.05) and table.loc[0.5, "verdict"] == "higher"
    assert table.loc[0.3, "verdict"] == "no difference found"
    assert (table.p_holm >= table.p).all() and table.n.tolist() == [5, 5]


def test_bad_statistics_inputs_are_named():
    with pytest.raises(ValueError, match="paired"):
        paired_difference([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="at least 2"):
        t_interval([1.0])
    with pytest.raises(ValueError, match="finite"):
        t_interval([1.0, float("nan")])
    with pytest.raises(ValueError, match="probabilities"):
        holm([0.1, 1.5])
    with pytest.raises(ValueError, match="no column"):
        compare_paired(pd.DataFrame({"seed": [0]}), "acc", "method", "x", "y")
    dup = pd.DataFrame({"seed": [0, 0, 1, 1], "method": ["x", "x", "y", "y"], "acc": [1, 2, 3, 4]})
    with pytest.raises(ValueError, match="two rows"):
        compare_paired(dup, "acc", "method", "x", "y")
    assert verdict(-0.1, 0.2, 0.01) == "no difference found"


def test_a_family_is_corrected_over_all_its_contrasts():
    rng = np.random.default_rng(1)
    rows = []
    for seed in range(5):
        base = rng.normal()
        for method, shift in (("x", 0.3), ("y", 0.0), ("z", 0.01)):
            for ratio in (0.3, 0.5):
                rows.append(
                    {
                        "seed": seed,
                        "ratio": ratio,
                        "method": method,
                        "acc": base + shift + 0.01 * rng.normal(),
                    }
                )
    frame = pd.DataFrame(rows)
    family = compare_family(frame, "acc", "method", [("x", "y"), ("z", "y")], by="ratio")
    assert len(family) == 4 and family.index.names == ["contrast", "ratio"]
    alone = compare_paired(frame, "acc", "method", "z", "y", by="ratio")
    assert (family.loc["z vs y", "p"].to_numpy() == alone["p"].to_numpy()).all()
    assert (family.loc["z vs y", "p_holm"].to_numpy() >= alone["p_holm"].to_numpy()).all()
    assert (family.loc["x vs y", "verdict"] == "higher").all()
    with pytest.raises(ValueError, match="contrasts"):
        compare_family(frame, "acc", "method", [])


def test_min_pairs_leaves_out_or_refuses_the_groups_with_too_few_seeds():
    rows = [
        {"seed": s, "ratio": r, "method": m, "acc": 0.9 + 0.01 * s + (0.02 if m == "x" else 0)}
        for r, seeds in ((0.3, range(3)), (0.5, range(2)))
        for s in seeds
        for m in ("x", "y")
    ]
    frame = pd.DataFrame(rows)
    # with the default (2 pairs) both ratios are compared; asking 3 leaves out ratio 0.5 ...
    assert compare_paired(frame, "acc", "method", "x", "y", by="ratio").n.tolist() == [3, 2]
    table = compare_paired(
        frame, "acc", "method", "x", "y", by="ratio", skip_incomplete=True, min_pairs=3
    )
    assert table.index.tolist() == [0.3] and table.n.tolist() == [3]
    # ... and the family's correction counts only the tests that were made
    assert table.p_holm.tolist() == pytest.approx(table.p.tolist())
    # without skip_incomplete the short group is named
    with pytest.raises(ValueError, match=r"\(0.5,\) has 2 pairs, fewer than min_pairs = 3"):
        compare_paired(frame, "acc", "method", "x", "y", by="ratio", min_pairs=3)
    with pytest.raises(ValueError, match="min_pairs must be an integer >= 2, got 1"):
        compare_paired(frame, "acc", "method", "x", "y", by="ratio", min_pairs=1)
    # nothing left: an empty family, not an error
    empty = compare_family(
        frame, "acc", "method", [("x", "y")], by="ratio", skip_incomplete=True, min_pairs=4
    )
    assert len(empty) == 0 and "p_holm" in empty.columns
