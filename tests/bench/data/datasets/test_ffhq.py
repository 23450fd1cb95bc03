import copy
import csv
import gzip
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bench.data.datasets.ffhq import FFHQ
from bench.core.types import AGE_BIN_LABELS

AGING_COLUMNS = ["image_number", "age_group", "age_group_confidence", "gender", "gender_confidence",
                 "head_pitch", "head_roll", "head_yaw", "left_eye_occluded", "right_eye_occluded", "glasses"]


@pytest.fixture(scope="module")
def samples_dir(shared):
    return shared("data", "ffhq-samples")


def _csv_rows(path: Path, ids: set[str]) -> dict[str, dict]:
    with gzip.open(path, "rt", newline="") as handle:
        return {row["image_id"]: row for row in csv.DictReader(handle) if row["image_id"] in ids}


def test_real_images_with_flattened_features_csv(samples_dir):
    dataset = FFHQ(samples_dir, images="hq1024")  # labels="features", CSV found in root
    samples = dataset.samples
    assert [s.id for s in samples] == [f"{i:05d}" for i in range(10)]
    assert dataset.issues == []
    rows = _csv_rows(samples_dir / "ffhq_msface_attributes.csv.gz", {s.id for s in samples})
    for sample in samples:
        row = rows[sample.id]
        assert sample.attributes.age == pytest.approx(float(row["age"]))
        assert sample.attributes.gender == {"female": 0, "male": 1}[row["gender"]]
        assert sample.attributes.extra["blur_value"] == pytest.approx(float(row["blur_value"]))
        assert sample.hq == samples_dir / "hq1024" / f"{sample.id}.png"
        assert sample.meta["label_source"] == "ffhq-features"
    assert samples[0].attributes.age_bin == 0 and samples[0].attributes.gender == 0  # the baby of 00000.png


def test_real_images_with_per_image_json_folder(samples_dir, tmp_path):
    record = json.loads((samples_dir / "sample_00000.json").read_text())
    json_dir = tmp_path / "ffhq-features-dataset" / "json"
    json_dir.mkdir(parents=True)
    (json_dir / "00000.json").write_text(json.dumps(record))
    (json_dir / "00001.json").write_text("[]")  # no face detected
    two = copy.deepcopy(record) + copy.deepcopy(record)  # two faces: the larger one is used
    two[1]["faceRectangle"].update(width=90, height=90)
    two[1]["faceAttributes"].update(gender="male", age=41.0)
    (json_dir / "00002.json").write_text(json.dumps(two))
    (json_dir / "00003.json").write_text("{not json")
    dataset = FFHQ(tmp_path, images=str(samples_dir / "hq1024"), labels="features")
    by_id = {s.id: s for s in dataset.samples}
    assert len(by_id) == 10
    first = by_id["00000"].attributes
    assert (first.age, first.gender) == (record[0]["faceAttributes"]["age"], 0)
    assert first.extra["head_yaw"] == record[0]["faceAttributes"]["headPose"]["yaw"]
    assert by_id["00001"].attributes.empty
    assert (by_id["00002"].attributes.gender, by_id["00002"].attributes.age) == (1, 41.0)
    assert by_id["00002"].attributes.extra["n_faces"] == 2
    reasons = {Path(i.path).stem: i.reason for i in dataset.issues}
    assert "no face" in reasons["00001"]
    assert "unreadable JSON" in reasons["00003"]
    assert all("no label" in reasons[f"{i:05d}"] for i in range(4, 10))
    assert len(dataset.issues) == 8


def _png(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((8, 8, 3), 128, np.uint8)).save(path)


def _write_aging_csv(path: Path, rows: list[list]) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(AGING_COLUMNS)
        writer.writerows(rows)


def test_ffhq_aging_labels_in_official_block_layout(tmp_path):
    images = tmp_path / "ffhq_aging256x256"
    for name in ("00000/00000.png", "00000/00001.png", "00000/00002.png", "01000/01000.png", "00000/cover.png"):
        _png(images / name)
    _write_aging_csv(tmp_path / "ffhq_aging_labels.csv", [
        [0, "0-2", 0.98, "female", 0.71, 5.2, 1.1, 14.9, 12.0, 9.5, "None"],
        [1, "20-29", 0.66, "female", 1.0, -7.0, -0.9, -0.4, -1, -1, "Normal"],
        [2, "25-35", 0.9, "male", 0.9, 0, 0, 0, 0, 0, "None"],  # not an FFHQ-Aging group
        [1000, "70-120", 0.8, "male", 0.99, 1.0, 2.0, 3.0, 4.0, 5.0, "Dark"],
        [5000, "30-39", 0.8, "male", 0.99, 1.0, 2.0, 3.0, 4.0, 5.0, "None"],  # no such image: ignored
    ])
    # a features CSV beside it must not be used: one source per dataset
    with gzip.open(tmp_path / "ffhq_msface_attributes.csv.gz", "wt") as handle:
        handle.write("image_id,n_faces,gender,age\n00000,1,male,55.0\n")
    dataset = FFHQ(tmp_path, images="ffhq_aging256x256", labels="aging")
    by_id = {s.id: s for s in dataset.samples}
    assert list(by_id) == ["00000", "00001", "00002", "01000"]
    baby = by_id["00000"].attributes
    assert (baby.age, baby.age_bin, baby.gender) == (None, 0, 0)
    assert baby.extra["age_group_confidence"] == 0.98 and baby.extra["glasses"] == "None"
    assert AGE_BIN_LABELS[by_id["00001"].attributes.age_bin] == "20-29"
    assert (by_id["01000"].attributes.age_bin, by_id["01000"].attributes.gender) == (9, 1)
    assert by_id["00002"].attributes.empty
    assert {s.meta["label_source"] for s in by_id.values()} == {"ffhq-aging"}
    reasons = {Path(i.path).name: i.reason for i in dataset.issues}
    assert "unknown age group '25-35'" in reasons["00002.png"]
    assert "not a five-digit FFHQ id" in reasons["cover.png"]
    assert len(dataset.issues) == 2
    from bench.data.datasets import ffhq
    assert dataset.filter_counts.as_dict() == {ffhq.BAD_NAME: 1, ffhq.BAD_LABEL: 1}
    assert dataset.filter_counts.records()[-1]["examples"] == [f"{tmp_path / 'ffhq_aging_labels.csv'} line 4"]


def test_label_source_errors(tmp_path):
    _png(tmp_path / "00000.png")
    with pytest.raises(ValueError, match="labels must be one of"):
        FFHQ(tmp_path, labels="deepface")
    with pytest.raises(FileNotFoundError, match="no 'features' labels"):
        FFHQ(tmp_path).samples
    assert FFHQ(tmp_path, labels="none").samples[0].attributes.empty
    (tmp_path / "json").mkdir()
    (tmp_path / "ffhq_msface_attributes.csv").write_text("image_id,n_faces,gender,age\n")
    with pytest.raises(ValueError, match="several 'features' label files"):
        FFHQ(tmp_path).samples
    dataset = FFHQ(tmp_path, labels_path="ffhq_msface_attributes.csv")
    assert len(dataset) == 1 and "no label" in dataset.issues[0].reason


def test_hostile_features_csv_and_json(tmp_path):
    """inf/1e308/non-ASCII numbers, duplicate ids and bad JSON end as issues, never as an exception."""
    for i in range(8):
        _png(tmp_path / "img" / f"{i:05d}.png")
    (tmp_path / "ffhq_msface_attributes.csv").write_text(
        "image_id,n_faces,gender,age\n"
        "00000,1,female,26.0\n"
        "00001,inf,male,30\n"                  # int(float('inf')) raised OverflowError
        "00002,1,male,1e308\n"
        "00003,\u0661,male,30\n"               # Arabic-Indic one
        "4,1,male,30\n"                        # same image as the next row (zero-padded): neither used
        "00004,1,female,31\n"
        "00005,1,male,\n"                      # age missing
        "00006,1,male,30,surplus\n"
        "99999,1,male,30\n",                   # no such image: ignored
        encoding="utf-8")
    dataset = FFHQ(tmp_path, images="img", labels="features")
    by_id = {s.id: s.attributes for s in dataset.samples}
    assert (by_id["00000"].age, by_id["00000"].gender) == (26.0, 0)
    assert all(by_id[f"{i:05d}"].empty for i in range(1, 8))
    reasons = " | ".join(f"{Path(i.path).name}: {i.reason}" for i in dataset.issues)
    for expected in ("line 3: n_faces 'inf' is not a whole number", "line 4: age '1e308' is not a number",
                     "line 5: n_faces '\u0661' is not a whole number", "line 6: id '00004' is on 2 rows",
                     "line 7: id '00004' is on 2 rows", "00004.png: ", "several rows for this image",
                     "line 8: age is missing", "line 9: 5 fields, the header has 4",
                     "00006.png: no label", "00007.png: no label"):
        assert expected in reasons, expected


def test_hostile_json_records(tmp_path):
    for i in range(6):
        _png(tmp_path / "img" / f"{i:05d}.png")
    folder = tmp_path / "json"
    folder.mkdir()
    face = {"faceRectangle": {"width": 10, "height": 10}, "faceAttributes": {"gender": "male", "age": 30.0}}
    records = {0: [face], 1: [{**face, "faceAttributes": {"gender": "male", "age": 10 ** 400}}],
               2: [{**face, "faceRectangle": {"width": 10 ** 400, "height": 1}}],
               3: [{**face, "faceAttributes": {"gender": "\u0661", "age": 30}}]}
    for i, record in records.items():
        (folder / f"{i:05d}.json").write_text(json.dumps(record))
    (folder / "00004.json").write_text("[" * 100_000 + "]" * 100_000)  # RecursionError in json
    (folder / "00005.json").write_text(json.dumps([face]) + " " * (2 ** 20))  # over 1 MiB
    dataset = FFHQ(tmp_path, images="img", labels="features")
    by_id = {s.id: s.attributes for s in dataset.samples}
    assert by_id["00000"].age == 30.0 and all(by_id[f"{i:05d}"].empty for i in range(1, 6))
    reasons = {Path(i.path).stem: i.reason for i in dataset.issues}
    assert "outside 0-120" in reasons["00001"] and "face rectangle size" in reasons["00002"]
    assert "unrecognised gender" in reasons["00003"] and "unreadable JSON" in reasons["00004"]
    assert "larger than 1048576 bytes" in reasons["00005"]
    assert all(len(r) < 400 for r in reasons.values())


def test_hostile_aging_csv_and_image_entries(tmp_path):
    images = tmp_path / "aging"
    for name in ("00000/00000.png", "00000/00001.png", "00000/00002.png"):
        _png(images / name)
    (images / "00000" / "00003.png").mkdir()
    (images / "00000" / "00004.png").symlink_to(images / "nowhere.png")
    (images / "\u0660\u0660\u0660\u0660\u0665.png").write_bytes(b"x")  # five Arabic-Indic digits
    _write_aging_csv(tmp_path / "ffhq_aging_labels.csv", [
        [0, "20-29", 1, "female", 1, 0, 0, 0, 0, 0, "None"],
        ["inf", "20-29", 1, "female", 1, 0, 0, 0, 0, 0, "None"],   # int(float('inf')) raised OverflowError
        ["1e308", "20-29", 1, "female", 1, 0, 0, 0, 0, 0, "None"],
        [1, "20-29", 1, "female", 1, 0, 0, 0, 0, 0, "None"],
        [1.0, "30-39", 1, "male", 1, 0, 0, 0, 0, 0, "None"],        # image 1 twice: neither used
        [2, "x" * 1000, 1, "male", 1, 0, 0, 0, 0, 0, "None"],           # a long label: a short message
    ])
    dataset = FFHQ(tmp_path, images="aging", labels="aging")
    by_id = {s.id: s.attributes for s in dataset.samples}
    assert list(by_id) == ["00000", "00001", "00002"]
    assert by_id["00000"].age_bin == 5 and by_id["00001"].empty and by_id["00002"].empty
    reasons = {Path(i.path).name: i.reason for i in dataset.issues}
    assert "image_number 'inf' is not a whole number" in reasons["ffhq_aging_labels.csv line 3"]
    assert "image_number '1e308' is not a whole number" in reasons["ffhq_aging_labels.csv line 4"]
    assert "on 2 rows" in reasons["ffhq_aging_labels.csv line 5"]
    assert "unknown age group" in reasons["00002.png"] and len(reasons["00002.png"]) < 300
    assert reasons["00003.png"].startswith("is a directory") and reasons["00004.png"].startswith("broken")
    assert "not a five-digit FFHQ id" in reasons["\u0660\u0660\u0660\u0660\u0665.png"]
