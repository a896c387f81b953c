"""The fixture shared by the tests that run the Inception detector on seeded random weights: no official
file is found (autouse in the modules that import it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.fake_weights import isolate_weight_search


@pytest.fixture(autouse=True)
def offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate_weight_search(monkeypatch, tmp_path / "search")
