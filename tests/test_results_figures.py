"""The results figure of Chapters 4 and 6: means and spreads over seeds, the cost axes, and
clear errors."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from spline_utils.plotting import plot_pruning_results  # noqa: E402


def _frame(seeds=(0, 1, 2)):
    rows = []
    for seed in seeds:
        rows.append(
            dict(
                protocol="dense",
                method="dense",
                detector=None,
                ratio=0.0,
                seed=seed,
                run="dense",
                test_acc=0.9 + 0.01 * seed,
                training_flops=100.0,
                flops_fraction=np.nan,
            )
        )
        for method in ("slimming", "random"):
            for ratio in (0.3, 0.7):
                rows.append(
                    dict(
                        protocol="prune-finetune",
                        method=method,
                        detector=None,
                        ratio=ratio,
                        seed=seed,
                        run=f"prune-{method}",
                        test_acc=0.8 + 0.02 * seed - ratio / 10,
                        training_flops=120.0 + seed,
                        flops_fraction=1 - ratio,
                    )
                )
    return pd.DataFrame(rows)


@pytest.mark.parametrize("cost", ["training_flops", "flops_fraction"])
def test_means_and_spreads_over_seeds(cost):
    frame = _frame()
    fig = plot_pruning_results(frame, "title", cost=cost)
    left, right = fig.axes
    # one errorbar per method on the left, at the means over the three seeds
    bars = {c.get_label(): c for c in left.containers}
    slimming = frame[(frame.method == "slimming")].groupby("ratio").test_acc.mean()
    np.testing.assert_allclose(bars["slimming"].lines[0].get_ydata(), slimming.values)
    np.testing.assert_allclose(bars["slimming"].lines[0].get_xdata(), [30, 70])
    # the error bars are the standard deviations over seeds (0.02 * std of 0, 1, 2 = 0.02)
    segments = bars["slimming"].lines[2][0].get_segments()
    np.testing.assert_allclose([s[1, 1] - s[0, 1] for s in segments], [0.04, 0.04])
    # inference FLOPs fractions span decades (log); one experiment's training FLOPs do not
    assert right.get_xscale() == ("log" if cost == "flops_fraction" else "linear")
    plt.close(fig)


def test_single_seed_has_no_spread():
    fig = plot_pruning_results(_frame(seeds=(0,)))
    bars = fig.axes[0].containers[0]
    segments = bars.lines[2][0].get_segments()
    assert all(abs(s[1, 1] - s[0, 1]) < 1e-12 for s in segments)
    plt.close(fig)


def test_bad_cost_is_named():
    with pytest.raises(ValueError, match="cost must be one of"):
        plot_pruning_results(_frame(), cost="seconds")
    with pytest.raises(ValueError, match="no 'flops_fraction' column"):
        plot_pruning_results(_frame().drop(columns="flops_fraction"), cost="flops_fraction")


def test_code_distances_label_every_detector_that_fired():
    from spline_utils.plotting import plot_code_distances

    record = {
        "code_distances": {
            "epochs": [0, 1, 2, 3],
            "matrix": np.zeros((4, 4)).tolist(),
            "canvas": 2,
        },
        "metrics": {"eb_epochs": {"spline": 3, "mask-p30": 2, "mask-p50": 2, "mask-p70": None}},
    }
    ax = plot_code_distances(record)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    plt.close(ax.figure)
    # one line per firing epoch: the two mask detectors that fired at epoch 2 share it, the one
    # that never fired has none
    assert labels == ["spline EB (epoch 3)", "mask EB p30, p50 (epoch 2)"]


def test_early_bird_runs_are_hollow_and_dashed():
    frame = _frame()
    eb = frame[frame.protocol == "prune-finetune"].assign(protocol="early-bird", detector="spline")
    fig = plot_pruning_results(pd.concat([frame, eb]), cost="flops_fraction")
    bars = {c.get_label(): c for c in fig.axes[0].containers}
    plt.close(fig)
    line, solid = bars["eb-spline/slimming"].lines[0], bars["slimming"].lines[0]
    assert line.get_linestyle() == "--" and line.get_markerfacecolor() == "white"
    assert solid.get_linestyle() == "-" and solid.get_markerfacecolor() != "white"
