"""The examples in the package's docstrings run and print what they show."""

from __future__ import annotations

import doctest
import importlib

import pytest

# The modules whose docstrings show output; each must keep at least one example.
MODULES = ["freezeviz", "freezeviz.data.report", "freezeviz.data.baseline"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    result = doctest.testmod(module, optionflags=flags, report=False, verbose=False)
    assert result.attempted > 0, f"{name} has no docstring examples left to run"
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {name} failed"
