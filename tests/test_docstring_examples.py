"""Every example in the package's docstrings runs and shows what it prints.

One walk over all of ``isla_nnunet``: a module whose docstrings hold ``>>>`` examples must run at
least one of them (examples marked ``+SKIP``, which need a trained model or a GPU, excepted), so an
example written where doctest cannot find it fails here instead of silently never running.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import isla_nnunet

MODULES = sorted(info.name for info in pkgutil.walk_packages(isla_nnunet.__path__, prefix="isla_nnunet.")
                 if not info.name.endswith("__main__"))


def runnable(example: doctest.Example) -> bool:
    return not example.options.get(doctest.SKIP, False)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    found = [e for t in doctest.DocTestFinder().find(module) for e in t.examples]
    if ">>>" in (module.__loader__.get_source(name) or "") and not found:
        pytest.fail(f"{name} has '>>>' examples that doctest does not find")
    examples = [e for e in found if runnable(e)]
    if not examples:
        pytest.skip("no runnable examples")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted >= len(examples)


def test_the_walk_finds_the_packages():
    # A broken walk (e.g. a missing __init__) would silently test nothing.
    for package in ("evaluation", "io", "losses", "networks", "prediction", "preprocessing", "training"):
        assert any(m.startswith(f"isla_nnunet.{package}.") for m in MODULES), package
    assert len(MODULES) > 100
