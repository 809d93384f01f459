"""The package's public surface: ``import spline_utils`` is light, and every advertised name
resolves (the names are loaded lazily, so a broken re-export would otherwise surface only when a
chapter touches it)."""

import subprocess
import sys

import spline_utils


def test_import_loads_no_heavy_library():
    code = (
        "import sys, spline_utils; "
        "heavy = sorted({'torch', 'matplotlib', 'pandas'} & set(sys.modules)); "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"import spline_utils loaded {out.stdout.strip()}"


def test_every_public_name_resolves():
    missing = [name for name in spline_utils.__all__ if getattr(spline_utils, name, None) is None]
    assert not missing, missing
    assert len(spline_utils.__all__) == len(set(spline_utils.__all__))


def test_unknown_name_is_a_clear_attribute_error():
    try:
        spline_utils.no_such_name  # noqa: B018
    except AttributeError as error:
        assert "no_such_name" in str(error)
    else:
        raise AssertionError("an unknown attribute must raise AttributeError")
