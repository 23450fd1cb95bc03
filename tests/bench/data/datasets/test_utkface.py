from pathlib import Path

import pytest

from bench.data.datasets import utkface
from bench.data.datasets.utkface import UTKFace, parse_utkface_name
from bench.core.types import DatasetIssue

MALFORMED = {"61_3_20170109150557335.jpg.chip.jpg"}  # a field missing (3 fields): race or gender unknown
SHORT_STAMP = "14_0_0_2017011022340900"  # datetime with 16 digits: labels age 14, male, White parse
#: images in the shared UTKFace folder (8,780 files) minus the malformed name
N_REAL = 8779


@pytest.fixture(scope="module")
def real_root(shared):
    return shared("data", "utkface")


def test_real_utkface_count_and_malformed_names(real_root):
    dataset = UTKFace(real_root)  # root holding images/
    samples = dataset.samples
    assert len(samples) == N_REAL
    assert {Path(issue.path).name for issue in dataset.issues} == MALFORMED
    assert dataset.filter_counts.as_dict() == {utkface.BAD_NAME: 1}
    short = next(s for s in samples if s.id == SHORT_STAMP)
    assert (short.attributes.age, short.attributes.gender, short.attributes.extra["race_name"]) == (14, 1, "White")
    assert short.meta["datetime"] == "2017011022340900"
    assert all(isinstance(issue, DatasetIssue) and "malformed" in issue.reason for issue in dataset.issues)
    ids = [s.id for s in samples]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert all(isinstance(s.hq, Path) and s.lq is None for s in samples)  # paths, nothing decoded


def test_real_utkface_labels_are_converted(real_root):
    by_id = {s.id: s for s in UTKFace(real_root / "images").samples}  # root = the images folder itself
    woman = by_id["100_1_0_20170110183726390"]  # UTKFace gender 1 = female
    assert woman.attributes.age == 100 and woman.attributes.age_bin == 9
    assert woman.attributes.gender == 0
    assert woman.attributes.extra == {"race": 0, "race_name": "White"}
    assert woman.meta["file"] == "100_1_0_20170110183726390.jpg.chip.jpg"
    boy = by_id["10_0_0_20161220222308131"]  # UTKFace gender 0 = male
    assert (boy.attributes.age, boy.attributes.age_bin, boy.attributes.gender) == (10, 3, 1)
    genders = {s.attributes.gender for s in by_id.values()}
    assert genders == {0, 1}


def test_real_utkface_split_is_deterministic_and_partitions(real_root):
    train = UTKFace(real_root, split="train")
    test = UTKFace(real_root, split="test", test_fraction=0.2)
    train_ids, test_ids = {s.id for s in train}, {s.id for s in test}
    assert not train_ids & test_ids
    assert len(train_ids) + len(test_ids) == N_REAL
    assert 0.18 < len(test_ids) / N_REAL < 0.22
    assert test.filter_counts[utkface.OTHER_SPLIT] == len(train_ids)  # the other side, counted as a filter
    # a stable hash (SHA-1 of the id), not the file order or Python's salted hash()
    assert [s.id for s in test.samples[:3]] == ["10_0_0_20170110220503946", "10_0_0_20170110220530650",
                                               "10_0_0_20170110224223937"]
    assert {s.id for s in UTKFace(real_root, split="test")} == test_ids
    assert test.describe()["options"] == {"split": "test", "test_fraction": 0.2, "split_seed": 0}
    # another split seed: another random partition of the same size, still a partition
    other = {s.id for s in UTKFace(real_root, split="test", split_seed=1)}
    assert other != test_ids and 0.18 < len(other) / N_REAL < 0.22
    assert not other & {s.id for s in UTKFace(real_root, split="train", split_seed=1)}


def _touch(folder: Path, *names: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(b"not decoded at index time")


def test_fixture_names_issues_and_ignored_files(tmp_path):
    _touch(tmp_path / "images", "26_1_2_20170116174525125.jpg.chip.jpg", "3_0_4_20170103200329407.jpg.chip.jpg",
           "39_1_20170116174525125.jpg.chip.jpg", "x_0_0_20170116174525125.jpg.chip.jpg",
           "30_2_0_20170116174525125.jpg.chip.jpg", "notes.txt")
    dataset = UTKFace(tmp_path)
    assert [s.id for s in dataset] == ["26_1_2_20170116174525125", "3_0_4_20170103200329407"]
    assert dataset.samples[1].attributes.extra["race_name"] == "Other"
    reasons = {Path(i.path).name: i.reason for i in dataset.issues}
    assert set(reasons) == {"39_1_20170116174525125.jpg.chip.jpg", "x_0_0_20170116174525125.jpg.chip.jpg",
                            "30_2_0_20170116174525125.jpg.chip.jpg"}
    assert "3 fields" in reasons["39_1_20170116174525125.jpg.chip.jpg"]
    assert "age" in reasons["x_0_0_20170116174525125.jpg.chip.jpg"]
    assert "gender" in reasons["30_2_0_20170116174525125.jpg.chip.jpg"]


def test_parse_name_and_errors(tmp_path):
    assert parse_utkface_name("26_1_2_20170116174525125") == (26, 0, 2, "20170116174525125")
    # the public archive's short stamps: the datetime is not a label, the labels parse
    assert parse_utkface_name("14_0_0_2017011022340900") == (14, 1, 0, "2017011022340900")
    assert parse_utkface_name("1_1_4_201701091732") == (1, 0, 4, "201701091732")
    with pytest.raises(ValueError, match="race"):
        parse_utkface_name("26_1_7_20170116174525125")
    with pytest.raises(ValueError, match="needs --root"):
        UTKFace().samples
    with pytest.raises(FileNotFoundError, match="does not exist"):
        UTKFace(tmp_path / "missing").samples
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no images"):
        UTKFace(tmp_path / "empty").samples
    with pytest.raises(ValueError, match="split"):
        UTKFace(tmp_path, split="val")


@pytest.mark.parametrize("stem, cause", [
    ("999_0_0_20170116174525125", "age 999 is outside 0-120 years"),
    ("121_0_0_20170116174525125", "age 121 is outside 0-120 years"),
    ("\u0663_0_0_20170116174525125", "age '\u0663' is not a whole number"),       # Arabic-Indic three
    ("2\u0666_0_0_20170116174525125", "is not a whole number"),
    ("26_0_0_2017011617452512\u0665", "datetime"),                                # a non-ASCII digit in it
    ("26_0_0_20170116174525125\n", "datetime"),                                   # `$` matched before \n
    ("0030_0_0_20170116174525125", "age '0030' is not a whole number"),
    ("26_\uff11_0_20170116174525125", "gender"),                                  # full-width one
    ("26_1_2_" + "9" * 100_000, "datetime"),
    ("\x00" * 10, "1 fields instead of 4"),
])
def test_parse_name_refuses_out_of_range_and_non_ascii(stem, cause):
    """Faults: ages of 999 and Arabic-Indic digits were accepted (\\d, str.isdigit)."""
    with pytest.raises(ValueError, match=cause) as caught:
        parse_utkface_name(stem)
    assert len(str(caught.value)) < 200


def test_parse_name_bounds():
    assert parse_utkface_name("120_0_0_20170116174525125")[0] == 120
    assert parse_utkface_name("0_1_4_20170116174525125") == (0, 0, 4, "20170116174525125")
    assert parse_utkface_name("116_0_0_20170116174525125", max_age=116)[0] == 116
    with pytest.raises(ValueError, match="outside 0-116"):
        parse_utkface_name("117_0_0_20170116174525125", max_age=116)
    with pytest.raises(ValueError, match="not text"):
        parse_utkface_name(None)


def test_fixture_hostile_names_and_entries(tmp_path):
    folder = tmp_path / "images"
    _touch(folder, "26_1_2_20170116174525125.jpg.chip.jpg", "999_0_0_20170116174525125.jpg.chip.jpg",
           "\u0663_0_0_20170116174525125.jpg.chip.jpg", "117_0_0_20170116174525125.jpg.chip.jpg")
    (folder / "27_1_2_20170116174525125.jpg.chip.jpg").mkdir()
    (folder / "28_1_2_20170116174525125.jpg.chip.jpg").symlink_to(folder / "gone.jpg")
    (folder / "29_1_2_20170116174525125.jpg.chip.jpg").symlink_to(folder / "29_1_2_20170116174525125.jpg.chip.jpg")
    dataset = UTKFace(tmp_path)
    assert [s.id for s in dataset] == ["117_0_0_20170116174525125", "26_1_2_20170116174525125"]
    reasons = {Path(i.path).name.split("_")[0]: i.reason for i in dataset.issues}
    assert set(reasons) == {"999", "\u0663", "27", "28", "29"}
    assert "outside 0-120" in reasons["999"] and "not a whole number" in reasons["\u0663"]
    assert reasons["27"].startswith("is a directory") and reasons["28"].startswith("broken symbolic link")
    assert reasons["29"].startswith("symbolic link loop")
    assert "max_age" not in dataset.describe()["options"]
    strict = UTKFace(tmp_path, max_age=116)  # the documented range of the release
    assert [s.id for s in strict] == ["26_1_2_20170116174525125"]
    assert strict.describe()["options"]["max_age"] == 116
