"""bench runs list | ids | show | remove."""
import json

import bench

from bench.api import run
from bench.cli import main


def test_runs_list_ids_show_and_remove(tmp_path, capsys):
    store = tmp_path / "r.sqlite"
    a = run(method="bicubic", dataset="synthetic", dataset_options={"n": 6}, limit=4, store=store, progress=False)
    b = run(method="bilinear", dataset="synthetic", dataset_options={"n": 6}, limit=2, store=store, progress=False)
    capsys.readouterr()
    assert main(["runs", "list", "--store", str(store)]) == 0
    listing = capsys.readouterr().out
    assert a.run_id in listing and b.run_id in listing and "complete" in listing and bench.__version__ in listing
    assert main(["runs", "ids", a.run_id[:6], "--store", str(store)]) == 0
    ids_a = capsys.readouterr().out.split()
    assert main(["runs", "ids", b.run_id, "--store", str(store)]) == 0
    assert capsys.readouterr().out.split() == ids_a[:2]  # nested seeded subsets: the same faces first
    assert main(["runs", "show", a.run_id, "--store", str(store)]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["identity"]["selection"]["order"] == "random" and set(shown["metrics"]) == {"psnr", "ssim"}
    assert main(["runs", "remove", a.run_id, "--store", str(store)]) == 1  # without --yes: only says what
    assert "would remove run" in capsys.readouterr().out
    assert main(["runs", "remove", a.run_id, "--metric", "ssim", "--yes", "--store", str(store)]) == 0
    assert "removed metric 'ssim'" in capsys.readouterr().out
    again = run(method="bicubic", dataset="synthetic", dataset_options={"n": 6}, limit=4, store=store, progress=False)
    assert again.run_id == a.run_id and again.n_processed == 4 and "ssim" in again.metric_means  # recomputed
    assert main(["runs", "remove", a.run_id, "--yes", "--store", str(store)]) == 0
    capsys.readouterr()
    assert main(["runs", "ids", a.run_id, "--store", str(store)]) == 2
    assert "no run(s) with id" in capsys.readouterr().err
