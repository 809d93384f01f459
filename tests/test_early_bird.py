import numpy as np
import pytest
import torch
from torch import nn

import spline_utils as su
from spline_utils.early_bird import (
    MaskEBDetector,
    SplineEBDetector,
    bn_channel_mask,
    canvas,
    code_set_distance,
    distance_matrix,
    mask_distance,
)
from spline_utils.spline_view.codes import PackedCodes


def _codes(bits: np.ndarray) -> PackedCodes:
    """A one-layer ReLU code set from a bool array (inputs, units)."""
    bits = np.asarray(bits, dtype=bool)
    return PackedCodes(
        names=["relu"], kinds=["relu"], n_bits=[bits.shape[1]], data=[np.packbits(bits, axis=1)]
    )


def test_hamming_distance_matches_hand_computation():
    a = np.zeros((4, 10), bool)
    b = a.copy()
    b[0, :3] = True  # 3 bits
    b[2, 9] = True  # 1 bit
    assert code_set_distance(_codes(a), _codes(b)) == pytest.approx(4 / 40)
    assert mask_distance(np.array([1, 0, 1, 1], bool), np.array([1, 1, 1, 0], bool)) == 0.5
    m = distance_matrix([_codes(a), _codes(b), _codes(a)])
    assert m.shape == (3, 3) and m[0, 2] == 0 and m[0, 1] == m[1, 0] == pytest.approx(0.1)


def test_spline_detector_fires_exactly_when_the_window_settles():
    rng = np.random.default_rng(0)
    base = rng.random((50, 40)) < 0.5
    sequence = []
    for epoch in range(1, 11):
        bits = base.copy()
        flip = 0.3 if epoch <= 5 else 0.05  # big changes up to epoch 5, then small ones
        bits ^= rng.random(bits.shape) < flip
        sequence.append(bits)
    det = SplineEBDetector(torch.zeros(1, 2), window=3, threshold=0.16)
    fired = [det.update_codes(_codes(bits), epoch) for epoch, bits in enumerate(sequence, 1)]
    # the rule: first epoch i whose codes are within 0.16 of the codes of each of epochs i-3..i-1
    expected = next(
        i
        for i in range(4, 11)
        if all(
            code_set_distance(_codes(sequence[i - 1]), _codes(sequence[j - 1])) < 0.16
            for j in range(i - 3, i)
        )
    )
    assert det.fired_epoch == expected == 9 and fired.index(True) + 1 == 9 and sum(fired) == 1
    assert np.isnan(det.distances[:3]).all()  # no decision before the window is full


def test_mask_rule_details():
    # int(total * p) indexes the ascending sort and the comparison is strict
    net = nn.Sequential(
        nn.Linear(2, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 3), nn.BatchNorm1d(3)
    )
    with torch.no_grad():
        net[1].weight.copy_(torch.tensor([0.5, -0.1, 0.3, 0.3]))
        net[4].weight.copy_(torch.tensor([0.9, 0.2, -0.3]))
    # |gamma| sorted: 0.1 0.2 0.3 0.3 0.3 0.5 0.9 (7); p = 0.5 -> index 3 -> 0.3, keep > 0.3
    assert bn_channel_mask(net, 0.5).tolist() == [True, False, False, False, True, False, False]
    assert bn_channel_mask(net, 0.2).tolist() == [
        True,
        False,
        True,
        True,
        True,
        False,
        True,
    ]  # index 1: 0.2
    # FIFO of 5 and all four distances < 0.1: masks of 20 channels, each step flips one channel
    det = MaskEBDetector(ratios=(0.5,), fifo=5, threshold=0.1)
    masks = [np.zeros(20, bool) for _ in range(9)]
    for e in range(9):
        masks[e][:10] = True
    masks[0][10:15] = True  # far from the rest
    masks[5][0] = False  # epoch 6's mask: 1 channel (0.05) from the masks of epochs 2..5
    fired = [det.update_masks({0.5: m}, epoch)[0.5] for epoch, m in enumerate(masks, 1)]
    # epoch 5: FIFO = masks 1..5, mask 1 is 5 channels (0.25) from mask 5 -> no
    # epoch 6: FIFO = masks 2..6, mask 6 differs from 2..5 by 1 channel (0.05) -> fires
    assert det.fired_epoch[0.5] == 6 and fired == [False] * 5 + [True] + [False] * 3
    assert np.isnan(det.distances[0.5][:4]).all() and det.distances[0.5][4] == 0.25


def test_detectors_as_training_callbacks():
    torch.manual_seed(0)
    x, y = torch.rand(200, 1, 8, 8), torch.randint(0, 10, (200,))
    net = su.digits_convnet()
    spline = SplineEBDetector(canvas([x[0], x[1]], n=10), keep_all=True)
    masks = MaskEBDetector()
    su.train_classifier(
        net, x, y, epochs=8, lr=0.05, batch_size=50, progress=False, callbacks=[spline, masks]
    )
    assert spline.epochs == list(range(1, 9)) and len(spline.history) == 8
    assert distance_matrix(spline.history).shape == (8, 8)
    assert len(masks.distances[0.5]) == 8


def test_bad_input():
    with pytest.raises(ValueError, match="non-empty batch"):
        SplineEBDetector(torch.zeros(0, 1, 8, 8))
    with pytest.raises(ValueError, match=r"p must be in \(0, 1\)"):
        MaskEBDetector(ratios=(0.5, 1.0))
    with pytest.raises(ValueError, match=r"p must be in \(0, 1\)"):
        bn_channel_mask(su.digits_convnet(), 0.0)
    det = SplineEBDetector(torch.zeros(1, 2))
    det.update_codes(_codes(np.zeros((5, 8), bool)), 1)
    with pytest.raises(ValueError, match="code sets do not match"):
        det.update_codes(_codes(np.zeros((5, 9), bool)), 2)
    with pytest.raises(ValueError, match="masks differ in shape"):
        mask_distance(np.zeros(3, bool), np.zeros(4, bool))
    with pytest.raises(ValueError, match="no BatchNorm"):
        bn_channel_mask(su.make_mlp([2, 3, 1]), 0.5)
    assert canvas([torch.zeros(1, 8, 8), torch.ones(1, 8, 8)], n=5).shape == (25, 1, 8, 8)


def test_tickets_and_training_flops():
    torch.manual_seed(0)
    x, y = torch.rand(100, 1, 8, 8), torch.randint(0, 10, (100,))
    net = su.digits_convnet()
    det = SplineEBDetector(x[:20], window=1, threshold=0.99)  # fires at epoch 2
    su.train_classifier(
        net, x, y, epochs=3, lr=0.05, batch_size=50, progress=False, callbacks=[det]
    )
    assert det.fired_epoch == 2 and set(det.ticket) == set(net.state_dict())
    assert not all(
        torch.equal(det.ticket[k], v) for k, v in net.state_dict().items()
    )  # epoch 2, not 3
    before = {k: v.clone() for k, v in net.state_dict().items()}
    flops = su.costs.training_flops(net, (1, 8, 8), examples=100)
    assert flops > 2 * su.costs.count_flops(net, (1, 8, 8)) * 100  # forward + backward > 2x forward
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())  # weights untouched


def test_code_recorder_writes_what_the_detector_sees(tmp_path):
    from spline_utils.early_bird import CodeRecorder, load_code_sets

    torch.manual_seed(0)
    net = su.make_mlp([2, 6, 5, 1]).eval()
    probe = torch.randn(40, 2)
    recorder = CodeRecorder(probe, tmp_path / "codes")
    direct = []
    for epoch in (1, 2):
        recorder(net, epoch)
        direct.append(su.packed_codes(net, probe))
        with torch.no_grad():
            net[0].weight.add_(0.3 * torch.randn_like(net[0].weight))
    epochs, sets = load_code_sets(tmp_path / "codes")
    assert epochs == [1, 2]
    for saved, fresh in zip(sets, direct):
        assert saved.n_bits == fresh.n_bits and saved.n_inputs == 40
        assert all(np.array_equal(a, b) for a, b in zip(saved.data, fresh.data))
    assert distance_matrix(sets)[0, 1] == pytest.approx(code_set_distance(direct[0], direct[1]))
    assert distance_matrix(sets)[0, 1] > 0
    CodeRecorder(probe, tmp_path / "none", write=False)(net, 1)
    assert not (tmp_path / "none").exists()
    with pytest.raises(ValueError, match="no recorded code sets"):
        load_code_sets(tmp_path / "none")


def test_detector_reads_the_recorders_codes_of_one_canvas(tmp_path, monkeypatch):
    """With one ProbeCodes, the canvas's codes are drawn once per epoch for the detector and the
    recorder together, and both see what each drew alone before."""
    from spline_utils.early_bird import CodeRecorder, ProbeCodes, load_code_sets
    from spline_utils.early_bird import spline_detector as module

    torch.manual_seed(0)
    net = su.digits_convnet((4, 8)).eval()
    probe = torch.rand(50, 1, 8, 8)
    alone = SplineEBDetector(probe, window=1, threshold=0.5, batch_size=16)
    shared = ProbeCodes(probe, batch_size=16)
    together = SplineEBDetector(probe, window=1, threshold=0.5, batch_size=16, shared=shared)
    recorder = CodeRecorder(probe, tmp_path / "codes", batch_size=16, shared=shared)
    draws = []
    original = module.probe_codes
    monkeypatch.setattr(module, "probe_codes", lambda *a, **k: draws.append(1) or original(*a, **k))
    for epoch in (1, 2, 3):
        before = len(draws)
        alone(net, epoch)
        assert len(draws) == before + 1
        together(net, epoch)
        recorder(net, epoch)
        assert len(draws) == before + 2  # one draw for the detector and the recorder
        with torch.no_grad():
            net[0].weight.add_(0.2 * torch.randn_like(net[0].weight))
    np.testing.assert_array_equal(alone.distances, together.distances)
    for a, b in zip(alone.recent, together.recent):
        assert a.names == b.names and all(np.array_equal(x, y) for x, y in zip(a.data, b.data))
    _, sets = load_code_sets(tmp_path / "codes")
    assert sets[-1].kinds == ["relu", "maxpool", "relu", "maxpool"]
    assert all(np.array_equal(x, y) for x, y in zip(sets[-1].select(("relu",)).data, b.data))
    state = shared.__getstate__()
    assert state["_drawn"] is None and state["probe"] is probe  # a pickle keeps no codes
    from spline_utils.experiments.resumable_training import checkpoint_state

    # a training checkpoint keeps the callbacks' own state, not the object they share (a
    # checkpoint stays readable where ProbeCodes does not exist)
    assert "shared" not in checkpoint_state(together) and "shared" not in checkpoint_state(recorder)
    assert set(checkpoint_state(alone)) == set(vars(alone)) - {"shared"}
    with pytest.raises(ValueError, match="ProbeCodes of the recorder's probe and batch size"):
        CodeRecorder(probe, tmp_path / "other", batch_size=32, shared=shared)


def test_replay_reproduces_the_live_detectors():
    """Recorded codes and BatchNorm scales replay both detectors exactly, for their settings."""
    from spline_utils.early_bird import GammaRecorder, replay_mask_detector, replay_spline_detector
    from spline_utils.early_bird.replay import earliest_possible_epoch

    torch.manual_seed(0)
    x, y = torch.rand(200, 1, 8, 8), torch.randint(0, 10, (200,))
    net = su.digits_convnet()
    probe = canvas([x[0], x[1]], n=10)
    live_spline = SplineEBDetector(probe, window=2, threshold=0.3, keep_all=True)
    live_mask = MaskEBDetector(ratios=(0.3, 0.5), fifo=3, threshold=0.2)
    gammas = GammaRecorder()
    gammas(net, 0)  # the untrained network
    su.train_classifier(
        net,
        x,
        y,
        epochs=8,
        lr=0.05,
        batch_size=50,
        progress=False,
        callbacks=[live_spline, live_mask, gammas],
    )
    epochs = list(range(1, 9))
    matrix = distance_matrix(live_spline.history)
    assert replay_spline_detector(matrix, epochs, 2, 0.3) == live_spline.fired_epoch
    assert gammas.epochs == list(range(9)) and len(gammas.values[0]) == 8 + 16
    for p in (0.3, 0.5):
        replayed = replay_mask_detector(gammas.values[1:], epochs, p, fifo=3, threshold=0.2)
        assert replayed == live_mask.fired_epoch[p]
    # no rule fires before its earliest possible epoch, with or without the untrained state
    for threshold in (0.05, 0.2, 0.5, 0.99):
        fired = replay_mask_detector(gammas.values, list(range(9)), 0.5, 3, threshold, True)
        assert fired is None or fired >= earliest_possible_epoch(2, include_initial=True)
        fired = replay_mask_detector(gammas.values[1:], epochs, 0.5, 3, threshold)
        assert fired is None or fired >= earliest_possible_epoch(2)
    assert replay_mask_detector(gammas.values[1:], epochs, 0.5, 3, 0.99) == 3


def test_replay_input_checks():
    from spline_utils.early_bird import replay_mask_detector, replay_spline_detector

    with pytest.raises(ValueError, match=r"matrix must be \(3, 3\)"):
        replay_spline_detector(np.zeros((2, 2)), [1, 2, 3])
    with pytest.raises(ValueError, match="epochs must be increasing"):
        replay_spline_detector(np.zeros((3, 3)), [1, 3, 2])
    with pytest.raises(ValueError, match="include_initial needs the untrained state"):
        replay_spline_detector(np.zeros((3, 3)), [1, 2, 3], include_initial=True)
    with pytest.raises(ValueError, match="fifo must be"):
        replay_mask_detector([np.ones(4)] * 3, [1, 2, 3], 0.5, fifo=1)


def test_training_record_feeds_the_detection_table():
    """A run watched in-process (detector with keep_all, GammaRecorder) gives a record whose
    replayed firing epochs are those of the live detectors."""
    from spline_utils.early_bird import GammaRecorder, detection_epochs, training_record

    torch.manual_seed(1)
    x, y = torch.rand(200, 1, 8, 8), torch.randint(0, 10, (200,))
    net = su.digits_convnet()
    spline = SplineEBDetector(canvas([x[0], x[1]], n=8), window=2, threshold=0.3, keep_all=True)
    masks, gammas = MaskEBDetector(ratios=(0.5,), fifo=3, threshold=0.2), GammaRecorder()
    su.train_classifier(
        net,
        x,
        y,
        epochs=6,
        lr=0.05,
        batch_size=50,
        progress=False,
        callbacks=[spline, masks, gammas],
    )
    record = training_record(3, spline.history, spline.epochs, gammas)
    table = detection_epochs(
        [record], windows=[2], spline_thresholds=[0.3], mask_thresholds=[0.2], ratios=[0.5]
    )
    got = dict(zip(table.detector, table.epoch))
    for name, live in (("spline", spline.fired_epoch), ("mask", masks.fired_epoch[0.5])):
        assert (live is None and np.isnan(got[name])) or got[name] == live
    assert set(table.seed) == {3}
    with pytest.raises(ValueError, match="equal length"):
        training_record(0, spline.history, [1], gammas)
