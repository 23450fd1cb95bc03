import numpy as np

from bench.store import ResultStore, SampleRecord, decode_state, encode_state, run_id_for


def test_run_identity_is_stable_and_order_free():
    a = run_id_for({"method": "bicubic", "seed": 0, "dataset": {"name": "x", "root": None}})
    b = run_id_for({"seed": 0, "dataset": {"root": None, "name": "x"}, "method": "bicubic"})
    assert a == b and len(a) == 16
    assert a != run_id_for({"method": "bicubic", "seed": 1, "dataset": {"name": "x", "root": None}})


def test_state_roundtrip_refuses_nothing_but_arrays():
    state = {"sum": np.arange(5, dtype=np.float64), "n": np.array(3)}
    back = decode_state(encode_state(state))
    assert set(back) == {"sum", "n"} and np.array_equal(back["sum"], state["sum"]) and int(back["n"]) == 3


def test_batch_write_completed_and_errors(tmp_path):
    store = ResultStore(tmp_path / "r.sqlite")
    run_id = store.open_run({"k": 1}, method="m", dataset="d", protocol="p", seed=0, synthetic=False,
                            config={}, n_planned=3)
    store.register_metrics([{"name": "psnr", "higher_is_better": True, "unit": "dB"}])
    records = [SampleRecord("a", scores={"psnr": 30.0}), SampleRecord("b", scores={"psnr": float("inf")}),
               SampleRecord("c", status="error", stage="decode", error="/x/c.png: file is empty (0 bytes)")]
    store.write_batch(run_id, records)
    done = store.completed(run_id, ["psnr"], [])
    assert done == {"a": set(), "b": set(), "c": set()}
    # a metric requested later is missing for the ok samples, never for the failed one
    assert store.completed(run_id, ["psnr", "ssim"], []) == {"a": {"ssim"}, "b": {"ssim"}, "c": set()}
    summary = store.metric_summary(run_id)["psnr"]
    assert summary["mean"] == 30.0 and summary["n"] == 1 and summary["n_infinite"] == 1
    assert store.errors(run_id) == [("c", "decode", "/x/c.png: file is empty (0 bytes)")]
    # writing the same batch again replaces, never duplicates
    store.write_batch(run_id, records)
    assert len(store.scores(run_id)) == 2
    store.close()


def test_failed_transaction_leaves_nothing(tmp_path):
    store = ResultStore(tmp_path / "r.sqlite")
    run_id = store.open_run({"k": 1}, method="m", dataset="d", protocol="p", seed=0, synthetic=False,
                            config={}, n_planned=2)
    good = SampleRecord("a", scores={"psnr": 1.0})
    bad = SampleRecord("b", status="not-a-status")  # violates the CHECK constraint
    try:
        store.write_batch(run_id, [good, bad])
    except Exception:
        pass
    assert store.sample_rows(run_id) == [] and store.scores(run_id) == []
    store.close()
