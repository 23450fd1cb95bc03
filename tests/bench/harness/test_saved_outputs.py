"""``--save-images``: a restored image that cannot be written (full disk) makes its row incomplete -- counted as
failed in the summary, the store and the leaderboard -- and a resume restores and saves it."""
import errno

from bench.harness import processing
from bench.harness.runner import Runner
from bench.harness.store import ResultStore


def _run(tmp_path):
    return Runner("bicubic", "synthetic", dataset_options={"n": 8}, metrics="psnr", degradation="x4",
                  store=tmp_path / "s.sqlite", out=tmp_path / "out", save_images=True, batch_size=4,
                  progress=False).run()


def test_failed_saves_are_failures_and_a_resume_saves_them(tmp_path, monkeypatch):
    real = processing.write_png
    refused = []

    def full_disk(path, image):
        if len(refused) < 3:  # the first three writes meet a full disk
            refused.append(path)
            raise OSError(errno.ENOSPC, "No space left on device")
        real(path, image)

    monkeypatch.setattr(processing, "write_png", full_disk)
    first = _run(tmp_path)
    assert (first.n_ok, first.n_failed) == (5, 3)
    assert sorted(stage for _, stage, _ in first.errors) == ["save"] * 3
    assert all("No space left on device" in cause and ".png" in cause for _, _, cause in first.errors)
    assert not list((tmp_path / "out").rglob("*.part"))  # no partial file left behind

    monkeypatch.setattr(processing, "write_png", real)
    second = _run(tmp_path)
    assert (second.n_skipped, second.n_processed, second.n_ok, second.n_failed) == (5, 3, 8, 0)
    with ResultStore(tmp_path / "s.sqlite", readonly=True) as store:
        rows = store.sample_rows(second.run_id)
        assert all(r["output_error"] is None and r["restored_path"] for r in rows)
        assert len(store.scores(second.run_id)) == 8  # the scores were kept, not recomputed twice
    assert len(list((tmp_path / "out").rglob("*.png"))) == 8
