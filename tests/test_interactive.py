"""The figures the reader can move (spline_utils.plotting.interactive): the static scrubber's
HTML, and for each of the four figures its data, its widget (built headless, a control changed,
the redrawn data checked) and its scrubber."""

import json
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import spline_utils as su  # noqa: E402
from spline_utils.early_bird import replay_spline_detector, unit_masks  # noqa: E402
from spline_utils.early_bird.replay import gamma_mask  # noqa: E402
from spline_utils.experiments.provenance import read_json  # noqa: E402
from spline_utils.experiments.results_files import committed_results  # noqa: E402
from spline_utils.plotting import interactive as ia  # noqa: E402
from spline_utils.plotting.interactive import layer_widths as lw  # noqa: E402

RUN = "fashion-mnist-vgg16-w0.125-seed0"


@pytest.fixture(scope="module")
def dense_record():
    return read_json(committed_results() / "cpu" / RUN / "dense.json")


@pytest.fixture(scope="module")
def trajectory():
    return read_json(committed_results() / "cpu" / RUN / "code-trajectory.json")


# --------------------------------------------------------------------------- the scrubber
class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.scripts, self._in_script = [], [], False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts.append(data)


def _parse(text: str) -> _Tags:
    parser = _Tags()
    parser.feed(text)
    parser.close()
    return parser


def _small_figures(n: int):
    figures = []
    for k in range(n):
        fig, ax = plt.subplots(figsize=(2, 1.5))
        ax.plot([0, 1], [0, k])
        ax.set_title(f"frame {k}")
        figures.append(fig)
    return figures


def test_scrubber_html_is_self_contained_with_every_frame():
    s = ia.scrubber(_small_figures(3), ["a", "b", "c < d"], title="three", dpi=40)
    text = s.html()
    parsed = _parse(text)
    roots = [a for t, a in parsed.tags if "spline-scrubber" in a.get("class", "").split()]
    assert len(roots) == 1 and roots[0]["data-frames"] == "3" and roots[0]["data-current"] == "0"
    images = [a for t, a in parsed.tags if t == "img"]
    assert len(images) == 1  # one image; the script swaps its src
    assert images[0]["src"].startswith("data:image/png;base64,") and images[0]["alt"] == "figure: a"
    assert "max-width:100%" in images[0]["style"] and "height:auto" in images[0]["style"]
    script = "".join(parsed.scripts)
    assert script.count('"data:image/png;base64,') == 2  # the other frames, inline
    assert text.count("data:image/png;base64,") == 3 == s.n_frames
    sliders = [a for t, a in parsed.tags if t == "input"]
    assert len(sliders) == 1 and sliders[0]["type"] == "range" and sliders[0]["max"] == "2"
    assert "width:100%" in sliders[0]["style"]
    assert {a["class"] for t, a in parsed.tags if t == "button"} == {
        "spline-scrubber-prev",
        "spline-scrubber-next",
        "spline-scrubber-play",
    }
    # nothing is loaded from anywhere: every src / href is inline data, no external asset
    for tag, attrs in parsed.tags:
        for key in ("src", "href"):
            value = attrs.get(key)
            assert value is None or value.startswith("data:"), (tag, key, value[:40])
        assert tag not in ("link", "iframe", "object", "embed")
    assert not any(a.get("src") for t, a in parsed.tags if t == "script")
    assert not re.search(r"https?:|url\(|@import|fetch\(|XMLHttpRequest", script)
    wide = ia.scrubber(s.frames, s.labels, min_width=500).html()
    assert wide.count("min-width:500px") == 1 and "auto;min-width" not in text
    assert '"c < d"' in script and "c &lt; d" in ia.scrubber(s.frames, s.labels, start=2).html()


def test_scrubber_ids_are_unique_and_size_is_reported():
    figures = _small_figures(2)
    frames = [ia.figure_image(f, dpi=40) for f in figures]
    first, second = ia.scrubber(frames, ["x", "y"]), ia.scrubber(frames, ["x", "y"])
    ids = [
        re.search(r'id="([^"]+)"', h).group(1)
        for h in (first._repr_html_(), second._repr_html_(), first._repr_html_())
    ]
    assert len(set(ids)) == 3  # two instances, and the same one shown twice
    for text, element_id in zip((first.html(element_id="a"),), ("a",)):
        assert f'getElementById("{element_id}")' in text
    assert abs(first.size_bytes - len(first.html().encode())) < 10  # the id's counter
    plain = repr(first)
    assert "2 frames" in plain and "KiB" in plain and "base64" not in plain and len(plain) < 120


def test_scrubber_frames_and_labels_are_checked():
    (fig,) = _small_figures(1)
    png = ia.figure_image(fig, dpi=40)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    (fig,) = _small_figures(1)
    webp = ia.figure_image(fig, dpi=40, image_format="webp")
    assert webp[:4] == b"RIFF" and webp[8:12] == b"WEBP"
    assert 'src="data:image/webp;base64,' in ia.scrubber([webp], ["w"]).html()
    with pytest.raises(ValueError, match="labels"):
        ia.scrubber([png, png], ["only one"])
    with pytest.raises(ValueError, match="PNG or WebP"):
        ia.scrubber([b"not an image"], ["x"])
    with pytest.raises(ValueError, match="at least one frame"):
        ia.scrubber([], [])
    with pytest.raises(ValueError, match="start"):
        ia.scrubber([png], ["x"], start=1)


DRIVER = """<script>window.addEventListener('load', function () {
  var out = [];
  document.querySelectorAll('.spline-scrubber').forEach(function (root, n) {
    var img = root.querySelector('img'), before = img.getAttribute('src');
    if (n === 0) {
      var s = root.querySelector('input[type=range]');
      s.value = '2'; s.dispatchEvent(new Event('input', {bubbles: true}));
    } else {
      root.querySelector('.spline-scrubber-prev').click();
    }
    out.push([img.getAttribute('src') !== before, root.getAttribute('data-current'),
              root.querySelector('.spline-scrubber-label').textContent, img.alt].join('|'));
  });
  var pre = document.createElement('pre'); pre.id = 'result';
  pre.textContent = out.join(';'); document.body.appendChild(pre);
});</script>"""


@pytest.mark.skipif(shutil.which("chromium") is None, reason="no chromium: browser check skipped")
def test_scrubber_moves_in_a_browser(tmp_path):
    """Two scrubbers on one page, in headless Chromium without network: moving one slider
    changes its frame only; the other's previous button wraps to its last frame."""
    frames = [ia.figure_image(f, dpi=30) for f in _small_figures(3)]
    one, two = ia.scrubber(frames, ["a", "b", "c"]), ia.scrubber(frames, ["a", "b", "c"])
    page = tmp_path / "page.html"
    page.write_text(f"<!DOCTYPE html><html><body>{one.html()}{two.html()}{DRIVER}</body></html>")
    out = subprocess.run(
        [
            "chromium",
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--proxy-server=127.0.0.1:9",
            "--virtual-time-budget=2000",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    result = re.search(r'<pre id="result">([^<]*)</pre>', out.stdout)
    assert result, out.stderr[-2000:]
    assert result.group(1) == "true|2|c|figure: c;true|2|c|figure: c"


# --------------------------------------------------------------------------- Chapter 2
def test_toy_pruning_data_follows_proposition_1():
    dead = ia.toy_pruning_data([0])  # unit 0 is off on the whole square (Chapter 2)
    assert dead.changed_splines == () and dead.maps_changed == 0
    assert dead.region_counts["pruned"] == dead.region_counts["dense"] == [16, 63]
    data = ia.toy_pruning_data([2])
    assert data.pruned_units == (2,)
    assert data.region_counts["pruned"][0] < 16  # its spline's regions merged
    # the bends that unit 2's spline supplied are lost: at least that many
    points, _ = su.spline_turning_points(data.dense, 1)
    labels, _ = su.supplying_splines(data.dense, points, before_layer=1)
    supplied = int(((labels & 0xFFFFFFFF) == 2).sum())
    assert supplied > 0 and sum(data.bends_lost.values()) >= supplied
    assert set(data.changed_splines) == {
        u for u in data.bends_lost if data.bends_lost[u] or data.bends_gained[u]
    }
    assert 0 < data.maps_changed < data.pruned.n_regions and 0 < data.area_changed < 1
    assert len(data.lost_points) == sum(data.bends_lost.values())
    assert "regions 63 -> " in data.summary()


def test_toy_pruning_figure_highlights_the_changed_splines():
    data = ia.toy_pruning_data([2])
    fig = ia.toy_pruning_figure(data=data)
    drawn = [
        len(c.get_segments())
        for ax in fig.axes
        for c in ax.collections
        if hasattr(c, "get_segments") and np.isclose(c.get_linewidths()[0], 2.4)
    ]
    expected = sum(
        int(np.isin(part.labelled_segments([1])[1] & 0xFFFFFFFF, data.changed_splines).sum())
        for part in (data.dense, data.pruned)
    )
    plt.close(fig)
    assert sum(drawn) == expected > 0


def test_toy_pruning_widget_redraws_on_a_toggle():
    box = ia.toy_pruning_widget()
    assert box.data.pruned_units == () and box.data.changed_splines == ()
    box.controls["unit_2"].value = True
    assert box.data.pruned_units == (2,)
    assert box.data.changed_splines == ia.toy_pruning_data([2]).changed_splines != ()
    box.controls["unit_0"].value = True
    assert box.data.pruned_units == (0, 2)
    box.controls["unit_2"].value = False
    assert box.data.pruned_units == (0,) and box.data.maps_changed == 0
    assert box.redraw() is box.data and len(box.children) == 2


def test_toy_pruning_scrubber():
    s = ia.toy_pruning_scrubber(units=[0, 2], dpi=30)
    assert s.n_frames == 3 and s.labels == ["nothing pruned", "unit 0 pruned", "unit 2 pruned"]
    assert s.start == 2


# --------------------------------------------------------------------------- Chapter 3
def test_fcnet_pruning_data():
    x_tr, y_tr, x_te, y_te = su.fcnet_study.x_data_split(seed=0)
    dense = ia.fcnet_pruning_data(0.0)
    assert dense.units_kept == 20 and dense.accuracy == dense.dense_accuracy
    assert len(dense.turning_points) == 35  # the unpruned FCNet's (Chapter 3)
    data = ia.fcnet_pruning_data(0.5, "spline-merge")
    pruned = su.prune_units(su.load_network("fcnet"), "0", 0.5, "spline-merge", x=x_tr)
    assert data.units_kept == 10 and data.pruned == pruned.pruned
    assert data.accuracy == su.accuracy(pruned.model, x_te, y_te)
    assert not set(data.supplying_units) & set(data.pruned)  # a pruned unit supplies nothing
    assert set(data.supplying_units) <= set(data.partition.spline_units(0).tolist())


def test_fcnet_pruning_widget_redraws_on_ratio_and_rule():
    box = ia.fcnet_pruning_widget(criteria=("spline-merge", "random"), ratios=(0.0, 0.5, 0.9))
    assert (box.data.ratio, box.data.criterion, box.data.units_kept) == (0.5, "spline-merge", 10)
    box.controls["ratio"].value = 0.9
    assert box.data.units_kept == 2 and box.data.ratio == 0.9
    box.controls["criterion"].value = "random"
    x_tr, _, x_te, y_te = su.fcnet_study.x_data_split(seed=0)
    random = su.prune_units(su.load_network("fcnet"), "0", 0.9, "random", seed=0)
    assert box.data.criterion == "random" and box.data.pruned == random.pruned
    assert box.data.accuracy == su.accuracy(random.model, x_te, y_te)
    fig = ia.fcnet_pruning_figure(
        data=box.data, curves=ia.fcnet_accuracy_curves(criteria=("random",), ratios=(0.0, 0.9))
    )
    assert "accuracy 0." in fig.axes[1].get_title() and "random at 90%" in fig.axes[1].get_title()
    plt.close(fig)


def test_fcnet_pruning_scrubber():
    curves = ia.fcnet_accuracy_curves(criteria=("spline-merge",), ratios=(0.0, 0.5))
    assert curves["spline-merge"][0] == curves["dense"]
    s = ia.fcnet_pruning_scrubber(ratios=(0.0, 0.5), dpi=30, curves=curves)
    assert s.n_frames == 2 and s.start == 1 and s.labels[1].startswith("50%")


# --------------------------------------------------------------------------- Chapter 4
def test_early_bird_replay_matches_the_recorded_run(dense_record, trajectory):
    data = ia.early_bird_data(dense_record, trajectory)  # the run's own settings
    fired = dense_record["metrics"]["eb_epochs"]
    assert data.epoch == 15 and data.spline_fired == fired["spline"]
    assert data.mask_fired == fired["mask-p50"] and data.mask_earliest == 5
    assert (data.splines == unit_masks(trajectory)[15]).all()
    early = ia.early_bird_data(dense_record, trajectory, 3)
    assert early.status() == "epoch 3: spline rule not yet, mask rule (p = 50%) not yet"
    assert ia.early_bird_data(dense_record, trajectory, 0).splines_before is None
    with pytest.raises(ValueError, match="not a recorded epoch"):
        ia.early_bird_data(dense_record, trajectory, 99)


def _white_boxes(fig):
    """(x0, y0, width) of the solid white rectangles on the matrix panel."""
    return sorted(
        (p.get_x(), p.get_y(), p.get_width())
        for p in fig.axes[1].patches
        if p.get_linestyle() == "-" and p.get_edgecolor()[:3] == (1.0, 1.0, 1.0)
    )


def test_early_bird_widget_moves_the_marked_epoch(dense_record, trajectory):
    box = ia.early_bird_widget(dense_record, trajectory)
    assert box.data.epoch == 0
    box.controls["epoch"].value = 12
    assert box.data.epoch == 12 and "spline rule fired at 11" in box.data.status()
    assert (box.data.splines == unit_masks(trajectory)[12]).all()
    fig = ia.early_bird_figure(data=box.data)
    # the chosen epoch's diagonal cell, and the spline rule's window of 3 epochs before it
    assert _white_boxes(fig) == [(8.5, 11.5, 3.0), (11.5, 11.5, 1.0)]
    plt.close(fig)
    box.controls["window"].value = 1
    codes = dense_record["code_distances"]
    expected = replay_spline_detector(codes["matrix"], codes["epochs"], 1, box.data.threshold)
    assert box.data.window == 1 and box.data.spline_fired == expected


def test_early_bird_scrubber(dense_record, trajectory):
    s = ia.early_bird_scrubber(dense_record, trajectory, epochs=[10, 11, 12], dpi=30)
    assert s.n_frames == 3 and s.labels == ["epoch 10", "epoch 11", "epoch 12"]
    assert s.start == 1  # the spline rule fires at epoch 11


# --------------------------------------------------------------------------- Chapter 5
def test_slimming_widths_follow_the_mask_rule(dense_record):
    """The slimming widths from the recorded scales equal, layer by layer, what the mask
    detector's rule keeps of the same scales (an independent path: flat arrays)."""
    torch.manual_seed(0)
    widths = ia.slimming_widths(dense_record, [0.3, 0.5])  # rebuilds the network, seeded
    drawn = torch.rand(3)
    torch.manual_seed(0)
    assert torch.equal(torch.rand(3), drawn)  # the global random state is left alone
    gammas = dense_record["bn_gammas"]
    sizes = [c for _, _, c in gammas["layers"]]
    for ratio in (0.3, 0.5):
        keep = gamma_mask(np.asarray(gammas["values"][-1]), ratio)
        per_layer = [int(k.sum()) for k in np.split(keep, np.cumsum(sizes)[:-1])]
        assert list(widths[ratio].values()) == per_layer


def _pruned_record(dense, method, ratio, widths):
    return {
        "run": f"prune-{method}",
        "protocol": "prune-finetune",
        "method": method,
        "ratio": ratio,
        "seed": dense["seed"],
        "widths": widths,
    }


def test_layer_widths_data_merges_recorded_rules(dense_record):
    from spline_utils.experiments.protocols import prune
    from spline_utils.pruning.physical import pruned_widths

    model = lw._dense_model(dense_record)
    slim = pruned_widths(prune(model, "slimming", 0.5, torch.zeros(2, 3, 32, 32)))
    plain = ia.layer_widths_data([dense_record], 0.5)
    layerwise = dict(zip(plain.layers, plain.reference), **{"44": 10})  # + the classifier
    records = [
        dense_record,
        _pruned_record(dense_record, "slimming", 0.5, slim),
        _pruned_record(dense_record, "spline-layerwise", 0.5, layerwise),
        _pruned_record(dense_record, "spline-layerwise", 0.3, layerwise),
    ]
    data = ia.layer_widths_data(records, 0.5)
    groups = {tuple(names): widths for names, widths in data.groups()}
    assert groups == {
        ("layerwise rule", "spline-layerwise (recorded)"): plain.reference,
        (lw.SLIMMING, "slimming (recorded)"): plain.widths[lw.SLIMMING],
    }
    assert data.recorded_ratios == {"slimming": [0.5], "spline-layerwise": [0.3, 0.5]}
    assert "spline-layerwise (recorded)" not in ia.layer_widths_data(records, 0.7).widths
    with pytest.raises(ValueError, match="seeds"):
        ia.layer_widths_data([dense_record, dict(dense_record, seed=1)], 0.5)


def test_layer_widths_widget_redraws_on_the_ratio(dense_record):
    box = ia.layer_widths_widget([dense_record])
    assert box.data.ratio == 0.5 and box.data.units == [8, 8, 16, 16, 32, 32, 32] + [64] * 6
    box.controls["ratio"].value = 0.3
    data = box.data
    assert data.ratio == 0.3
    assert data.reference == [u - round(0.3 * u) for u in data.units]
    slim = data.widths[lw.SLIMMING]
    assert sum(data.units) - sum(slim) == int(0.3 * sum(data.units)) + 1  # the EB rule's count
    fig = ia.layer_widths_figure(data=data)
    lines = [line.get_ydata().tolist() for line in fig.axes[0].lines]
    plt.close(fig)
    assert lines == [data.reference, slim]


def test_layer_widths_scrubber(dense_record):
    s = ia.layer_widths_scrubber([dense_record], ratios=(0.3, 0.5), dpi=30)
    assert s.n_frames == 2 and s.start == 1 and s.labels[0].startswith("30%")


def test_importing_the_figures_does_not_import_ipywidgets():
    code = "import sys, spline_utils.plotting.interactive; print('ipywidgets' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_layer_widths_of_a_preresnet_match_the_protocol():
    """A PreResNet run (BatchNorms before the convolutions as well): the slimming widths
    computed from its recorded scales equal those of the network the protocol prunes."""
    from dataclasses import asdict

    from spline_utils.early_bird.replay import GammaRecorder
    from spline_utils.experiments.config import ExperimentConfig
    from spline_utils.experiments.protocols import build_model, prune
    from spline_utils.pruning.physical import pruned_widths

    config = ExperimentConfig(dataset="fashion-mnist", arch="preresnet20", width=0.5, seed=0)
    model = build_model(config, 10)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for bn in model.modules():
            if isinstance(bn, torch.nn.BatchNorm2d):
                bn.weight.copy_(torch.rand(bn.num_features, generator=generator))
    recorder = GammaRecorder()
    recorder(model, 0)
    dense = {
        "run": "dense",
        "seed": 0,
        "config": json.loads(json.dumps(asdict(config))),
        "bn_gammas": {
            "layers": [list(layer) for layer in recorder.layers],
            "epochs": recorder.epochs,
            "values": [v.tolist() for v in recorder.values],
        },
    }
    small = prune(model, "slimming", 0.5, torch.zeros(2, 3, 32, 32))
    records = [dense, _pruned_record(dense, "slimming", 0.5, pruned_widths(small))]
    data = ia.layer_widths_data(records, 0.5)
    assert len(data.layers) == 9  # the convolutions inside the residual blocks
    assert [names for names, _ in data.groups()] == [
        ["layerwise rule"],
        [lw.SLIMMING, "slimming (recorded)"],
    ]
