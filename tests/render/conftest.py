"""Session fixtures: snapshots of small real modules at each stage of the freeze."""

from __future__ import annotations

import pytest
import render_models as rm


@pytest.fixture(scope="session")
def convbn():
    """(scripted, inlined, frozen, after fold_conv_bn) of conv + bn + relu."""
    return rm.stages(rm.ConvBNReLU(), fold_conv_bn=True)


@pytest.fixture(scope="session")
def branchy():
    return rm.stages(rm.Branchy())


@pytest.fixture(scope="session")
def inplace():
    return rm.stages(rm.InplaceBuffer())


@pytest.fixture(scope="session")
def hostile():
    return rm.stages(rm.Hostile())


@pytest.fixture(scope="session")
def all_stages(convbn, branchy, inplace, hostile):
    return {"convbn": convbn, "branchy": branchy, "inplace": inplace, "hostile": hostile}
