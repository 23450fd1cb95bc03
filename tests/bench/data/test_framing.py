"""Dataset framings, the alignment decision and the attribute evaluator's chips following the framing."""
import pytest

from bench.data.framing import check_framing, dataset_framing, resolve_alignment, scored_framing


class _Method:
    expects_alignment = "ffhq"


class _Dataset:
    def __init__(self, framing, synthetic=False, has_hq=True, name="d"):
        self.framing, self.synthetic, self.has_hq, self.name = framing, synthetic, has_hq, name


def test_every_dataset_declares_its_framing(tmp_path):
    from bench.core.registry import DATASETS

    expected = {"ffhq": "ffhq", "celebahq": "ffhq", "utkface": "utkface", "cox": "unaligned", "imdb": "unaligned",
                "folder": "unaligned", "synthetic": "utkface"}
    for name, framing in expected.items():
        assert dataset_framing(DATASETS.get(name)) == framing, name


def test_folder_takes_a_framing_option_recorded_only_when_set(tmp_path):
    from bench.data.datasets.folder import FolderDataset

    assert "framing" not in FolderDataset(tmp_path, kind="hq").describe()["options"]
    aligned = FolderDataset(tmp_path, kind="hq", framing="ffhq")
    assert dataset_framing(aligned) == "ffhq" and aligned.describe()["options"]["framing"] == "ffhq"
    with pytest.raises(ValueError, match="framing must be one of ffhq, utkface, unaligned"):
        FolderDataset(tmp_path, kind="hq", framing="celeba")
    with pytest.raises(ValueError):
        check_framing(None)


@pytest.mark.parametrize("align, method, dataset, captured, mode", [
    ("auto", _Method(), _Dataset("utkface"), False, "ffhq"),
    ("auto", _Method(), _Dataset("unaligned"), False, "ffhq"),
    ("auto", _Method(), _Dataset("ffhq"), False, "none"),
    ("auto", object(), _Dataset("utkface"), False, "none"),        # bicubic declares nothing
    ("auto", _Method(), _Dataset("utkface", synthetic=True), False, "none"),
    ("auto", _Method(), _Dataset("unaligned", has_hq=False), True, "none"),
    ("ffhq", object(), _Dataset("utkface"), False, "ffhq"),
    ("none", _Method(), _Dataset("utkface"), False, "none"),
])
def test_alignment_decision(align, method, dataset, captured, mode):
    got, note = resolve_alignment(align, method, dataset, captured)
    assert got == mode
    # every departure from the method's training framing is said in the run's notes
    if getattr(method, "expects_alignment", None) and dataset.framing != "ffhq":
        assert note
    assert scored_framing(got, dataset) == ("ffhq" if mode == "ffhq" else dataset.framing)


def test_explicit_alignment_refused_without_hq():
    with pytest.raises(ValueError, match="captured LQ"):
        resolve_alignment("ffhq", _Method(), _Dataset("unaligned", has_hq=False), True)
    with pytest.raises(ValueError, match="align must be one of"):
        resolve_alignment("yes", _Method(), _Dataset("utkface"), False)


def test_attribute_chips_follow_the_framing_unless_an_option_says_otherwise():
    from metrics.attribute_error import AttributeBias, attr_ffhq

    assert AttributeBias(framing="ffhq").classifier_options == {"align": "template", "template": "ffhq"}
    assert AttributeBias(framing="utkface").classifier_options == {"align": "template", "template": "utkface"}
    assert AttributeBias(framing="unaligned").classifier_options == {"align": "detect"}
    explicit = AttributeBias(framing="ffhq", template="utkface")
    assert explicit.classifier_options == {"align": "template", "template": "utkface"}
    assert explicit.chips_from == "option"
    assert attr_ffhq(framing="utkface").classifier_options["template"] == "ffhq"
    # without a framing (a metric built outside a run): the UTKFace template, as before, and said so
    default = AttributeBias()
    assert default.classifier_options["template"] == "utkface" and default.chips_from.startswith("default")
    with pytest.raises(ValueError, match="attr option framing"):
        AttributeBias(framing="sideways")
