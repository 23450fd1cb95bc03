"""Every stored output declares its direction in one place (bench.core.types.output_direction)."""
import pytest

from bench.core.types import output_direction
from metrics.attribute_error import AttributeBias, AttributePredictions
from metrics.brisque import BRISQUE
from metrics.fid import FID, GroupFID
from metrics.ifqa import IFQA
from metrics.kid import KID
from metrics.niqe import NIQE
from metrics.psnr import PSNR


@pytest.mark.parametrize("metric, key, expected", [
    (PSNR, "value", "higher"), (NIQE, "value", "lower"), (BRISQUE, "value", "lower"),
    # extras: audit values are informational, IFQA region means are realism scores like the value
    (NIQE, "flat_share", "info"), (NIQE, "unstable", "info"), (BRISQUE, "flat_share", "info"),
    (IFQA, "eyes", "higher"), (IFQA, "rest", "higher"), (IFQA, "face_found", "info"),
    (AttributePredictions, "value", "info"), (AttributePredictions, "hq_age", "info"),
    # set-level keys: errors lower, the floor on HQ and the signed shifts informational, counts informational
    (AttributeBias, "gender_err", "lower"), (AttributeBias, "age_err_label", "lower"),
    (AttributeBias, "gender_err_lo", "lower"), (AttributeBias, "age_mae", "lower"),
    (AttributeBias, "gender_err_gap", "lower"), (AttributeBias, "fd_gender_ref", "lower"),
    (AttributeBias, "floor_gender_err", "info"), (AttributeBias, "floor_age_mae_hi", "info"),
    (AttributeBias, "age_shift", "info"), (AttributeBias, "age_shift_label", "info"),
    (AttributeBias, "age_years_shift_label", "info"), (AttributeBias, "fd_gender_hq", "info"),
    (AttributeBias, "hq_no_face_share", "info"), (AttributeBias, "no_face_share", "lower"),
    (AttributeBias, "n", "info"),
    (FID, "value", "lower"), (FID, "n", "info"), (FID, "ref=hq.n", "info"), (KID, "subset_size", "info"),
    (GroupFID, "gender.fid_gap", "lower"), (GroupFID, "age_bin=20-29.fid", "lower"), (GroupFID, "gender.m", "info"),
])
def test_declared_directions(metric, key, expected):
    assert output_direction(metric, key) == expected


def test_an_undeclared_extra_is_informational_and_a_bad_declaration_is_refused():
    class Plain:
        name, higher_is_better, outputs = "plain", False, {}

    class Wrong:
        name, higher_is_better, outputs = "wrong", True, {"value": "up"}

    assert output_direction(Plain, "value") == "lower" and output_direction(Plain, "something") == "info"
    with pytest.raises(ValueError, match="direction 'up'"):
        output_direction(Wrong, "value")


def test_the_correlation_study_orients_by_the_declared_direction():
    from leaderboards.scores import registry_direction

    assert registry_direction("niqe") is False and registry_direction("psnr") is True
    assert registry_direction("ifqa.eyes") is True  # was sign-flipped as lower-is-better before
    assert registry_direction("niqe.flat_share") is None  # informational: a sign would be a guess
    assert registry_direction("psnr_y") is True and registry_direction("not-a-metric") is None


def test_age_to_bin_is_total():
    """Fault: a huge int (an attributes.csv age of 1e308) made np.isfinite raise TypeError."""
    import numpy as np

    from bench.core.types import age_to_bin

    assert [age_to_bin(a) for a in (0, 2.7, 3, 29.99, 70, 120, 121.5, int(1e308), np.float64(2.7),
                                    np.int32(45), np.array(9.0))] == [0, 0, 1, 5, 9, 9, 9, 9, 0, 7, 2]
    for bad in (10 ** 400, -10 ** 400, float("inf"), float("nan"), -0.5, None, True, np.bool_(False), "30",
                [30], np.array([30.0]), object()):
        with pytest.raises(ValueError, match="age must be") as caught:
            age_to_bin(bad)
        assert len(str(caught.value)) < 120


def test_age_bin_from_label_is_total():
    from bench.core.types import age_bin_from_label

    assert age_bin_from_label(" 20-29 ") == 5 and age_bin_from_label("70-120") == 9
    for bad in (None, 5, b"20-29", "20 - 29", "25-35", "\u0662\u0660-29", "x" * 100_000):
        with pytest.raises(ValueError, match="age group") as caught:
            age_bin_from_label(bad)
        assert len(str(caught.value)) < 200
