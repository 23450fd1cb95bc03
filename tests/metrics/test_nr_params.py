"""Provisioning and conversion of the LIVE NIQE/BRISQUE parameters (metrics/nr_params.py)."""
import numpy as np
import pytest

from metrics.nr_params import (
    ParameterFormatError,
    brisque_parameters,
    niqe_parameters,
    parse_libsvm_model,
    parse_range_table,
)

TINY_MODEL = """svm_type epsilon_svr
kernel_type rbf
gamma 0.05
nr_class 2
total_sv 2
rho -1.5
SV
0.5 1:0.25 3:-1
-2 2:1 36:0.125
"""


def test_parse_libsvm_model():
    model = parse_libsvm_model(TINY_MODEL)
    assert model["gamma"] == 0.05 and model["rho"] == -1.5
    np.testing.assert_array_equal(model["sv_coef"], [0.5, -2.0])
    assert model["sv"].shape == (2, 36) and model["sv"][0, 0] == 0.25 and model["sv"][0, 2] == -1
    assert model["sv"][1, 35] == 0.125 and model["sv"][1, 0] == 0.0
    with pytest.raises(ParameterFormatError, match="epsilon_svr"):
        parse_libsvm_model(TINY_MODEL.replace("epsilon_svr", "c_svc"))
    with pytest.raises(ParameterFormatError, match="announces 3"):
        parse_libsvm_model(TINY_MODEL.replace("total_sv 2", "total_sv 3"))


def test_parse_range_table_reads_the_literal_only(tmp_path):
    marker = tmp_path / "executed"
    rows = [[-1, 1]] + [[i, i + 1.5] for i in range(36)]
    source = (f"import os\nos.system('touch {marker}')\n"
              f"class B:\n    def __init__(self):\n        self._scaler = np.array({rows!r})\n")
    table = parse_range_table(source)
    assert table.shape == (37, 2) and table[0].tolist() == [-1, 1] and table[36].tolist() == [35, 36.5]
    assert not marker.exists()  # parsed, never executed
    with pytest.raises(ParameterFormatError):
        parse_range_table("x = 1\n")


def test_real_parameters_are_provisioned_converted_and_cached(live_manager):
    niqe = niqe_parameters(live_manager)
    assert niqe.mu.shape == (36,) and niqe.cov.shape == (36, 36)
    np.testing.assert_allclose(niqe.cov, niqe.cov.T, atol=1e-12)
    assert niqe.provenance["sha256:niqe_pris_params"].startswith("2a7c182a")
    assert "niqe_release" in niqe.provenance["provenance:niqe_pris_params"]
    brisque = brisque_parameters(live_manager)
    assert brisque.sv.shape == (774, 36) and brisque.sv_coef.shape == (774,)
    assert brisque.gamma == 0.05 and brisque.rho == -153.591
    assert (brisque.lower, brisque.upper) == (-1.0, 1.0)
    assert brisque.feature_min[0] == 0.338 and brisque.feature_max[0] == 10.0
    assert bool(np.all(brisque.feature_max > brisque.feature_min))
    assert brisque.provenance["sha256:brisque_live_allmodel"].startswith("7c8e2392")
    assert brisque.provenance["sha256:brisque_live_allrange"].startswith("4346215d")
    converted = live_manager.cache_path("brisque_live_allmodel").parent / "brisque_live.frbench.safetensors"
    assert converted.is_file()
    from safetensors import safe_open

    with safe_open(str(converted), framework="numpy") as handle:
        assert handle.metadata()["sha256:brisque_live_allmodel"] == brisque.provenance["sha256:brisque_live_allmodel"]
        np.testing.assert_array_equal(handle.get_tensor("sv"), brisque.sv)


def test_converted_file_with_a_stale_source_hash_is_rebuilt(live_manager, tmp_path):
    import shutil

    from bench.core.assets import AssetManager
    from metrics import nr_params

    cache = tmp_path / "cache"
    for name in ("niqe_pris_params",):
        (cache / name).mkdir(parents=True)
        shutil.copy(live_manager.path(name), cache / name / live_manager.spec(name).file)
    manager = AssetManager(cache_dir=cache, offline=True, progress=False)
    nr_params.clear_cache()
    first = niqe_parameters(manager)
    converted = cache / "niqe_pris_params" / "niqe_pris_params.frbench.safetensors"
    from safetensors.numpy import save_file

    save_file({"mu": np.zeros(36), "cov": np.eye(36)}, str(converted),
              metadata={"converter_version": nr_params.CONVERTER_VERSION, "sha256:niqe_pris_params": "0" * 64})
    nr_params.clear_cache()
    again = niqe_parameters(manager)
    np.testing.assert_array_equal(again.mu, first.mu)  # stale conversion ignored and rebuilt
    nr_params.clear_cache()
