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
