"""Label codings: FairFace's own vocabulary, the Hugging Face integer coding, refusal of undeclared integers.

Expectations come from the published formats, not from the module under test:
* FairFace (Kärkkäinen & Joo, WACV 2021; github.com/joojs/fairface): label files with columns
  ``file,age,gender,race,service_test``, ages as the 9 groups below, genders ``Male``/``Female``;
* the Hugging Face copy ``HuggingFaceM4/FairFace`` (dataset card ``class_label`` names): the same groups
  indexed 0-8 in that order, gender 0 = Male, 1 = Female, race 0-6 in the order of ``HF_RACES``;
* FFHQ-Aging groups 0-2, 3-6, 7-9, 10-14, 15-19, 20-29, 30-39, 40-49, 50-69, 70-120 (Or-El et al., ECCV 2020).
"""
import csv

import pytest

from bench.data.datasets import folder
from bench.data.datasets.codings import age_group, check_coding_name, decode_labels, fairface_bins
from bench.data.datasets.folder import FolderDataset

HF_AGES = ["0-2", "3-9", "10-19", "20-29", "30-39", "40-49", "50-59", "60-69", "more than 70"]
HF_GENDERS = ["Male", "Female"]
HF_RACES = ["East Asian", "Indian", "Black", "White", "Middle Eastern", "Latino_Hispanic", "Southeast Asian"]
#: FairFace group -> FFHQ-Aging group index when it nests, None when it spans two (worked out by hand)
NESTS = {"0-2": 0, "3-9": None, "10-19": None, "20-29": 5, "30-39": 6, "40-49": 7, "50-59": 8, "60-69": 8,
         "more than 70": 9}
#: the 5 shared FairFace validation faces, as written in fairface_label_val.csv (age, gender, race)
REAL = {"1423": ("10-19", "Female", "Black"), "1561": ("60-69", "Female", "Latino_Hispanic"),
        "1996": ("20-29", "Male", "East Asian"), "2963": ("3-9", "Female", "Latino_Hispanic"),
        "7242": ("30-39", "Female", "White")}
FRBENCH_GENDER = {"Female": 0, "Male": 1}


def test_fairface_groups_map_where_they_nest():
    for group, expected in NESTS.items():
        age_bin, fairface, coarse = age_group(group)
        assert (age_bin, fairface) == (expected, group)
        assert (coarse is None) == (expected is not None)
    assert fairface_bins("3-9") == (1, 2) and fairface_bins("10-19") == (3, 4)
    assert "3-6, 7-9" in age_group("3-9")[2]
    assert age_group("20-29")[0] == 5 and age_group("70-120") == (9, None, None)  # FFHQ-Aging labels
    with pytest.raises(ValueError, match="unknown age group '5-9'"):
        age_group("5-9")
    with pytest.raises(ValueError, match="frbench.*fairface-hf"):
        check_coding_name("utk")


@pytest.fixture()
def faces(tmp_path):
    """A flat folder of four faces (contents unread at index time)."""
    root = tmp_path / "faces"
    root.mkdir()
    for name in ("1", "2", "3", "4"):
        (root / f"{name}.jpg").write_bytes(b"x")
    return root


def test_integer_labels_need_a_declared_coding(faces, tmp_path):
    labels = tmp_path / "hf.csv"
    labels.write_text("file,age,gender,race\nval/1.jpg,3,0,2\nval/2.jpg,8,1,6\n")
    with pytest.raises(ValueError) as caught:
        FolderDataset(faces, kind="hq", attributes=str(labels)).samples
    message = str(caught.value)
    assert "\n" not in message and str(labels) in message and "line 2" in message
    assert "-D coding=frbench" in message and "-D coding=fairface-hf" in message
    hf = {s.id: s.attributes for s in FolderDataset(faces, kind="hq", attributes=str(labels), coding="fairface-hf")}
    assert (hf["1"].age, hf["1"].age_bin, hf["1"].gender, hf["1"].extra["race"]) == (None, 5, 1, "Black")
    assert (hf["2"].age_bin, hf["2"].gender, hf["2"].extra["race"]) == (9, 0, "Southeast Asian")
    assert hf["2"].extra["age_group"] == "more than 70"
    own = {s.id: s.attributes for s in FolderDataset(faces, kind="hq", attributes=str(labels), coding="frbench")}
    assert (own["1"].age, own["1"].gender) == (3, 0)  # the same integers read in frbench's coding
    text = tmp_path / "text.csv"  # text labels need no coding
    text.write_text("filename,age,gender\n1.jpg,50-59,Male\n2.jpg,3-9,female\n3.jpg,more than 70,F\n")
    ds = FolderDataset(faces, kind="hq", attributes=str(text))
    got = {s.id: (s.attributes.age_bin, s.attributes.gender, s.attributes.extra.get("age_group")) for s in ds}
    assert got["1"] == (8, 1, "50-59") and got["2"] == (None, 0, "3-9") and got["3"] == (9, 0, "more than 70")
    assert [r["kind"] for r in ds.filter_counts.records()] == ["coarse label"]
    with pytest.raises(ValueError, match="FairFace age index 9 is above 8"):
        decode_labels({"age": "9"}, "fairface-hf")


@pytest.fixture(scope="module")
def fairface(shared):
    return shared("data", "fairface")


def _expected(stem):
    age, gender, race = REAL[stem]
    return NESTS[age], FRBENCH_GENDER[gender], race, age


def test_real_fairface_faces_from_the_official_label_file(fairface):
    ds = FolderDataset(fairface / "images", kind="hq", attributes=str(fairface / "fairface_label_val.csv"))
    got = {s.id: (s.attributes.age_bin, s.attributes.gender, s.attributes.extra["race"],
                  s.attributes.extra["age_group"]) for s in ds}
    assert got == {stem: _expected(stem) for stem in REAL}
    assert ds.issues == []
    counts = ds.filter_counts.as_dict()
    assert counts[folder.NO_IMAGE] == 10954 - 5  # rows of the other validation faces: counted, not listed
    coarse = {r["reason"]: r["count"] for r in ds.filter_counts.records() if r["kind"] == "coarse label"}
    assert sorted(coarse.values()) == [1, 1]  # 1423 (10-19) and 2963 (3-9)


def test_real_fairface_faces_from_a_hugging_face_style_csv(fairface, tmp_path):
    """The same 5 faces, labels exported as the Hugging Face copy codes them (integers)."""
    path = tmp_path / "fairface_hf.csv"
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "age", "gender", "race", "service_test"])
        for stem, (age, gender, race) in REAL.items():
            writer.writerow([f"val/{stem}.jpg", HF_AGES.index(age), HF_GENDERS.index(gender), HF_RACES.index(race),
                             "False"])
    with pytest.raises(ValueError, match="no declared coding"):
        FolderDataset(fairface / "images", kind="hq", attributes=str(path)).samples
    ds = FolderDataset(fairface / "images", kind="hq", attributes=str(path), coding="fairface-hf")
    got = {s.id: (s.attributes.age_bin, s.attributes.gender, s.attributes.extra["race"],
                  s.attributes.extra["age_group"]) for s in ds}
    assert got == {stem: _expected(stem) for stem in REAL}
    assert ds.issues == [] and ds.describe()["options"]["coding"] == "fairface-hf"
    wrong = {s.id: s.attributes.gender for s in FolderDataset(fairface / "images", kind="hq", attributes=str(path),
                                                              coding="frbench")}
    assert all(wrong[stem] != FRBENCH_GENDER[REAL[stem][1]] for stem in REAL)  # what a silent default did


def test_official_fairface_layout_with_train_and_val_folders(tmp_path):
    """The official archive: train/ and val/ folders; fairface_label_val.csv names files as val/<n>.jpg."""
    for name in ("train/1.jpg", "val/1.jpg", "val/2.jpg"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    labels = tmp_path / "fairface_label_val.csv"
    labels.write_text("file,age,gender,race,service_test\nval/1.jpg,50-59,Male,Indian,True\n"
                      "val/2.jpg,0-2,Female,Black,False\n")
    ds = FolderDataset(tmp_path, kind="hq", recursive=True, attributes=str(labels))
    got = {s.id: (s.attributes.age_bin, s.attributes.gender, s.attributes.extra.get("race")) for s in ds}
    assert got == {"train/1": (None, None, None), "val/1": (8, 1, "Indian"), "val/2": (0, 0, "Black")}
    assert [i.reason for i in ds.issues] == [f"no usable row in {labels}"]  # train/1 has no row in the val file
