"""The names ``import sg2eval`` promises resolve to the functions that implement them."""

from __future__ import annotations

import subprocess
import sys

import pytest

import sg2eval


@pytest.mark.parametrize("name", [n for n in sg2eval.__all__ if n != "__version__"])
def test_public_name_resolves_to_its_implementation(name: str) -> None:
    obj = getattr(sg2eval, name)
    assert callable(obj)
    assert obj.__name__ == name
    assert obj.__module__.startswith("sg2eval.")


def test_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'fdi'"):
        sg2eval.fdi  # noqa: B018


def test_import_stays_light() -> None:
    """``import sg2eval`` must not import torch: the CLI's --help and the API's first use pay for it."""
    code = "import sys, sg2eval; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_the_api_is_discoverable() -> None:
    """``dir(sg2eval)`` lists every metric without importing it; ``help`` of each shows an example and the
    run options it takes."""
    listed = dir(sg2eval)
    assert set(sg2eval.__all__) <= set(listed) and "importlib" not in listed
    for name in ("fid", "kid", "precision_recall", "compute_features", "ppl"):
        doc = getattr(sg2eval, name).__doc__
        assert f">>> sg2eval.{name}(" in doc or ">>> feats = sg2eval" in doc, name
    assert "``device``" in sg2eval.fid.__doc__ and "``detector``" in sg2eval.kid.__doc__
