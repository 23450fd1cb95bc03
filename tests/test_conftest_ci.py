"""The CI rule of tests/conftest.py: a missing asset or test-extra package skips locally, fails under CI."""
from __future__ import annotations

import pytest

from tests.conftest import CI_SUFFIX, asset_unavailable, require_module, running_in_ci, shared_path


@pytest.mark.parametrize("value", ["true", "TRUE", "True", "1"])
def test_under_ci_a_missing_asset_fails(monkeypatch, value):
    monkeypatch.setenv("CI", value)
    assert running_in_ci()
    with pytest.raises(pytest.fail.Exception) as info:
        asset_unavailable("cannot fetch asset x")
    assert str(info.value) == "cannot fetch asset x" + CI_SUFFIX
    assert not isinstance(info.value, pytest.skip.Exception)


@pytest.mark.parametrize("value", [None, "", "false", "0", "no"])
def test_without_ci_a_missing_asset_skips(monkeypatch, value):
    if value is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", value)
    assert not running_in_ci()
    with pytest.raises(pytest.skip.Exception) as info:
        asset_unavailable("cannot fetch asset x")
    assert str(info.value) == "cannot fetch asset x"


def test_require_module(monkeypatch):
    import math

    monkeypatch.setenv("CI", "true")
    assert require_module("math") is math                    # present: the module, under CI too
    with pytest.raises(pytest.fail.Exception, match="no such package"):
        require_module("frbench_no_such_module_xyz", reason="no such package")
    with pytest.raises(pytest.fail.Exception, match="frbench_no_such_module_xyz"):
        require_module("frbench_no_such_module_xyz")          # default reason names the module
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="no such package"):
        require_module("frbench_no_such_module_xyz", reason="no such package")


def test_missing_shared_material_still_skips_under_ci(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.skip.Exception):
        shared_path("frbench-no-such-folder-xyz")
