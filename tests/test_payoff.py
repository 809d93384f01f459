"""Chapter 4's payoff tables: firing summaries, savings, tickets against pruning after training."""

import numpy as np
import pandas as pd
import pytest

from spline_utils.early_bird.analysis import detection_epochs
from spline_utils.early_bird.payoff import (
    firing_comparisons,
    firing_summary,
    payoff_table,
    rule_comparisons,
    ticket_comparisons,
)
from spline_utils.experiments.results_files import committed_results, load_records, load_results


@pytest.fixture(scope="module")
def cpu_runs():
    runs = load_results(committed_results() / "cpu")
    return runs[runs.dataset == "fashion-mnist"]


def test_firing_summary_counts_what_the_replays_give():
    records = [r for r in load_records(committed_results() / "cpu", run="dense")]
    table = detection_epochs(
        records, windows=[3], spline_thresholds=[0.16], mask_thresholds=[0.1], ratios=[0.5]
    )
    summary = firing_summary(table, first_drop=8)
    spline = summary.loc[("spline", "-", 3, 0.16)]
    epochs = table[table.detector == "spline"].sort_values("seed").epoch
    assert spline.seeds == len(records) and spline.fired == int(epochs.notna().sum())
    assert spline.low == epochs.min() and spline.before_drop == int((epochs <= 8).sum())
    assert spline.earliest == 4 and spline.epochs.count(",") == len(records) - 1
    with pytest.raises(ValueError, match="detection_epochs"):
        firing_summary(pd.DataFrame({"seed": [0]}))


def test_payoff_pairs_each_ticket_with_after_training(cpu_runs):
    eb = payoff_table(cpu_runs)
    assert len(eb) == (cpu_runs.protocol == "early-bird").sum()
    row = eb.iloc[0]
    after = cpu_runs[
        (cpu_runs.protocol == "prune-finetune")
        & (cpu_runs.method == row.method)
        & (cpu_runs.ratio == row.ratio)
        & (cpu_runs.seed == row.seed)
    ]
    assert row.after_acc == after.test_acc.item()
    assert row.saving == pytest.approx(after.training_flops.item() / row.training_flops)
    # the spline detector's passes are counted: removing them would only raise the saving
    spline = eb[eb.detector == "spline"]
    assert (spline.saving_without_detector > spline.saving).all()
    orphan = cpu_runs[~((cpu_runs.protocol == "prune-finetune") & (cpu_runs.method == "random"))]
    with pytest.raises(ValueError, match="no prune-after-training run"):
        payoff_table(orphan)


def test_ticket_comparisons_form_one_family(cpu_runs):
    family = ticket_comparisons(cpu_runs)
    contrasts = set(family.index.get_level_values("contrast"))
    assert contrasts == {
        "EB spline vs after training",
        "EB mask vs after training",
        "EB spline vs EB mask",
    }
    assert (family.p_holm >= family.p).all() and (family.n >= 2).all()
    # the spline detector with the random rule has no mask partner: only vs after training
    random_rows = family.xs("random", level="method")
    assert set(random_rows.index.get_level_values("contrast")) == {"EB spline vs after training"}
    assert np.isfinite(family[["low", "high"]].to_numpy()).all()


def test_ticket_comparisons_need_min_seeds(cpu_runs):
    # drop seed 2's spline tickets with slimming's rule at 30 %: that contrast keeps 2 seeds
    short = cpu_runs[
        ~(
            (cpu_runs.protocol == "early-bird")
            & (cpu_runs.detector == "spline")
            & (cpu_runs.method == "slimming")
            & (cpu_runs.ratio == 0.3)
            & (cpu_runs.seed == 2)
        )
    ]
    two = ticket_comparisons(short)
    three = ticket_comparisons(short, min_seeds=3)
    gone = ("EB spline vs after training", "slimming", 0.3)
    assert two.loc[gone, "n"] == 2 and gone not in three.index
    assert (three.n >= 3).all() and len(three) == len(two) - 2  # also EB spline vs EB mask


def test_rule_comparisons_pair_one_detectors_tickets_by_seed(cpu_runs):
    family = rule_comparisons(cpu_runs)
    assert set(family.index.get_level_values("contrast")) == {
        "spline-global vs slimming",
        "slimming vs random",
    }
    assert (family.p_holm >= family.p).all() and (family.n == 3).all()
    # the mean difference is the mean over seeds of (a - b) on the spline detector's tickets
    eb = cpu_runs[(cpu_runs.protocol == "early-bird") & (cpu_runs.detector == "spline")]
    acc = eb[eb.ratio == 0.5].set_index(["method", "seed"]).test_acc
    expected = (acc.loc["slimming"] - acc.loc["random"]).mean()
    assert family.loc[("slimming vs random", 0.5), "mean"] == pytest.approx(expected)
    # the mask detector has no random-rule tickets: a clear error, not an empty table
    with pytest.raises(ValueError, match="no mask ticket.*'random'"):
        rule_comparisons(cpu_runs, detector="mask")
    mask = rule_comparisons(cpu_runs, detector="mask", contrasts=[("spline-global", "slimming")])
    assert len(mask) == 3
    with pytest.raises(ValueError, match="detector must be"):
        rule_comparisons(cpu_runs, detector="both")


def test_firing_comparisons_pair_seeds_and_keep_same_shifts_out_of_the_family():
    rows = []
    for seed in range(5):
        for window in (2, 3):
            rows.append(
                {
                    "detector": "spline",
                    "ratio": np.nan,
                    "window": window,
                    "seed": seed,
                    "epoch": 10.0 + seed % 2,
                }
            )
            # window 2: the mask rule 3 epochs later in every seed; window 3: a noisy difference
            shift = 3 if window == 2 else (-1) ** seed
            rows.append(
                {
                    "detector": "mask",
                    "ratio": 0.5,
                    "window": window,
                    "seed": seed,
                    "epoch": 10.0 + seed % 2 + shift,
                }
            )
    table = pd.DataFrame(rows)
    out = firing_comparisons({"a": table, "b": table[table.seed < 2]})
    assert out.index.get_level_values("arch").unique().tolist() == ["a"]  # b: 2 seeds < 3
    same = out.loc[("a", 0.5, 2)]
    assert same["same shift"] and same["mean"] == -3 and np.isnan(same.p_holm)
    assert same.verdict == "-3 in every seed (no test)"
    noisy = out.loc[("a", 0.5, 3)]
    assert not noisy["same shift"] and noisy.p_holm == pytest.approx(noisy.p)  # a family of 1
    assert noisy.verdict == "no difference found"
    missing = table.copy()
    missing.loc[0, "epoch"] = np.nan
    with pytest.raises(ValueError, match="did not fire"):
        firing_comparisons({"a": missing})
