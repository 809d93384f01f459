import pytest
import torch

import spline_utils as su


def test_mode_variable(monkeypatch):
    monkeypatch.setenv("SPLINE_BOOK_MODE", "full")
    assert su.run_mode() == "full" and su.is_full_mode()
    monkeypatch.setenv("SPLINE_BOOK_MODE", "QUICK")
    assert su.run_mode() == "quick"
    monkeypatch.setenv("SPLINE_BOOK_MODE", "auto")
    monkeypatch.setenv("CI", "true")
    assert su.run_mode() == "quick"
    monkeypatch.delenv("CI")
    assert su.run_mode() == ("full" if torch.cuda.is_available() else "quick")


def test_bad_mode_is_named(monkeypatch):
    monkeypatch.setenv("SPLINE_BOOK_MODE", "fast")
    with pytest.raises(ValueError, match="SPLINE_BOOK_MODE='fast'"):
        su.run_mode()


def test_data_dir_from_variable(monkeypatch, tmp_path):
    monkeypatch.setenv("SPLINE_BOOK_DATA", str(tmp_path / "cifar"))
    assert su.data_dir() == tmp_path / "cifar" and (tmp_path / "cifar").is_dir()


def test_seeding_reproduces_and_checks_input():
    su.seed_everything(7)
    a = torch.randn(3)
    su.seed_everything(7)
    assert torch.equal(a, torch.randn(3))
    with pytest.raises(ValueError, match="seed"):
        su.seed_everything(-1)
