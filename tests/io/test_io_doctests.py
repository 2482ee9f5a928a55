"""The runnable examples in the docstrings of io, preprocessing and conversion modules."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import isla_nnunet.conversion
import isla_nnunet.io
import isla_nnunet.preprocessing

MODULES = sorted(
    info.name
    for package in (isla_nnunet.io, isla_nnunet.preprocessing, isla_nnunet.conversion)
    for info in pkgutil.walk_packages(package.__path__, prefix=f"{package.__name__}.")
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
