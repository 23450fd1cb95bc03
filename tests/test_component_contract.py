"""Every registered component (method, metric, dataset, degradation) declares its contract on itself.

Walks every name of the four registries (built-ins come from entry points, like plug-ins) and checks the
declarations a table, a report or a reader relies on: description, citation and licence; for metrics the
direction of every declared output, the unit, the value range, per-image vs set-level and the layout
keys; for methods the restore/describe interface; for degradations a deterministic, described protocol.
Constructing a set-level metric must not load a network (the leaderboard builds them to aggregate).
"""
import inspect
import math

import numpy as np
import pytest

from bench.core.registry import DATASETS, DEGRADATIONS, METHODS, METRICS
from bench.core.types import DIRECTIONS, Dataset, PerImageMetric, SetMetric, output_direction


def _component(registry, name):
    """The class behind a registered name (a factory function declares the class it returns)."""
    cls = registry.component_class(name)
    assert cls is not None, f"{name}: a registered factory must declare the class it returns"
    return cls


def _declared(cls, attribute):
    return any(attribute in vars(klass) for klass in cls.__mro__ if klass not in (object, PerImageMetric, SetMetric))


@pytest.mark.parametrize("name", METRICS.names())
def test_metric_declares_its_contract(name):
    cls = _component(METRICS, name)
    assert issubclass(cls, (PerImageMetric, SetMetric)), name
    assert METRICS.describe(name), name
    for attribute in ("citation", "licence"):
        assert isinstance(getattr(cls, attribute), str) and getattr(cls, attribute).strip(), (name, attribute)
    assert _declared(cls, "value_range"), f"{name}: value_range not declared"
    low, high = cls.value_range
    assert low < high or (math.isinf(low) and math.isinf(high)), name
    assert isinstance(cls.unit, str) and isinstance(cls.higher_is_better, bool) and isinstance(cls.needs_reference, bool)
    for pattern, direction in dict(cls.outputs).items():
        assert direction in DIRECTIONS, (name, pattern, direction)
    assert output_direction(cls, "value") in ("higher", "lower", "info")
    for key in cls.leaderboard_headline:
        assert issubclass(cls, SetMetric) and isinstance(key, str), (name, key)
    if issubclass(cls, PerImageMetric):
        assert callable(getattr(cls, "__call__")), name
        assert isinstance(cls.min_size, int) and cls.min_size >= 1, name  # smallest side it is defined on
        for extra in cls.extra_outputs:  # every extra output has a declared (or informational) direction
            assert output_direction(cls, extra) in DIRECTIONS, (name, extra)
    else:
        for method in ("channels", "restored_vectors", "fold", "merge", "compute"):
            assert callable(getattr(cls, method)), (name, method)
        assert cls.fold is not SetMetric.fold, f"{name}: a set-level metric folds its stored vectors"


@pytest.mark.parametrize("name", [n for n in METRICS.names()
                                  if issubclass(_component(METRICS, n), SetMetric)])
def test_constructing_a_set_metric_loads_no_file(name):
    """The leaderboard rebuilds set metrics from stored options to aggregate stored vectors: constructing
    one must read no weights or parameter file (networks load in ``prepare``)."""
    from bench.core.provenance import record_files

    with record_files() as files:
        METRICS.build(name)
    assert files.digests() == {}, f"constructing {name} loaded {list(files.digests())}"


@pytest.mark.parametrize("name", METHODS.names())
def test_method_declares_its_contract(name):
    cls = _component(METHODS, name)
    assert METHODS.describe(name), name
    for attribute in ("citation", "licence"):
        assert isinstance(getattr(cls, attribute, None), str) and getattr(cls, attribute).strip(), (name, attribute)
    assert isinstance(getattr(cls, "uses_attributes", None), bool), name
    parameters = inspect.signature(cls.restore).parameters
    assert {"lq", "attributes", "out_size"} <= set(parameters), name
    assert callable(getattr(cls, "describe", None)), name
    assert "device" in inspect.signature(cls).parameters, f"{name}: the harness builds methods with device="


@pytest.mark.parametrize("name", DATASETS.names())
def test_dataset_declares_its_contract(name):
    cls = _component(DATASETS, name)
    assert issubclass(cls, Dataset) and cls.name == name
    assert DATASETS.describe(name) == cls.description and cls.description
    assert cls.citation.strip() and cls.licence.strip(), name
    assert isinstance(cls.has_hq, bool) and isinstance(cls.synthetic, bool)
    assert cls.index is not Dataset.index, name


@pytest.mark.parametrize("name", DEGRADATIONS.names())
def test_degradation_is_described_and_deterministic(name):
    degradation = DEGRADATIONS.create(name)
    assert DEGRADATIONS.describe(name) and degradation.name == name
    described = degradation.describe()
    assert described["name"] == name and "pipeline" in described and "version" in described
    side = degradation.min_hq_side()  # the smallest HQ it degrades is declared, and smaller ones are refused
    assert isinstance(side, int) and side >= 1, name
    if side > 1:
        with pytest.raises(ValueError, match=f"smaller than the minimum {side}x{side}"):
            degradation.apply(np.zeros((side - 1, side + 5, 3), np.uint8), 3, "face-1")
    hq = np.random.default_rng(0).integers(0, 256, (max(64, side), max(64, side), 3), dtype=np.uint8)
    lq_a, params_a = degradation.apply(hq, 3, "face-1")
    lq_b, params_b = degradation.apply(hq, 3, "face-1")
    assert np.array_equal(lq_a, lq_b) and params_a == params_b  # a function of (seed, sample id) only
    assert lq_a.dtype == np.uint8 and lq_a.ndim == 3 and params_a["lq_size"] == list(lq_a.shape[:2])
