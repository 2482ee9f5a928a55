"""The runnable examples in the docstrings of the prediction modules."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import isla_nnunet.prediction

MODULES = sorted(info.name for info in pkgutil.walk_packages(isla_nnunet.prediction.__path__,
                                                             prefix="isla_nnunet.prediction."))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
