from collections import Counter
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from scipy.io import savemat

from bench.data.datasets import imdb
from bench.data.datasets.imdb import IMDBWiki, datenum_to_date, datevec_year, official_age
from bench.core.types import age_to_bin

NAN, INF = float("nan"), float("inf")


def datenum(day: date) -> float:
    """MATLAB datenum (checked against MATLAB constants in test_datenum_conversion)."""
    return float(day.toordinal() + 366)


def reference_datevec_year(serial: float) -> int:
    """Year of MATLAB ``datevec(serial)`` for serial >= 1, counted the slow way: year 0 holds days 1..366
    (a leap year), then each year its 365 or 366 days (Gregorian rule). Independent of the loader."""
    remaining, year = int(np.floor(serial)), 0
    while True:
        length = 366 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 365
        if remaining <= length:
            return year
        remaining, year = remaining - length, year + 1


def official(born: date, taken: int) -> int:
    """``[age,~] = datevec(datenum(taken,7,1) - dob)`` with the reference above."""
    return reference_datevec_year(datenum(date(taken, 7, 1)) - datenum(born))


def _cell(values) -> np.ndarray:
    """A 1xN MATLAB cell array (numpy object array), as in the real imdb.mat."""
    cell = np.empty((1, len(values)), dtype=object)
    for i, value in enumerate(values):
        cell[0, i] = value
    return cell


def write_mat(path: Path, rows: list[dict], struct: str = "imdb", celeb_names=("Fred Astaire", "Lauren Bacall")):
    """Write rows in the real layout: a 1x1 struct of 1xN numeric arrays and 1xN cells."""
    fields = {
        "dob": np.array([[r["dob"] for r in rows]], dtype=float),
        "photo_taken": np.array([[r["taken"] for r in rows]], dtype=float),
        "full_path": _cell([r["path"] for r in rows]),
        "gender": np.array([[r.get("gender", 1.0) for r in rows]], dtype=float),
        "name": _cell([r.get("name", "") for r in rows]),
        "face_location": _cell([np.array([r.get("box", [10.0, 20.0, 110.0, 120.0])]) for r in rows]),
        "face_score": np.array([[r.get("score", 3.0) for r in rows]], dtype=float),
        "second_face_score": np.array([[r.get("second", NAN) for r in rows]], dtype=float),
    }
    if struct == "imdb":
        fields["celeb_names"] = _cell(list(celeb_names))
        fields["celeb_id"] = np.array([[r.get("celeb", 1) for r in rows]], dtype=float)
    savemat(str(path), {struct: fields})


def _row(path, born, taken, **kw):
    return {"path": path, "dob": datenum(born) if isinstance(born, date) else born, "taken": taken, **kw}


@pytest.fixture()
def imdb_root(tmp_path):
    rows = [
        _row("01/nm0000001_rm124825600_1899-5-10_1968.jpg", date(1899, 5, 10), 1968, name="Fred Astaire",
             box=[1072.9, 161.8, 1214.8, 303.7], score=1.46, celeb=1),  # age 69, kept
        _row("02/nm0000002_rm1346607872_1924-9-16_2004.jpg", date(1924, 9, 16), 2004, gender=0.0,
             name="Lauren Bacall", score=2.5, celeb=2),  # 1 Jul 2004 is before the birthday: 79
        _row("03/nm0000003_rm1_1950-1-1_2000.jpg", date(1950, 1, 1), 2000, score=-INF),  # no face
        _row("03/nm0000003_rm2_1950-1-1_2000.jpg", date(1950, 1, 1), 2000, score=0.9),  # low face score
        _row("03/nm0000003_rm3_1950-1-1_2000.jpg", date(1950, 1, 1), 2000, second=1.7),  # second face
        _row("03/nm0000003_rm4_1950-1-1_2000.jpg", date(1950, 1, 1), 2000, gender=NAN),  # unknown gender
        _row("04/nm0000004_rm1_2011-1-1_2010.jpg", date(2011, 1, 1), 2010),  # born after the photo
        _row("04/nm0000004_rm2_1890-1-1_2000.jpg", date(1890, 1, 1), 2000),  # 110 years old
        _row("05/nm0000005_rm1_1980-7-1_2010.jpg", date(1980, 7, 1), 2010, gender=0.0),  # official rule: 29
        _row("05/nm0000005_rm2_1980-7-2_2010.jpg", date(1980, 7, 2), 2010, gender=0.0),  # one day later: 29
        _row("05/nm0000005_rm3_1980-7-2_2010.jpg", datenum(date(1980, 7, 2)) + 0.75, 2010),  # fraction of a day
        _row("06/nm0000006_rm1_x_2000.jpg", NAN, 2000),  # unreadable date of birth
        _row("06/nm0000006_rm2_1960-1-1_2000.jpg", date(1960, 1, 1), 2000),  # file missing on disk
        _row("07/nm0000007_rm1_1980-6-29_2010.jpg", date(1980, 6, 29), 2010),  # official rule: 30
        _row("07/nm0000007_rm2_2010-7-1_2010.jpg", date(2010, 7, 1), 2010),  # D = 0: datevec year -1
    ]
    write_mat(tmp_path / "imdb.mat", rows)
    for row in rows:
        if "rm2_1960" not in row["path"]:
            (tmp_path / row["path"]).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / row["path"]).write_bytes(b"jpeg")
    return tmp_path


def test_datenum_conversion():
    # MATLAB: datenum(2000,1,1) = 730486, datenum(1970,1,1) = 719529, datenum(1,1,1) = 367
    assert datenum_to_date(730486) == date(2000, 1, 1)
    assert datenum_to_date(719529.99) == date(1970, 1, 1)
    assert datenum_to_date(367) == date(1, 1, 1)
    with pytest.raises(ValueError, match="before 1 January of year 1"):
        datenum_to_date(1)  # 1-Jan-0000



def test_official_age_rule():
    """``[age,~] = datevec(datenum(photo_taken,7,1) - dob)``, against MATLAB constants and a slow count."""
    # MATLAB: datevec(366) = [0 12 31 0 0 0], datevec(367) = [1 1 1 0 0 0], datevec(0) = [-1 12 31 0 0 0]
    assert (datevec_year(366), datevec_year(367), datevec_year(0), datevec_year(366.99)) == (0, 1, -1, 0)
    assert (datevec_year(1), datevec_year(-364), datevec_year(-365)) == (0, -1, -2)
    # the issue's case: born 1980-07-01, photographed in 2010: 10,957 days, datenum(30,1,1) = 10,959 -> 29
    assert datenum(date(2010, 7, 1)) - datenum(date(1980, 7, 1)) == 10957
    assert official_age(datenum(date(1980, 7, 1)), 2010) == 29
    assert official_age(datenum(date(1980, 6, 29)), 2010) == 30
    for born, taken in [((1899, 5, 10), 1968), ((1924, 9, 16), 2004), ((1980, 7, 2), 2010), ((2000, 2, 29), 2001),
                        ((1950, 12, 31), 2000), ((1903, 3, 1), 2004), ((1800, 7, 1), 1900)]:
        assert official_age(datenum(date(*born)), taken) == official(date(*born), taken), (born, taken)
    rng = np.random.default_rng(0)
    for ordinal in rng.integers(date(1850, 1, 1).toordinal(), date(2014, 1, 1).toordinal(), 300):
        born = date.fromordinal(int(ordinal))
        taken = born.year + int(rng.integers(1, 90))
        assert official_age(datenum(born), taken) == official(born, taken)
    with pytest.raises(ValueError, match="not a year in 1-9999"):
        official_age(datenum(date(1960, 1, 1)), 10**6)


def test_filters_labels_and_meta(imdb_root):
    dataset = IMDBWiki(imdb_root)
    by_file = {s.meta["file"]: s for s in dataset.samples}
    assert sorted(by_file) == ["01/nm0000001_rm124825600_1899-5-10_1968.jpg",
                               "02/nm0000002_rm1346607872_1924-9-16_2004.jpg",
                               "05/nm0000005_rm1_1980-7-1_2010.jpg", "05/nm0000005_rm2_1980-7-2_2010.jpg",
                               "05/nm0000005_rm3_1980-7-2_2010.jpg", "07/nm0000007_rm1_1980-6-29_2010.jpg"]
    assert dataset.filter_counts.as_dict() == {
        imdb.NO_FACE: 1, imdb.LOW_FACE_SCORE: 1, imdb.SECOND_FACE: 1, imdb.UNKNOWN_GENDER: 1,
        imdb.BEFORE_BIRTH: 2, imdb.AGE_ABOVE: 1, imdb.UNREADABLE: 1, imdb.MISSING_FILE: 1}
    kinds = {r["reason"]: r["kind"] for r in dataset.filter_counts.records()}
    assert kinds[imdb.BEFORE_BIRTH] == kinds[imdb.UNREADABLE] == kinds[imdb.MISSING_FILE] == "bad data"
    assert kinds[imdb.AGE_ABOVE] == kinds[imdb.NO_FACE] == kinds[imdb.UNKNOWN_GENDER] == "filter"
    examples = {r["reason"]: r["examples"] for r in dataset.filter_counts.records()}
    assert [e.rsplit(" ", 1)[1] for e in examples[imdb.BEFORE_BIRTH]] == ["imdb[6]", "imdb[14]"]
    fred = by_file["01/nm0000001_rm124825600_1899-5-10_1968.jpg"]
    assert fred.id == "nm0000001_rm124825600_1899-5-10_1968"
    assert fred.hq is None and fred.lq == imdb_root / "01" / "nm0000001_rm124825600_1899-5-10_1968.jpg"
    assert (fred.attributes.age, fred.attributes.gender, fred.attributes.age_bin) == (69, 1, 8)
    assert fred.attributes.extra["face_score"] == pytest.approx(1.46)
    assert fred.meta["face_location"] == pytest.approx([1072.9, 161.8, 1214.8, 303.7])
    assert (fred.meta["name"], fred.meta["celeb_name"], fred.meta["celeb_id"]) == ("Fred Astaire", "Fred Astaire", 1)
    assert fred.meta["dob"] == "1899-05-10" and fred.meta["photo_taken"] == 1968
    lauren = by_file["02/nm0000002_rm1346607872_1924-9-16_2004.jpg"].attributes
    assert (lauren.age, lauren.gender) == (79, 0)
    assert [by_file[f"05/nm0000005_rm{k}_2010.jpg"].attributes.age
            for k in ("1_1980-7-1", "2_1980-7-2", "3_1980-7-2")] == [29, 29, 29]
    assert by_file["05/nm0000005_rm1_1980-7-1_2010.jpg"].attributes.age_bin == 5  # 20-29, not 30-39
    assert by_file["07/nm0000007_rm1_1980-6-29_2010.jpg"].attributes.age == 30
    reasons = [i.reason for i in dataset.issues]
    assert len(reasons) == 2
    assert "unreadable metadata row: date number nan is not finite" in reasons[0]
    assert dataset.issues[0].path.endswith("imdb.mat imdb[11]")
    assert "missing on disk" in reasons[1]
    assert not dataset.has_hq


def test_options_change_the_selection(imdb_root):
    relaxed = IMDBWiki(imdb_root, min_face_score=0.5, require_single_face=False, max_age=120)
    assert len(relaxed) == 6 + 3  # + low face score, second face, 110-year-old
    with pytest.raises(NotImplementedError, match="landmark detector"):
        IMDBWiki(imdb_root, max_interocular_px=16)


def test_wiki_struct_and_bad_files(tmp_path):
    write_mat(tmp_path / "wiki.mat", [_row("17/10000217_1981-05-05_2009.jpg", date(1981, 5, 5), 2009)],
              struct="wiki")
    dataset = IMDBWiki(tmp_path, check_files=False)
    assert [(s.id, s.attributes.age, s.meta["source"]) for s in dataset] == [("10000217_1981-05-05_2009", 28, "wiki")]
    savemat(str(tmp_path / "other.mat"), {"celeba": np.zeros((1, 1))})
    with pytest.raises(ValueError, match="other.mat: no struct named 'imdb' or 'wiki'"):
        IMDBWiki(tmp_path, metadata="other.mat").samples
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no imdb.mat or wiki.mat"):
        IMDBWiki(tmp_path / "empty").samples


def test_stratified_max_images(tmp_path):
    rng = np.random.default_rng(1)
    rows = []
    for i in range(600):  # many young men, few old women: an imbalanced population
        male = rng.random() < 0.75
        age = int(rng.integers(18, 40)) if rng.random() < 0.8 else int(rng.integers(40, 90))
        rows.append(_row(f"{i % 100:02d}/nm{i:07d}_rm1_x_2000.jpg", date(2000 - age - 1, 3, 1), 2000,
                         gender=float(male)))
    write_mat(tmp_path / "imdb.mat", rows)
    population = IMDBWiki(tmp_path, check_files=False).samples
    strata = Counter((s.attributes.age_bin, s.attributes.gender) for s in population)
    balanced = IMDBWiki(tmp_path, check_files=False, max_images=120, seed=3).samples
    counts = Counter((s.attributes.age_bin, s.attributes.gender) for s in balanced)
    assert len(balanced) == 120 and set(counts) == set(strata)
    level = max(counts.values())
    assert all(counts[k] == strata[k] or counts[k] >= level - 1 for k in strata)  # water filling
    assert [s.id for s in IMDBWiki(tmp_path, check_files=False, max_images=120, seed=3)] == [s.id for s in balanced]
    assert {s.id for s in IMDBWiki(tmp_path, check_files=False, max_images=120, seed=4)} != {s.id for s in balanced}
    proportional = IMDBWiki(tmp_path, check_files=False, max_images=120, sampling="proportional").samples
    counts = Counter((s.attributes.age_bin, s.attributes.gender) for s in proportional)
    assert len(proportional) == 120
    assert all(abs(counts[k] - 120 * strata[k] / len(population)) < 1 for k in strata)
    assert age_to_bin(population[0].attributes.age) == population[0].attributes.age_bin


def test_hostile_metadata_rows_are_issues(tmp_path):
    """Faults: a date number of 1e308 made date.fromordinal raise OverflowError and a celeb_id of inf
    made int() raise OverflowError, both out of index(); a duplicate id kept its first row."""
    rows = [
        _row("01/nm1_rm1_x_2000.jpg", date(1960, 1, 1), 2000),                       # kept
        _row("01/nm2_rm1_x_2000.jpg", 1e308, 2000),                                  # date far past 9999
        _row("01/nm3_rm1_x_2000.jpg", date(1960, 1, 1), 2000, celeb=INF),
        _row("01/nm4_rm1_x_2000.jpg", date(1960, 1, 1), 1e308),                      # a year of 1e308
        _row("01/nm5_rm1_x_2000.jpg", date(1960, 1, 1), 2000, name="A"),              # nm5 twice, in two
        _row("02/nm5_rm1_x_2000.jpg", date(1961, 1, 1), 2000, name="B"),              # folders: neither used
    ]
    write_mat(tmp_path / "imdb.mat", rows)
    dataset = IMDBWiki(tmp_path, check_files=False)
    assert [s.id for s in dataset.samples] == ["nm1_rm1_x_2000"]
    reasons = {i.path.rsplit(" ", 1)[1]: i.reason for i in dataset.issues}
    assert "after 31 December 9999" in reasons["imdb[1]"]
    assert reasons["imdb[2]"].startswith("unreadable metadata row")
    assert reasons["imdb[4]"] == reasons["imdb[5]"] == "id 'nm5_rm1_x_2000' is given by 2 rows (4, 5); none is used"
    assert "not a year in 1-9999" in reasons["imdb[3]"]  # the 1e308 photo year: bad data, not a filter
    assert dataset.filter_counts[imdb.UNREADABLE] == 3 and dataset.filter_counts[imdb.SAME_ID] == 2


@pytest.mark.parametrize("full_path", ["/etc/passwd.jpg", "../outside/nm9_rm1_x_2000.jpg",
                                       "01/../../nm9_rm1_x_2000.jpg", "C:\\nm9_rm1_x_2000.jpg"])
def test_a_full_path_leaving_the_image_folder_is_an_issue(tmp_path, full_path):
    """The metadata never makes the suite read a file outside the dataset (absolute paths, '..')."""
    write_mat(tmp_path / "imdb.mat", [_row("01/nm1_rm1_x_2000.jpg", date(1960, 1, 1), 2000),
                                      _row(full_path, date(1960, 1, 1), 2000)])
    dataset = IMDBWiki(tmp_path, check_files=False)
    assert [s.id for s in dataset.samples] == ["nm1_rm1_x_2000"]
    assert any("leaves the image folder" in i.reason for i in dataset.issues), dataset.issues
