"""The theory presets show what their comparisons promise, trained for real (the verdict is the data)."""

from __future__ import annotations

import pytest

from vgrad.presets import COMPARISONS, preset
from vgrad.readings import comparison_reading


@pytest.fixture(scope="module")
def train_all():
    from vgrad.train.engine import train

    return {name: [train(preset(p)) for p in COMPARISONS[name].presets]
            for name in ("edge-of-chaos", "isometry", "he-critical")}


@pytest.mark.parametrize("name", ["edge-of-chaos", "isometry", "he-critical"])
def test_theory_comparisons_hold(train_all, name):
    runs = train_all[name]
    assert all(r.status == "finished" for r in runs)
    reading = comparison_reading(name, runs, list(COMPARISONS[name].presets))
    assert reading.holds is True, reading.text


def test_the_isometry_is_near_exact_for_orthogonal_tanh(train_all):
    gaussian, orthogonal = train_all["isometry"][:2]
    assert orthogonal.spectrum_spread() < 0.1 * gaussian.spectrum_spread()
