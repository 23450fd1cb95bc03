"""Dataset entries not used, by reason: printed by the run summary, kept with the run, listed by `bench errors`."""
import re
from datetime import date

import numpy as np
import torch
from PIL import Image

from bench.api import run
from bench.cli import main
from bench.core.registry import METRICS
from bench.core.types import PerImageMetric, as_float01
from bench.data.datasets import imdb
from bench.harness.dataset_counts import dataset_counts, format_counts, stored_counts
from bench.harness.store import ResultStore
from tests.bench.data.datasets.test_imdb import _row, write_mat

INF, NAN = float("inf"), float("nan")


class MeanLevel(PerImageMetric):
    """A cheap no-reference metric for captured-LQ runs: the mean 8-bit level of the restored image."""

    name = "meanlevel"
    needs_reference = False

    def __call__(self, restored, reference=None):
        return as_float01(restored, torch.float64).mul(255).mean(dim=(1, 2, 3))


def _imdb_fixture(root):
    """An imdb.mat in the published layout: 3 rows kept, 7 not used for 6 different reasons."""
    rows = [
        _row("01/nm1_rm1_1970-3-1_2000.jpg", date(1970, 3, 1), 2000),
        _row("01/nm2_rm1_1980-7-1_2010.jpg", date(1980, 7, 1), 2010, gender=0.0),  # official rule: 29
        _row("02/nm3_rm1_1960-1-1_2000.jpg", date(1960, 1, 1), 2000),
        _row("02/nm4_rm1_1960-1-1_2000.jpg", date(1960, 1, 1), 2000, score=-INF),      # no face
        _row("02/nm5_rm1_1960-1-1_2000.jpg", date(1960, 1, 1), 2000, score=0.5),       # low face score
        _row("03/nm6_rm1_1960-1-1_2000.jpg", date(1960, 1, 1), 2000, second=2.0),      # second face
        _row("03/nm7_rm1_2011-1-1_2010.jpg", date(2011, 1, 1), 2010),                  # before birth
        _row("03/nm8_rm1_2010-9-1_2010.jpg", date(2010, 9, 1), 2010),                  # before birth
        _row("04/nm9_rm1_1890-1-1_2000.jpg", date(1890, 1, 1), 2000),                  # 110 > max_age
        _row("04/nm10_rm1_x_2000.jpg", NAN, 2000),                                     # unreadable dob
    ]
    root.mkdir(parents=True)
    write_mat(root / "imdb.mat", rows)
    rng = np.random.default_rng(0)
    for row in rows:
        path = root / row["path"]
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (24, 24, 3), dtype=np.uint8)).save(path)


EXPECTED = {  # reason: (kind, count), read off the fixture rows above
    imdb.NO_FACE: ("filter", 1), imdb.LOW_FACE_SCORE: ("filter", 1), imdb.SECOND_FACE: ("filter", 1),
    imdb.AGE_ABOVE: ("filter", 1), imdb.BEFORE_BIRTH: ("bad data", 2), imdb.UNREADABLE: ("bad data", 1),
}


def test_imdb_filter_counts_printed_stored_and_listed(tmp_path, registered, capsys):
    registered(METRICS, "meanlevel", MeanLevel)
    _imdb_fixture(tmp_path / "imdb_crop")
    store = tmp_path / "r.sqlite"
    summary = run(method="bicubic", dataset="imdb", root=tmp_path / "imdb_crop", metrics="meanlevel", store=store,
                  progress=False)
    assert summary.protocol == "captured" and summary.n_ok == 3
    text = summary.format()
    print(text)
    assert "dataset entries not used or coarsened, by reason (3 bad data, 4 filter)" in text
    for reason, (kind, count) in EXPECTED.items():
        assert re.search(rf"^ +{count}  {re.escape(kind)} +{re.escape(reason)}$", text, re.M), reason
    # bad data first: the user sees first what is wrong in the metadata, then what the selection left out
    lines = [line for line in text.splitlines() if any(line.endswith(f"  {reason}") for reason in EXPECTED)]
    assert [line.split()[1] for line in lines] == ["bad"] * 2 + ["filter"] * 4
    with ResultStore(store, readonly=True) as db:
        (info,) = db.runs()
    stored = {r["reason"]: (r["kind"], r["count"]) for r in stored_counts(info)}
    assert stored == EXPECTED
    capsys.readouterr()
    assert main(["errors", "--store", str(store)]) == 0
    out = capsys.readouterr().out
    for reason, (kind, count) in EXPECTED.items():
        assert re.search(rf"^ +{count}  {re.escape(kind)} +{re.escape(reason)}$", out, re.M), reason
    assert "e.g." not in out and "--examples shows examples" in out
    assert main(["errors", "--store", str(store), "--examples"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"e\.g\. .*imdb\.mat imdb\[6\]$", out, re.M) and re.search(r"e\.g\. .*imdb\.mat imdb\[7\]$",
                                                                                 out, re.M)


def test_format_counts_and_plugin_datasets():
    records = [{"reason": "age before birth", "kind": "bad data", "count": 2, "examples": ["m imdb[1]", "m imdb[4]"]},
               {"reason": "age above max_age", "kind": "filter", "count": 1234, "examples": ["m imdb[0]"]}]
    lines = format_counts(records, examples=True)
    assert lines == ["  dataset entries not used or coarsened, by reason (2 bad data, 1,234 filter):",
                     "            2  bad data      age before birth",
                     "               e.g. m imdb[1]",
                     "               e.g. m imdb[4]",
                     "        1,234  filter        age above max_age",
                     "               e.g. m imdb[0]"]
    assert format_counts([]) == []

    class Plain:  # a plug-in dataset with a plain mapping
        filter_counts = {"too dark": 3, "unused": 0}

    assert dataset_counts(Plain()) == [{"reason": "too dark", "kind": "filter", "count": 3, "examples": []}]
    assert dataset_counts(object()) == []
    assert stored_counts({"config": {}}) == [] and stored_counts({"config": None}) == []
