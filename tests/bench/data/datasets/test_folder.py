from pathlib import Path

import pytest

from bench.data.datasets.folder import FolderDataset


def _files(folder: Path, *names: str) -> None:
    for name in names:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(b"garbage: image files are not opened at index time")


def test_hq_lq_pairs_by_stem(tmp_path):
    _files(tmp_path, "hq/a.png", "hq/b.png", "hq/only_hq.png", "lq/a.jpg", "lq/b.JPG", "lq/only_lq.png",
           "lq/readme.txt")
    dataset = FolderDataset(tmp_path)
    samples = dataset.samples
    assert [(s.id, s.hq.name, s.lq.name) for s in samples] == [("a", "a.png", "a.jpg"), ("b", "b.png", "b.JPG")]
    assert sorted((Path(i.path).name, i.reason.split(" ")[1]) for i in dataset.issues) == [
        ("only_hq.png", "lq/"), ("only_lq.png", "hq/")]
    assert dataset.has_hq and samples[0].meta["file"] == "hq/a.png"


def test_lq_only_and_flat_folders(tmp_path):
    _files(tmp_path / "captured", "lq/x.png", "lq/y.webp")
    captured = FolderDataset(tmp_path / "captured")
    assert not captured.has_hq
    assert [(s.id, s.hq, s.lq.name) for s in captured] == [("x", None, "x.png"), ("y", None, "y.webp")]
    _files(tmp_path / "flat", "2.png", "10.png", "notes.md", "same.png", "same.jpg")
    with pytest.raises(ValueError, match=r"flat folder of images.*-D kind=hq.*-D kind=lq"):
        FolderDataset(tmp_path / "flat")  # real LQ faces silently taken as HQ would score themselves
    flat = FolderDataset(tmp_path / "flat", kind="hq")
    assert [s.id for s in flat] == ["10", "2", "same"] and all(s.lq is None for s in flat)
    assert [Path(i.path).name for i in flat.issues] == ["same.png"]  # same.jpg sorts first and is kept
    as_lq = FolderDataset(tmp_path / "flat", kind="lq")
    assert not as_lq.has_hq and all(s.hq is None and s.lq is not None for s in as_lq)


def test_recursive_ids(tmp_path):
    _files(tmp_path, "set1/a.png", "set2/a.png", "top.png")
    assert [s.id for s in FolderDataset(tmp_path, kind="hq")] == ["top"]
    assert [s.id for s in FolderDataset(tmp_path, kind="hq", recursive=True)] == ["set1/a", "set2/a", "top"]


def test_attributes_csv_values_and_bad_rows(tmp_path):
    _files(tmp_path, "hq/p1.png", "hq/p2.png", "hq/p3.png", "hq/p4.png", "hq/p5.png", "hq/p6.png", "hq/p7.png")
    (tmp_path / "attributes.csv").write_text(
        "id,age,age_bin,gender,race\n"
        "p1,34,,female,Asian\n"
        "p2,,20-29,M,\n"
        "p3,71.5,9,1,\n"
        "p4,,3,woman,\n"
        "p5,40,20-29,man,\n"       # age and age bin disagree
        "p6,12,,x,\n"              # bad gender
        "p9,30,,0,\n"              # no such image
        "p1,35,,female,\n"         # duplicate
    )
    dataset = FolderDataset(tmp_path)
    attrs = {s.id: s.attributes for s in dataset}
    assert (attrs["p1"].age, attrs["p1"].age_bin, attrs["p1"].gender, dict(attrs["p1"].extra)) == (
        34, 6, 0, {"race": "Asian"})
    assert (attrs["p2"].age, attrs["p2"].age_bin, attrs["p2"].gender) == (None, 5, 1)
    assert (attrs["p3"].age, attrs["p3"].age_bin, attrs["p3"].gender) == (71.5, 9, 1)
    assert (attrs["p4"].age_bin, attrs["p4"].gender) == (3, 0)
    assert attrs["p5"].empty and attrs["p6"].empty and attrs["p7"].empty
    reasons = [i.reason for i in dataset.issues]
    for expected in ("age 40 is not in age bin 5", "unrecognised gender 'x'", "no image with id 'p9'",
                     "duplicate row for id 'p1'"):
        assert any(expected in r for r in reasons), expected
    assert sum("no usable row" in r for r in reasons) == 3  # p5, p6, p7
    assert len(reasons) == 7


def test_explicit_attributes_path_with_filename_column(tmp_path):
    _files(tmp_path / "faces", "a.png", "b.png")
    labels = tmp_path / "labels.csv"
    labels.write_text("filename,gender,age_bin\na.png,Female,0-2\nb.png,1,7\n")
    dataset = FolderDataset(tmp_path / "faces", kind="hq", attributes=str(labels))
    assert [(s.attributes.gender, s.attributes.age_bin) for s in dataset] == [(0, 0), (1, 7)]
    assert dataset.issues == []
    assert dataset.describe()["options"] == {"attributes": str(labels), "kind": "hq", "recursive": False}
    with pytest.raises(FileNotFoundError, match="attributes file"):
        FolderDataset(tmp_path / "faces", kind="hq", attributes="nope.csv").samples
    (tmp_path / "bad.csv").write_text("name,gender\na,0\n")
    with pytest.raises(ValueError, match="none of the columns"):
        FolderDataset(tmp_path / "faces", kind="hq", attributes=str(tmp_path / "bad.csv")).samples


def test_errors(tmp_path):
    with pytest.raises(ValueError, match="kind"):
        FolderDataset(tmp_path, kind="gt")
    with pytest.raises(FileNotFoundError, match="no images"):
        FolderDataset(tmp_path, kind="hq").samples
    with pytest.raises(FileNotFoundError, match="does not exist"):
        FolderDataset(tmp_path / "missing").samples
