from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy.ndimage import gaussian_filter, laplace

from bench.data.datasets.cox import COX, laplacian_variance


def _texture(seed: int, size: int = 48) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 255, (size, size, 3))


def _frame(path: Path, texture: np.ndarray, blur: float) -> float:
    """Write a frame blurred by ``blur`` (sigma, pixels); return its sharpness as decoded."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image = gaussian_filter(texture, (blur, blur, 0)) if blur else texture
    image = np.clip(np.round(image), 0, 255).astype(np.uint8)
    Image.fromarray(image).save(path, quality=95)
    return laplacian_variance(np.asarray(Image.open(path).convert("RGB")))


@pytest.fixture()
def cox_root(tmp_path):
    (tmp_path / "still").mkdir()
    for subject in ("201103180001", "201103180002"):
        Image.fromarray(np.full((16, 16, 3), 90, np.uint8)).save(tmp_path / "still" / f"{subject}.jpg")
    texture = _texture(0)
    video = tmp_path / "video"
    sharp = {}
    # cam1/subject 1: the sharpest frame is in the middle of the sequence
    for name, blur in (("0001.jpg", 2.0), ("0002.jpg", 0.0), ("0003.jpg", 1.0)):
        sharp[("cam1", "201103180001", name)] = _frame(video / "cam1" / "201103180001" / name, texture, blur)
    # cam2/subject 1: one corrupt frame, the sharpest decodable one is the last
    (video / "cam2" / "201103180001").mkdir(parents=True)
    (video / "cam2" / "201103180001" / "0001.jpg").write_bytes(b"\xff\xd8 truncated")
    for name, blur in (("0002.jpg", 1.5), ("0003.jpg", 0.7)):
        sharp[("cam2", "201103180001", name)] = _frame(video / "cam2" / "201103180001" / name, texture, blur)
    # cam2/subject 2: nothing decodable -> no sample
    (video / "cam2" / "201103180002").mkdir(parents=True)
    (video / "cam2" / "201103180002" / "0001.jpg").write_bytes(b"")
    # cam3/subject 3: frames but no still
    sharp[("cam3", "201103180003", "0001.jpg")] = _frame(video / "cam3" / "201103180003" / "0001.jpg", texture, 3.0)
    (tmp_path / "metadata.csv").write_text("subject_id,age,gender\n201103180001,34,male\n"
                                           "201103180003,,F\n201103180002,old,female\n")
    return tmp_path, sharp


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
    first = by_id["201103180001_cam1"]
    assert first.lq == root / "video" / "cam1" / "201103180001" / "0002.jpg" and first.hq is None
    assert first.meta["sharpness"] == pytest.approx(sharp[("cam1", "201103180001", "0002.jpg")])
    assert first.meta["sharpness"] > 2 * sharp[("cam1", "201103180001", "0003.jpg")]
    assert first.meta["still"] == str(root / "still" / "201103180001.jpg")
    assert (first.meta["camera"], first.meta["n_frames"]) == (1, 3)
    assert (first.attributes.age, first.attributes.gender) == (34, 1)
    assert by_id["201103180001_cam2"].lq.name == "0003.jpg"
    third = by_id["201103180003_cam3"]
    assert third.meta["still"] is None and third.attributes.gender == 0 and third.attributes.age is None
    reasons = {(Path(i.path).parent.name, Path(i.path).name): i.reason for i in dataset.issues}
    assert reasons[("201103180001", "0001.jpg")].startswith("frame skipped")
    assert reasons[("201103180002", "0001.jpg")].startswith("frame skipped: file is empty")
    assert reasons[("cam2", "201103180002")] == "no decodable frame; no sample"
    assert reasons[("cam3", "201103180003")] == "no still for subject 201103180003"
    assert "is not a number" in reasons[(root.name, "metadata.csv line 4")]
    assert len(dataset.issues) == 5
    assert not dataset.has_hq


def test_camera_selection_and_errors(cox_root, tmp_path_factory):
    root, _ = cox_root
    assert [s.id for s in COX(root, cameras=(2,))] == ["201103180001_cam2"]
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
    (root / "video" / "cam1" / "201103180001" / "0009.jpg").symlink_to(root / "gone.jpg")
    (root / "still" / "201103180009.jpg").mkdir()
    dataset = COX(root)
    by_id = {s.id: s for s in dataset.samples}
    assert all(s.attributes.empty for s in by_id.values())
    reasons = {Path(i.path).name: i.reason for i in dataset.issues}
    assert "age '1e308' is not a number" in reasons["metadata.csv line 2"]
    assert "subject_id '201103180003' is on 2 rows" in reasons["metadata.csv line 3"]
    assert "on 2 rows" in reasons["metadata.csv line 4"]
    assert reasons["metadata.csv line 5"] == "4 fields, the header has 3; row not used"
    assert reasons["stray.jpg"].startswith("image outside a subject folder")
    assert reasons["0009.jpg"].startswith("broken symbolic link")
    assert reasons["201103180009.jpg"].startswith("is a directory")
    assert COX(root, max_age=116).describe()["options"]["max_age"] == 116
