from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy.ndimage import gaussian_filter, laplace

from bench.data.datasets import cox
from bench.data.datasets.cox import COX, laplacian_variance, still_subject

# The distributed COX Face DB package (Huang et al., IEEE TIP 2015): stills still/<subject>_<n>.bmp, e.g.
# still/201103180001_0000.bmp; frames video/cam{1,2,3}/<subject>/<subject>_000k.bmp.
SUBJECTS = ("201103180001", "201103180002", "201103180003")


def _still(root: Path, subject: str, n: int = 0, ext: str = "bmp") -> Path:
    path = root / "still" / f"{subject}_{n:04d}.{ext}"
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((16, 16, 3), 90, np.uint8)).save(path)
    return path


def _name(subject: str, k: int) -> str:
    return f"{subject}_{k:04d}.bmp"


def _texture(seed: int, size: int = 48) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 255, (size, size, 3))


def _frame(path: Path, texture: np.ndarray, blur: float) -> float:
    """Write a frame blurred by ``blur`` (sigma, pixels); return its sharpness as decoded."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image = gaussian_filter(texture, (blur, blur, 0)) if blur else texture
    image = np.clip(np.round(image), 0, 255).astype(np.uint8)
    Image.fromarray(image).save(path)
    return laplacian_variance(np.asarray(Image.open(path).convert("RGB")))


@pytest.fixture()
def cox_root(tmp_path):
    for subject in SUBJECTS[:2]:
        _still(tmp_path, subject)
    texture = _texture(0)
    video = tmp_path / "video"
    s1 = SUBJECTS[0]
    sharp = {}
    # cam1/subject 1: the sharpest frame is in the middle of the sequence
    for k, blur in ((1, 2.0), (2, 0.0), (3, 1.0)):
        sharp[("cam1", s1, _name(s1, k))] = _frame(video / "cam1" / s1 / _name(s1, k), texture, blur)
    # cam2/subject 1: one corrupt frame, the sharpest decodable one is the last
    (video / "cam2" / s1).mkdir(parents=True)
    (video / "cam2" / s1 / _name(s1, 1)).write_bytes(b"BM truncated")
    for k, blur in ((2, 1.5), (3, 0.7)):
        sharp[("cam2", s1, _name(s1, k))] = _frame(video / "cam2" / s1 / _name(s1, k), texture, blur)
    # cam2/subject 2: nothing decodable -> no sample
    (video / "cam2" / SUBJECTS[1]).mkdir(parents=True)
    (video / "cam2" / SUBJECTS[1] / _name(SUBJECTS[1], 1)).write_bytes(b"")
    # cam3/subject 3: frames but no still
    s3 = SUBJECTS[2]
    sharp[("cam3", s3, _name(s3, 1))] = _frame(video / "cam3" / s3 / _name(s3, 1), texture, 3.0)
    (tmp_path / "metadata.csv").write_text("subject_id,age,gender\n201103180001,34,male\n"
                                           "201103180003,,F\n201103180002,old,female\n")
    return tmp_path, sharp


def test_real_layout_pairs_every_sample_with_its_still(tmp_path):
    """3 subjects x 3 cameras in the distributed naming: 9 samples, each with its subject's still."""
    texture = _texture(1, 32)
    stills = {subject: _still(tmp_path, subject) for subject in SUBJECTS}
    for cam in (1, 2, 3):
        for subject in SUBJECTS:
            for k in (1, 2):
                _frame(tmp_path / "video" / f"cam{cam}" / subject / _name(subject, k), texture, float(k))
    dataset = COX(tmp_path)
    samples = dataset.samples
    assert [s.id for s in samples] == [f"{subject}_cam{cam}" for subject in SUBJECTS for cam in (1, 2, 3)]
    assert all(s.meta["still"] == str(stills[s.meta["subject"]]) for s in samples)
    assert all(s.lq.name == _name(s.meta["subject"], 1) and s.meta["n_frames"] == 2 for s in samples)
    assert dataset.issues == [] and len(dataset.filter_counts) == 0


def test_still_names():
    assert still_subject("201103180001_0000") == "201103180001"
    assert still_subject("201103180001_0012") == "201103180001"
    assert still_subject("201103180001") == "201103180001"  # frbench's earlier layout still/<subject>.jpg


def test_earlier_layout_and_extra_stills_are_counted(tmp_path):
    texture = _texture(2, 32)
    (tmp_path / "still").mkdir()
    Image.fromarray(np.full((8, 8, 3), 9, np.uint8)).save(tmp_path / "still" / "s1.jpg")  # earlier layout
    _still(tmp_path, "s2", 0)
    _still(tmp_path, "s2", 1)  # a second still of s2: the first by name is the reference
    for subject in ("s1", "s2"):
        _frame(tmp_path / "video" / "cam1" / subject / f"{subject}_0001.bmp", texture, 0.0)
    dataset = COX(tmp_path)
    stills = {s.meta["subject"]: Path(s.meta["still"]).name for s in dataset.samples}
    assert stills == {"s1": "s1.jpg", "s2": "s2_0000.bmp"}
    assert dataset.filter_counts.as_dict() == {cox.EXTRA_STILL: 1}


def test_laplacian_variance_matches_scipy():
    image = _texture(5, 32).astype(np.uint8)
    luma = image.astype(float) @ np.array([0.299, 0.587, 0.114])
    assert laplacian_variance(image) == pytest.approx(laplace(luma)[1:-1, 1:-1].var(), rel=1e-12)
    assert laplacian_variance(np.full((8, 8, 3), 7, np.uint8)) == 0.0


def test_sharpest_frame_per_subject_and_camera(cox_root):
    root, sharp = cox_root
    dataset = COX(root)
    by_id = {s.id: s for s in dataset.samples}
    assert list(by_id) == ["201103180001_cam1", "201103180001_cam2", "201103180003_cam3"]
    s1 = SUBJECTS[0]
    first = by_id["201103180001_cam1"]
    assert first.lq == root / "video" / "cam1" / s1 / _name(s1, 2) and first.hq is None
    assert first.meta["sharpness"] == pytest.approx(sharp[("cam1", s1, _name(s1, 2))])
    assert first.meta["sharpness"] > 2 * sharp[("cam1", s1, _name(s1, 3))]
    assert first.meta["still"] == str(root / "still" / "201103180001_0000.bmp")
    assert (first.meta["camera"], first.meta["n_frames"]) == (1, 3)
    assert (first.attributes.age, first.attributes.gender) == (34, 1)
    assert by_id["201103180001_cam2"].lq.name == _name(s1, 3)
    third = by_id["201103180003_cam3"]
    assert third.meta["still"] is None and third.attributes.gender == 0 and third.attributes.age is None
    reasons = {(Path(i.path).parent.name, Path(i.path).name): i.reason for i in dataset.issues}
    assert reasons[("201103180001", _name(s1, 1))].startswith("frame skipped")
    assert reasons[("201103180002", _name(SUBJECTS[1], 1))].startswith("frame skipped: file is empty")
    assert reasons[("cam2", "201103180002")] == "no decodable frame; no sample"
    assert reasons[("cam3", "201103180003")] == "no still for subject 201103180003"
    assert "is not a number" in reasons[(root.name, "metadata.csv line 4")]
    assert len(dataset.issues) == 5
    assert dataset.filter_counts.as_dict() == {cox.BAD_FRAME: 2, cox.NO_FRAME: 1, cox.BAD_METADATA: 1}
    assert not dataset.has_hq


def test_camera_selection_and_errors(cox_root, tmp_path_factory):
    root, _ = cox_root
    selected = COX(root, cameras=(2,))
    assert [s.id for s in selected] == ["201103180001_cam2"]
    assert selected.filter_counts[cox.OTHER_CAMERA] == 2  # cam1 and cam3 folders, a filter
    empty = tmp_path_factory.mktemp("cox_empty")
    with pytest.raises(FileNotFoundError, match="no video/ folder"):
        COX(empty).samples
    with pytest.raises(FileNotFoundError, match="metadata file"):
        COX(root, metadata="demographics.csv").samples


def test_hostile_metadata_and_entries(cox_root):
    root, _ = cox_root
    (root / "metadata.csv").write_bytes(
        b"subject_id,age,gender\n201103180001,1e308,male\n201103180003,30,F\n201103180003,31,F\n"
        b"201103180002,\xd9\xa3,male,extra\n")
    (root / "video" / "cam1" / "stray.jpg").write_bytes(b"x")
    (root / "video" / "cam1" / "201103180001" / "201103180001_0009.bmp").symlink_to(root / "gone.bmp")
    (root / "still" / "201103180009_0000.bmp").mkdir()
    dataset = COX(root)
    by_id = {s.id: s for s in dataset.samples}
    assert all(s.attributes.empty for s in by_id.values())
    reasons = {Path(i.path).name: i.reason for i in dataset.issues}
    assert "age '1e308' is not a number" in reasons["metadata.csv line 2"]
    assert "subject_id '201103180003' is on 2 rows" in reasons["metadata.csv line 3"]
    assert "on 2 rows" in reasons["metadata.csv line 4"]
    assert reasons["metadata.csv line 5"] == "4 fields, the header has 3; row not used"
    assert reasons["stray.jpg"].startswith("image outside a subject folder")
    assert reasons["201103180001_0009.bmp"].startswith("broken symbolic link")
    assert reasons["201103180009_0000.bmp"].startswith("is a directory")
    assert COX(root, max_age=116).describe()["options"]["max_age"] == 116
