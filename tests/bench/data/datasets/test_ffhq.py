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
