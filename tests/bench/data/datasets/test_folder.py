import os
from pathlib import Path

import pytest

from bench.core.imageio import list_images
from bench.data.datasets import folder
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
        "p7,35,,female,\n"         # an id on two rows: neither is used
        "p7,36,,female,\n"
    )
    dataset = FolderDataset(tmp_path, coding="frbench")
    attrs = {s.id: s.attributes for s in dataset}
    assert (attrs["p1"].age, attrs["p1"].age_bin, attrs["p1"].gender, dict(attrs["p1"].extra)) == (
        34, 6, 0, {"race": "Asian"})
    assert (attrs["p2"].age, attrs["p2"].age_bin, attrs["p2"].gender) == (None, 5, 1)
    assert (attrs["p3"].age, attrs["p3"].age_bin, attrs["p3"].gender) == (71.5, 9, 1)
    assert (attrs["p4"].age_bin, attrs["p4"].gender) == (3, 0)
    assert attrs["p5"].empty and attrs["p6"].empty and attrs["p7"].empty
    reasons = [i.reason for i in dataset.issues]
    for expected in ("age 40 is not in age bin 5", "unrecognised gender 'x'"):
        assert any(expected in r for r in reasons), expected
    # a row for an image the folder does not hold is counted (a label file may cover a larger set)
    assert dataset.filter_counts.as_dict() == {folder.NO_IMAGE: 1, folder.BAD_LABEL: 2, "label row of an id given "
                                               "on several rows (none used)": 2}
    assert dataset.filter_counts.records()[-1]["examples"] == [f"{tmp_path / 'attributes.csv'} line 8 ('p9')"]
    duplicates = [(Path(i.path).name, i.reason) for i in dataset.issues if "on 2 rows" in i.reason]
    assert duplicates == [(f"attributes.csv line {n}", "id 'p7' is on 2 rows (lines 9, 10); none of them is used")
                          for n in (9, 10)]
    assert sum("no usable row" in r for r in reasons) == 3  # p5, p6, p7
    assert len(reasons) == 7


def test_explicit_attributes_path_with_filename_column(tmp_path):
    _files(tmp_path / "faces", "a.png", "b.png")
    labels = tmp_path / "labels.csv"
    labels.write_text("filename,gender,age_bin\na.png,Female,0-2\nb.png,1,7\n")
    dataset = FolderDataset(tmp_path / "faces", kind="hq", attributes=str(labels), coding="frbench")
    assert [(s.attributes.gender, s.attributes.age_bin) for s in dataset] == [(0, 0), (1, 7)]
    assert dataset.issues == []
    assert dataset.describe()["options"] == {"attributes": str(labels), "kind": "hq", "recursive": False,
                                             "coding": "frbench"}
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


def test_hostile_attributes_csv_never_aborts_indexing(tmp_path):
    """Faults: an age of 1e308 raised TypeError; a 200 KB field raised csv.Error; extra/missing fields
    passed silently (extras dropped, missing cells None)."""
    _files(tmp_path, *(f"hq/{name}.png" for name in "abcdefg"))
    (tmp_path / "attributes.csv").write_bytes(
        b"id,age,gender,note\n"
        b"a,1e308,0,\n"                       # line 2: was int(1e308) -> TypeError in age_to_bin
        b"b,30,1," + b"x" * 200_000 + b"\n"   # line 3: over 64 KiB and over Python's csv limit
        b"c,30,1,,surplus\n"                  # line 4: a field more than the header
        b"d,30\n"                             # line 5: fields missing
        b"e,\xd9\xa3,0,\n"                    # line 6: Arabic-Indic three (valid UTF-8), float() takes it
        b"f,3\xff,0,\n"                       # line 7: not UTF-8
        b"g,999,0,\x00\n"                     # line 8: NUL
        b"a,31,0,\n")                         # line 9: a second row for a -> neither is used
    dataset = FolderDataset(tmp_path, coding="frbench")
    assert all(s.attributes.empty for s in dataset.samples)
    rows = {Path(i.path).name: i.reason for i in dataset.issues if i.path.startswith(str(tmp_path / "attributes"))}
    assert rows == {
        "attributes.csv line 2": "id 'a' is on 2 rows (lines 2, 9); none of them is used",
        "attributes.csv line 9": "id 'a' is on 2 rows (lines 2, 9); none of them is used",
        "attributes.csv line 3": "a field of 200000 characters (over the 65536-character limit); row not used",
        "attributes.csv line 4": "5 fields, the header has 4; row not used",
        "attributes.csv line 5": "2 fields, the header has 4; row not used",
        "attributes.csv line 6": "age '\u0663' is not a number of years (ASCII digits, e.g. 34 or 71.5)",
        "attributes.csv line 7": "byte 0xff is not UTF-8; row not used",
        "attributes.csv line 8": "contains a NUL byte; row not used",
    }
    assert sum("no usable row" in i.reason for i in dataset.issues) == 7


def test_age_range_and_max_age_option(tmp_path):
    _files(tmp_path, "hq/a.png", "hq/b.png")
    (tmp_path / "attributes.csv").write_text("id,age\na,120\nb,121\n")
    dataset = FolderDataset(tmp_path, coding="frbench")
    assert [s.attributes.age for s in dataset] == [120, None]
    assert any("age '121' is outside 0-120 years" in i.reason for i in dataset.issues)
    assert "max_age" not in dataset.describe()["options"]  # default run records unchanged
    strict = FolderDataset(tmp_path, max_age=116, coding="frbench")
    assert [s.attributes.age for s in strict] == [None, None]
    assert strict.describe()["options"]["max_age"] == 116
    with pytest.raises(ValueError, match="max_age"):
        FolderDataset(tmp_path, max_age=float("nan"))


def _entries(folder: Path) -> None:
    """Every kind of entry list_images must skip and report (and one good image)."""
    _files(folder, "good.png", "notes.txt")
    (folder / "folder.jpg").mkdir()                      # a directory named like an image
    (folder / "broken.png").symlink_to(folder / "missing.png")
    (folder / "self.png").symlink_to(folder / "self.png")  # a link to itself: ELOOP
    (folder / "broken.txt").symlink_to(folder / "missing.txt")  # no image extension: ignored silently
    os.mkfifo(folder / "pipe.png")
    (folder / "link.png").symlink_to(folder / "good.png")  # a link to a regular file is listed


def test_list_images_reports_every_skipped_image_entry(tmp_path):
    _entries(tmp_path)
    issues = []
    assert [p.name for p in list_images(tmp_path, issues=issues)] == ["good.png", "link.png"]
    assert {Path(i.path).name: i.reason for i in issues} == {
        "broken.png": "broken symbolic link (its target is missing); skipped",
        "folder.jpg": "is a directory, not an image file; skipped",
        "pipe.png": "not a regular file (FIFO, socket or device); skipped",
        "self.png": "symbolic link loop; skipped",
    }
    assert [p.name for p in list_images(tmp_path)] == ["good.png", "link.png"]  # issues=None: same files


def test_list_images_permission_denied_and_undecodable_names(tmp_path, monkeypatch):
    _files(tmp_path, "a.png", "b.png")
    (tmp_path / os.fsdecode(b"c\xff.png")).write_bytes(b"x")
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: not str(path).endswith("b.png") and real_access(path, mode))
    issues = []
    assert [p.name for p in list_images(tmp_path, issues=issues)] == ["a.png"]
    assert sorted(i.reason for i in issues) == ["file name is not valid UTF-8; skipped",
                                                "permission denied (not readable); skipped"]
    assert all(i.path.encode("utf-8") for i in issues)  # the recorded path is valid text


def test_list_images_recursive_ends_on_symlink_loops(tmp_path):
    _files(tmp_path, "top.png", "set1/a.png", "set1/deep/b.png")
    (tmp_path / "set1" / "deep" / "up").symlink_to(tmp_path)      # a loop back to the root
    (tmp_path / "set1" / "again").symlink_to(tmp_path / "set1")   # a loop to its own folder
    (tmp_path / "loop.jpg").symlink_to(tmp_path / "loop.jpg")
    issues = []
    files = list_images(tmp_path, recursive=True, issues=issues)
    assert [p.relative_to(tmp_path).as_posix() for p in files] == ["set1/a.png", "set1/deep/b.png", "top.png"]
    assert sorted((Path(i.path).name, i.reason.split(" (")[0].split(";")[0]) for i in issues) == [
        ("again", "folder already walked"), ("loop.jpg", "symbolic link loop"), ("up", "folder already walked")]


def test_folder_dataset_reports_skipped_entries(tmp_path):
    _entries(tmp_path / "hq")
    dataset = FolderDataset(tmp_path)
    assert [s.id for s in dataset] == ["good", "link"]
    assert sorted(Path(i.path).name for i in dataset.issues) == ["broken.png", "folder.jpg", "pipe.png", "self.png"]


def test_an_unopenable_attributes_csv_is_a_clear_whole_file_error(tmp_path):
    _files(tmp_path, "hq/a.png")
    (tmp_path / "attributes.csv").symlink_to(tmp_path / "moved.csv")  # was silently "no labels"
    with pytest.raises(ValueError, match=r"attributes.csv: cannot read label file"):
        FolderDataset(tmp_path).samples
    (tmp_path / "attributes.csv").unlink()
    (tmp_path / "attributes.csv").mkdir()
    with pytest.raises(ValueError, match=r"attributes.csv: cannot read label file"):
        FolderDataset(tmp_path).samples
