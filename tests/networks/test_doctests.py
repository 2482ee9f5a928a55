"""The examples in the attention modules' docstrings run and give the values they show."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import isla_nnunet.networks.attention as package


@pytest.mark.parametrize("name", sorted(m.name for m in pkgutil.iter_modules(package.__path__)))
def test_docstring_examples(name):
    module = importlib.import_module(f"{package.__name__}.{name}")
    assert doctest.testmod(module, optionflags=doctest.ELLIPSIS).failed == 0
