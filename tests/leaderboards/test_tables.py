import pandas as pd

from bench.harness.store import ResultStore, SampleRecord, SetRows
from leaderboards.tables import build_tables, to_markdown, write_leaderboard


def _fill(path):
    store = ResultStore(path)
    store.register_metrics([{"name": "psnr", "higher_is_better": True, "unit": "dB"},
                            {"name": "niqe", "higher_is_better": False}])
    dataset = {"name": "utkface", "root": "/data/utk", "options": {}, "synthetic": False}
    values = {"bicubic": [(30.0, 5.0), (32.0, 7.0)], "bilinear": [(28.0, 4.0), (29.0, 4.5)]}
    for method, pairs in values.items():
        run_id = store.open_run({"method": method, "dataset": dataset, "protocol": "x8", "seed": 0}, method=method,
                                dataset="utkface", protocol="x8", seed=0, synthetic=False, config={}, n_planned=3)
        records = [SampleRecord(f"img{i}", scores={"psnr": p, "niqe": n}) for i, (p, n) in enumerate(pairs)]
        records.append(SampleRecord("bad", status="error", stage="decode", error="bad.png: file is empty"))
        store.write_batch(run_id, records)
        store.finish_run(run_id)
    synthetic = {"name": "synthetic", "root": None, "options": {"n": 4}, "synthetic": True}
    run_id = store.open_run({"method": "bicubic", "dataset": synthetic, "protocol": "x8", "seed": 0},
                            method="bicubic", dataset="synthetic", protocol="x8", seed=0, synthetic=True,
                            config={}, n_planned=1)
    store.write_batch(run_id, [SampleRecord("s0", scores={"psnr": 20.0})])
    store.finish_run(run_id)
    store.close()


def test_tables_group_by_setting_with_means(tmp_path):
    _fill(tmp_path / "r.sqlite")
    tables = build_tables(tmp_path / "r.sqlite")
    assert len(tables) == 2
    utk = tables[0]
    frame = utk["frame"].set_index("method")
    assert frame.loc["bicubic", "psnr"] == 31.0 and frame.loc["bilinear", "niqe"] == 4.25
    assert frame.loc["bicubic", "images"] == 2 and frame.loc["bicubic", "failed"] == 1
    assert "utkface" in utk["caption"] and "protocol: x8" in utk["caption"]
    assert "computed on the 2 faces that all 2 run(s) restored (of 3 in any run)" in utk["caption"]
    assert "Failed images (all runs): 2" in utk["caption"]
    assert "SYNTHETIC" in tables[1]["caption"]


def test_markdown_arrows_and_bold_best(tmp_path):
    _fill(tmp_path / "r.sqlite")
    md = to_markdown(build_tables(tmp_path / "r.sqlite"))
    assert "psnr ↑" in md and "niqe ↓" in md
    bicubic_row = next(line for line in md.splitlines() if line.startswith("| bicubic | 2"))
    bilinear_row = next(line for line in md.splitlines() if line.startswith("| bilinear"))
    assert "**31.00**" in bicubic_row and "**4.250**" not in bicubic_row  # best PSNR is bicubic
    assert "**4.250**" in bilinear_row  # best (lowest) NIQE is bilinear
    # a single-method table has nothing to bold
    synthetic_row = [line for line in md.splitlines() if line.startswith("| bicubic | 1")][0]
    assert "**" not in synthetic_row


def test_write_csv_and_markdown(tmp_path):
    _fill(tmp_path / "r.sqlite")
    paths = write_leaderboard(tmp_path / "r.sqlite", tmp_path / "lb")
    frame = pd.read_csv(paths["csv"])
    assert len(frame) == 3 and {"method", "dataset", "protocol", "psnr", "images", "failed", "run_id", "status",
                                "compared_on"} <= set(frame.columns)
    assert paths["markdown"].read_text().startswith("# Leaderboard")


def test_layout_headline_intervals_counts_and_hidden(tmp_path):
    store = ResultStore(tmp_path / "r.sqlite")
    store.register_metrics([
        {"name": "attr", "higher_is_better": False, "set_level": True,
         "layout": {"headline": ["gender_err"]}, "directions": {"*_err": "lower"}},
        {"name": "fid", "higher_is_better": False, "set_level": True, "layout": {"counts": ["n", "ref=*.n"]}},
        {"name": "attr_pred", "higher_is_better": True, "layout": {"hidden": True}},
        {"name": "niqe", "higher_is_better": False},
        {"name": "niqe.flat_share", "higher_is_better": False},
    ])
    dataset = {"name": "utkface", "root": None, "options": {}, "synthetic": False}
    for method, err, fid in (("bicubic", 0.2, 50.0), ("bilinear", 0.3, 60.0)):
        run_id = store.open_run({"method": method, "dataset": dataset, "protocol": "x16", "seed": 0}, method=method,
                                dataset="utkface", protocol="x16", seed=0, synthetic=False, config={}, n_planned=1)
        store.write_batch(run_id, [SampleRecord("a", scores={"niqe": 5.0, "niqe.flat_share": 0.1, "attr_pred": 1.0})])
        store.register_run_metrics(run_id, {m: {"options": {}, "config": {"m": m}, "channels": {}}
                                            for m in ("attr", "fid")})
        store.write_batch(run_id, [], SetRows(members=[("attr", "a", None), ("fid", "a", None)]))
        store.write_set_results(run_id, "attr", {"gender_err": err, "gender_err_lo": err - 0.05,
                                                 "gender_err_hi": err + 0.05, "age_err": 0.5}, ["a"])
        store.write_set_results(run_id, "fid", {"value": fid, "n": 100, "ref=hq.n": 100}, ["a"])
        store.finish_run(run_id)
    store.close()
    md = to_markdown(build_tables(tmp_path / "r.sqlite"))
    header = next(line for line in md.splitlines() if line.startswith("| Method"))
    assert "attr.gender_err ↓" in header and "fid ↓" in header and "niqe ↓" in header
    assert "fid.n |" in header and "fid.ref=hq.n" in header and "fid.n ↓" not in header  # counts: no arrow
    assert "attr.age_err" not in header and "attr_pred" not in header and "flat_share" not in header
    row = next(line for line in md.splitlines() if line.startswith("| bicubic"))
    assert "**0.2000** [0.1500, 0.2500]" in row and "**50.00**" in row and "| 100 |" in row
    # the CSV keeps every column
    frame = pd.read_csv(write_leaderboard(tmp_path / "r.sqlite", tmp_path / "lb")["csv"])
    assert {"attr.age_err", "attr.gender_err_lo", "niqe.flat_share", "attr_pred", "fid.ref=hq.n"} <= set(frame.columns)


def test_trained_here_label_of_a_method_is_printed_under_its_table(tmp_path):
    from bench.api import leaderboard, run

    store = tmp_path / "s.sqlite"
    run(method="debiasfr", dataset="synthetic", dataset_options={"n": 2}, metrics="psnr", store=store, progress=False)
    run(method="bicubic", dataset="synthetic", dataset_options={"n": 2}, metrics="psnr", store=store, progress=False)
    text = leaderboard(store=store, out=tmp_path / "lb")["markdown"].read_text()
    assert "_debiasfr: tiny DebiasFR trained here" in text and "not the released one" in text
    assert "_bicubic:" not in text
