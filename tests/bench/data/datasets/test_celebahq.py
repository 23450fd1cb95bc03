from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bench.data.datasets.celebahq import CelebAHQ

# The 40 CelebA attribute names, in the order of list_attr_celeba.txt.
NAMES = ("5_o_Clock_Shadow Arched_Eyebrows Attractive Bags_Under_Eyes Bald Bangs Big_Lips Big_Nose Black_Hair "
         "Blond_Hair Blurry Brown_Hair Bushy_Eyebrows Chubby Double_Chin Eyeglasses Goatee Gray_Hair Heavy_Makeup "
         "High_Cheekbones Male Mouth_Slightly_Open Mustache Narrow_Eyes No_Beard Oval_Face Pale_Skin Pointy_Nose "
         "Receding_Hairline Rosy_Cheeks Sideburns Smiling Straight_Hair Wavy_Hair Wearing_Earrings Wearing_Hat "
         "Wearing_Lipstick Wearing_Necklace Wearing_Necktie Young").split()
MALE, YOUNG, SMILING = NAMES.index("Male"), NAMES.index("Young"), NAMES.index("Smiling")


def _values(male: bool, young: bool, smiling: bool = False) -> list[int]:
    values = [-1] * len(NAMES)
    values[MALE], values[YOUNG], values[SMILING] = (1 if male else -1), (1 if young else -1), (1 if smiling else -1)
    return values


def _write_attributes(path: Path, rows: list[tuple[str, list[int]]], count: int | None = None) -> None:
    """CelebA format: count, names, then ``key`` and the values right-aligned in width 2."""
    lines = [str(len(rows) if count is None else count), " ".join(NAMES) + " "]
    lines += [f"{key} " + " ".join(f"{v:2d}" for v in values) for key, values in rows]
    path.write_text("\n".join(lines) + "\n")


def _write_mapping(path: Path, pairs: list[tuple[int, int]]) -> None:
    lines = ["idx         orig_idx    orig_file   "]
    lines += [f"{idx:<12d}{orig:<12d}{orig + 1:06d}.jpg" for idx, orig in pairs]
    path.write_text("\n".join(lines) + "\n")


def _image(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((4, 4, 3), 200, np.uint8)).save(path)


def test_celeba_attributes_through_the_mapping(tmp_path):
    for idx in (0, 1, 2, 10):
        _image(tmp_path / "CelebA-HQ-img" / f"{idx}.jpg")
    _image(tmp_path / "CelebA-HQ-img" / "thumbs.jpg")
    _write_mapping(tmp_path / "CelebA-HQ-to-CelebA-mapping.txt", [(0, 119613), (1, 99094), (2, 200121), (10, 5)])
    _write_attributes(tmp_path / "list_attr_celeba.txt", [
        ("000006.jpg", _values(male=True, young=False)),
        ("099095.jpg", _values(male=False, young=True, smiling=True)),
        ("119614.jpg", _values(male=True, young=True)),
        ("150000.jpg", [1, -1, 1]),  # truncated row
    ], count=4)
    dataset = CelebAHQ(tmp_path, extra_attributes=("Young", "Smiling"))
    by_id = {s.id: s for s in dataset.samples}
    assert list(by_id) == ["00000", "00001", "00002", "00010"]
    assert by_id["00000"].attributes.gender == 1 and by_id["00000"].attributes.extra == {"Young": 1, "Smiling": 0}
    assert by_id["00001"].attributes.gender == 0 and by_id["00001"].attributes.extra == {"Young": 1, "Smiling": 1}
    assert by_id["00010"].attributes.gender == 1 and by_id["00010"].attributes.extra["Young"] == 0
    assert all(s.attributes.age is None and s.attributes.age_bin is None for s in by_id.values())  # no ages
    assert by_id["00002"].attributes.empty  # CelebA 200122.jpg has no row
    assert by_id["00010"].hq == tmp_path / "CelebA-HQ-img" / "10.jpg"
    reasons = " | ".join(f"{Path(i.path).name}: {i.reason}" for i in dataset.issues)
    assert "line 6: 3 values for 40 attributes" in reasons
    assert "line 1 declares 4 rows, 3 valid rows read" in reasons
    assert "2.jpg: CelebA file 200122.jpg has no row" in reasons
    assert "thumbs.jpg: file name is not a CelebA-HQ index" in reasons
    assert len(dataset.issues) == 4
    from bench.data.datasets import celebahq
    assert dataset.filter_counts.as_dict() == {celebahq.BAD_NAME: 1, "unreadable label row (wrong field count, bad "
                                               "bytes, over-long field)": 1}


def test_celebamask_hq_annotation_without_mapping(tmp_path):
    for name in ("00000.png", "00007.png", "29999.png"):  # a flat folder of zero-padded PNGs
        _image(tmp_path / "faces" / name)
    _write_attributes(tmp_path / "CelebAMask-HQ-attribute-anno.txt", [
        ("0.jpg", _values(male=False, young=True)),
        ("7.jpg", _values(male=True, young=True)),
        ("29999.jpg", _values(male=True, young=False)),
        ("12.jpg", [0] * len(NAMES)),  # values must be -1 or 1
    ])
    dataset = CelebAHQ(tmp_path, images="faces")
    assert [(s.id, s.attributes.gender, s.attributes.extra["Young"]) for s in dataset] == [
        ("00000", 0, 1), ("00007", 1, 1), ("29999", 1, 0)]
    assert any("must be -1 or 1" in i.reason for i in dataset.issues)
    assert dataset.describe()["options"]["images"] == "faces"


def test_clear_errors(tmp_path):
    _image(tmp_path / "CelebA-HQ-img" / "0.jpg")
    with pytest.raises(FileNotFoundError, match="no attribute file"):
        CelebAHQ(tmp_path).samples
    _write_attributes(tmp_path / "list_attr_celeba.txt", [("000001.jpg", _values(True, True))])
    with pytest.raises(FileNotFoundError, match="needs the mapping file"):
        CelebAHQ(tmp_path).samples
    with pytest.raises(ValueError, match="no attribute.*Wrinkles"):
        CelebAHQ(tmp_path, extra_attributes=("Wrinkles",)).samples
    with pytest.raises(FileNotFoundError, match="does not exist"):
        CelebAHQ(tmp_path / "nowhere").samples


def test_command_line_values_are_normalised(tmp_path):
    # `bench run -D extra_attributes=Smiling` passes a YAML-typed scalar, not a tuple
    dataset = CelebAHQ(tmp_path, extra_attributes="Smiling", images=Path("faces"))
    assert dataset.extra_attributes == ("Smiling",)
    assert dataset.describe()["options"]["images"] == "faces"


def test_hostile_names_values_and_duplicates(tmp_path):
    """Faults: a file '\u00b2.jpg' passed str.isdigit() and int() raised out of index(); Arabic-Indic
    values were read as 1; a duplicate key kept its first row; a bad byte failed the whole file."""
    for name in ("0.jpg", "1.jpg", "2.jpg", "3.jpg", "\u00b2.jpg", "\u0663.jpg", "30000.jpg", "9" * 200 + ".jpg"):
        _image(tmp_path / "CelebA-HQ-img" / name)
    (tmp_path / "CelebA-HQ-img" / "4.jpg").mkdir()
    path = tmp_path / "CelebAMask-HQ-attribute-anno.txt"
    _write_attributes(path, [("0.jpg", _values(male=True, young=True)),
                             ("1.jpg", _values(male=True, young=True)),
                             ("01.jpg", _values(male=False, young=True)),  # index 1 again: neither used
                             ("2.jpg", _values(male=True, young=True)),    # line 6, made Arabic-Indic below
                             ("3.jpg", _values(male=True, young=False)),
                             ("3.jpg", _values(male=False, young=False))], count=6)
    lines = path.read_text().splitlines()
    lines[5] = "2.jpg " + " ".join(["\u0661"] * len(NAMES))  # int() reads Arabic-Indic one as 1
    path.write_bytes("\n".join(lines).encode("utf-8") + b"\n5.jpg \xff\n")
    dataset = CelebAHQ(tmp_path)
    by_id = {s.id: s.attributes for s in dataset.samples}
    assert list(by_id) == ["00000", "00001", "00002", "00003"]
    assert by_id["00000"].gender == 1 and all(by_id[k].empty for k in ("00001", "00002", "00003"))
    reasons = " | ".join(f"{Path(i.path).name}: {i.reason}" for i in dataset.issues)
    for expected in ("\u00b2.jpg: file name is not a CelebA-HQ index", "\u0663.jpg: file name is not",
                     "30000.jpg: file name is not", "4.jpg: is a directory",
                     "line 6: attribute values must be -1 or 1", "line 7: row key '3.jpg' is on 2 rows",
                     "line 8: row key '3.jpg' is on 2 rows", "line 9: byte 0xff is not UTF-8",
                     "index 1 has several rows"):
        assert expected in reasons, expected


def test_hostile_mapping_file(tmp_path):
    for idx in (0, 1):
        _image(tmp_path / "CelebA-HQ-img" / f"{idx}.jpg")
    _write_attributes(tmp_path / "list_attr_celeba.txt", [("000001.jpg", _values(True, True)),
                                                          ("000002.jpg", _values(False, True))])
    (tmp_path / "CelebA-HQ-to-CelebA-mapping.txt").write_text(
        "idx orig_idx orig_file\n0 0 000001.jpg\n1 1 000002.jpg\n1 1 000001.jpg\n\u00b2 2 000003.jpg\n",
        encoding="utf-8")
    dataset = CelebAHQ(tmp_path)
    by_id = {s.id: s.attributes for s in dataset.samples}
    assert by_id["00000"].gender == 1 and by_id["00001"].empty  # idx 1 mapped twice: neither used
    reasons = " | ".join(f"{Path(i.path).name}: {i.reason}" for i in dataset.issues)
    assert "line 3: idx '1' is on 2 rows" in reasons and "line 5: expected 'idx orig_idx orig_file'" in reasons
